package nabla

// Arena recycles the memory of intermediate tensors between training steps.
//
// A training step allocates the same buffers every time: activations,
// gradients, temporaries. Tensors tagged with an arena (see
// [Tensor.InArena]) pass it on: every op whose input belongs to an arena
// takes its output's memory from that arena, and so does the backward pass
// behind them. [Arena.Reset] then hands all of that memory back for the next
// step at once, so a warm training loop allocates almost nothing for the
// garbage collector.
//
// The price is a rule: after Reset, every tensor made in the arena is
// invalid and its values will be overwritten by the next step. Read what you
// need (loss.Item(), accuracy) before Reset. Leaf gradients (Grad) are not
// in the arena: Backward accumulates them into memory of their own.
//
// An Arena is used by one goroutine at a time; give each training goroutine
// its own. The zero value is not usable; call [NewArena].
type Arena struct {
	free32 map[int][][]float32 // recycled buffers by length
	free64 map[int][][]float64
	freeI  map[int][][]int32
	used32 [][]float32 // handed out since the last Reset
	used64 [][]float64
	usedI  [][]int32 // index buffers, such as max pooling's argmax
}

// NewArena returns an empty arena.
func NewArena() *Arena {
	return &Arena{free32: map[int][][]float32{}, free64: map[int][][]float64{}, freeI: map[int][][]int32{}}
}

// InArena returns a view of t, sharing its memory, whose ops take their
// outputs' memory from ar. t's own memory stays where it is.
func (t *Tensor) InArena(ar *Arena) *Tensor {
	v := t.view(t.shape, t.strides, t.offset)
	v.arena = ar
	return record("InArena", v, func(g, _ *Tensor, _ []*Tensor) []*Tensor { return []*Tensor{g} }, t)
}

// Reset returns every buffer handed out since the last Reset to the arena.
// Tensors made in the arena must not be used afterwards.
func (ar *Arena) Reset() {
	for _, b := range ar.used32 {
		ar.free32[len(b)] = append(ar.free32[len(b)], b)
	}
	for _, b := range ar.used64 {
		ar.free64[len(b)] = append(ar.free64[len(b)], b)
	}
	for _, b := range ar.usedI {
		ar.freeI[len(b)] = append(ar.freeI[len(b)], b)
	}
	clear(ar.used32)
	clear(ar.used64)
	clear(ar.usedI)
	ar.used32 = ar.used32[:0]
	ar.used64 = ar.used64[:0]
	ar.usedI = ar.usedI[:0]
}

// get32 returns a buffer of n float32s, holding old values: callers that
// need zeros clear it (see newZeroed).
func (ar *Arena) get32(n int) []float32 {
	var b []float32
	if l := ar.free32[n]; len(l) > 0 {
		b = l[len(l)-1]
		l[len(l)-1] = nil
		ar.free32[n] = l[:len(l)-1]
	} else {
		b = make([]float32, n)
	}
	ar.used32 = append(ar.used32, b)
	return b
}

// getInt32 is get32 for int32 indices.
func (ar *Arena) getInt32(n int) []int32 {
	var b []int32
	if l := ar.freeI[n]; len(l) > 0 {
		b = l[len(l)-1]
		l[len(l)-1] = nil
		ar.freeI[n] = l[:len(l)-1]
	} else {
		b = make([]int32, n)
	}
	ar.usedI = append(ar.usedI, b)
	return b
}

// get64 is get32 for float64.
func (ar *Arena) get64(n int) []float64 {
	var b []float64
	if l := ar.free64[n]; len(l) > 0 {
		b = l[len(l)-1]
		l[len(l)-1] = nil
		ar.free64[n] = l[:len(l)-1]
	} else {
		b = make([]float64, n)
	}
	ar.used64 = append(ar.used64, b)
	return b
}

// arenaOf returns the arena of the first operand that has one.
func arenaOf(a, b *Tensor) *Arena {
	if a.arena != nil {
		return a.arena
	}
	return b.arena
}
