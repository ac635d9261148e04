package nabla

import (
	"slices"
	"strconv"
)

// This file holds the ops that change a tensor's shape or select part of it:
// most return views that share memory with their input.

// Reshape returns t with a new shape holding the same number of elements,
// in row-major order. One dimension may be -1 and is then inferred. The
// result is a view sharing memory when t is contiguous, and a copy
// otherwise. It panics with a *ShapeError if the sizes do not match.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	shape = append([]int(nil), shape...)
	infer := -1
	n := 1
	for i, d := range shape {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			panicShape("Reshape", "bad target dimension "+strconv.Itoa(d), t.shape, shape)
		default:
			n *= d
		}
	}
	if infer >= 0 {
		if n == 0 || t.Len()%n != 0 {
			panicShape("Reshape", "cannot infer the -1 dimension", t.shape, shape)
		}
		shape[infer] = t.Len() / n
		n = t.Len()
	}
	if n != t.Len() {
		panicShape("Reshape", strconv.Itoa(t.Len())+" elements do not fit "+strconv.Itoa(n), t.shape, shape)
	}
	if sameShape(shape, t.shape) {
		return t
	}
	src := t
	if !t.IsContiguous() {
		src = t.copyContiguous()
	}
	out := src.view(shape, contiguousStrides(shape), src.offset)
	return record("Reshape", out, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		return []*Tensor{g.Reshape(in[0].shape...)}
	}, t)
}

// Flatten returns t with dimensions start..end (inclusive; negative counts
// from the end) merged into one.
func (t *Tensor) Flatten(start, end int) *Tensor {
	if len(t.shape) == 0 {
		return t.Reshape(1)
	}
	s, e := t.axis("Flatten", start), t.axis("Flatten", end)
	if s > e {
		panicShape("Flatten", "start axis after end axis", t.shape)
	}
	shape := append([]int(nil), t.shape[:s]...)
	shape = append(shape, numel(t.shape[s:e+1]))
	shape = append(shape, t.shape[e+1:]...)
	return t.Reshape(shape...)
}

// permuteView returns the view of t with axes reordered by perm, recording
// nothing.
func (t *Tensor) permuteView(perm []int) *Tensor {
	shape := make([]int, len(perm))
	strides := make([]int, len(perm))
	for i, p := range perm {
		shape[i] = t.shape[p]
		strides[i] = t.strides[p]
	}
	return t.view(shape, strides, t.offset)
}

// Permute returns a view of t with its axes reordered: axis i of the result
// is axis perm[i] of t. It panics with a *ShapeError unless perm is a
// permutation of t's axes.
func (t *Tensor) Permute(perm ...int) *Tensor {
	if len(perm) != len(t.shape) {
		panicShape("Permute", "permutation "+shapeString(perm)+" does not match rank "+strconv.Itoa(len(t.shape)), t.shape)
	}
	seen := make([]bool, len(perm))
	p := make([]int, len(perm))
	for i, a := range perm {
		a = t.axis("Permute", a)
		if seen[a] {
			panicShape("Permute", "axis repeated in "+shapeString(perm), t.shape)
		}
		seen[a] = true
		p[i] = a
	}
	inv := make([]int, len(p))
	for i, a := range p {
		inv[a] = i
	}
	return record("Permute", t.permuteView(p), func(g, _ *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{g.Permute(inv...)}
	}, t)
}

// Transpose returns a view of t with axes a and b swapped.
func (t *Tensor) Transpose(a, b int) *Tensor {
	perm := make([]int, len(t.shape))
	for i := range perm {
		perm[i] = i
	}
	a, b = t.axis("Transpose", a), t.axis("Transpose", b)
	perm[a], perm[b] = perm[b], perm[a]
	return t.Permute(perm...)
}

// T returns the matrix transpose of t, swapping its last two axes; a tensor
// of rank 0 or 1 is returned as it is.
func (t *Tensor) T() *Tensor {
	if len(t.shape) < 2 {
		return t
	}
	return t.Transpose(-2, -1)
}

// Unsqueeze returns a view of t with a new axis of length 1 inserted at
// position axis (0..rank; negative counts from the end, -1 appends).
func (t *Tensor) Unsqueeze(axis int) *Tensor {
	r := len(t.shape)
	if axis < -r-1 || axis > r {
		panicShape("Unsqueeze", "axis "+strconv.Itoa(axis)+" out of range", t.shape)
	}
	if axis < 0 {
		axis += r + 1
	}
	stride := 1
	if axis < r {
		stride = t.strides[axis] * t.shape[axis]
	}
	shape := slices.Insert(append([]int(nil), t.shape...), axis, 1)
	strides := slices.Insert(append([]int(nil), t.strides...), axis, stride)
	return record("Unsqueeze", t.view(shape, strides, t.offset), func(g, _ *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{g.Squeeze(axis)}
	}, t)
}

// Squeeze returns a view of t without the given axes of length 1, or
// without every axis of length 1 when none are given. It panics with a
// *ShapeError if a given axis is not of length 1.
func (t *Tensor) Squeeze(axes ...int) *Tensor {
	var drop []int
	if len(axes) == 0 {
		for i, d := range t.shape {
			if d == 1 {
				drop = append(drop, i)
			}
		}
	} else {
		drop = t.normAxes("Squeeze", axes)
		for _, a := range drop {
			if t.shape[a] != 1 {
				panicShape("Squeeze", "axis "+strconv.Itoa(a)+" has length "+strconv.Itoa(t.shape[a]), t.shape)
			}
		}
	}
	if len(drop) == 0 {
		return t
	}
	var shape, strides []int
	for i := range t.shape {
		if !slices.Contains(drop, i) {
			shape = append(shape, t.shape[i])
			strides = append(strides, t.strides[i])
		}
	}
	return record("Squeeze", t.view(shape, strides, t.offset), func(g, _ *Tensor, in []*Tensor) []*Tensor {
		return []*Tensor{g.Reshape(in[0].shape...)}
	}, t)
}

// Contiguous returns t if its elements are already in row-major order
// without gaps, and otherwise a contiguous copy.
func (t *Tensor) Contiguous() *Tensor {
	if t.IsContiguous() {
		return t
	}
	return record("Contiguous", t.copyContiguous(), func(g, _ *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{g}
	}, t)
}

// sliceGeom returns the view geometry of t restricted along axis to
// start, start+step, ... below end.
func (t *Tensor) sliceGeom(axis, start, end, step int) (shape, strides []int, offset int) {
	shape = append([]int(nil), t.shape...)
	strides = append([]int(nil), t.strides...)
	n := 0
	if end > start {
		n = (end - start + step - 1) / step
	}
	shape[axis] = n
	strides[axis] *= step
	return shape, strides, t.offset + start*t.strides[axis]
}

// Slice returns a view of t restricted along axis to the elements start,
// start+step, ... below end, as t[..., start:end:step, ...] in NumPy.
// Negative start and end count from the end of the axis; they are clamped to
// its length. step must be positive.
func (t *Tensor) Slice(axis, start, end, step int) *Tensor {
	ax := t.axis("Slice", axis)
	if step <= 0 {
		panicShape("Slice", "step "+strconv.Itoa(step)+" is not positive", t.shape)
	}
	n := t.shape[ax]
	start, end = clampIndex(start, n), clampIndex(end, n)
	shape, strides, off := t.sliceGeom(ax, start, end, step)
	return record("Slice", t.view(shape, strides, off), func(g, _ *Tensor, in []*Tensor) []*Tensor {
		return []*Tensor{sliceBackward(g, in[0].shape, ax, start, end, step)}
	}, t)
}

func clampIndex(i, n int) int {
	if i < 0 {
		i += n
	}
	return min(max(i, 0), n)
}

// sliceBackward places g into zeros of shape at the positions a Slice with
// these arguments selects: the adjoint of Slice, and so its gradient.
func sliceBackward(g *Tensor, shape []int, axis, start, end, step int) *Tensor {
	out := newZeroed(g.arena, g.dtype, shape, contiguousStrides(shape))
	vshape, vstrides, off := out.sliceGeom(axis, start, end, step)
	src := g.contiguous()
	if out.Len() > 0 && g.Len() > 0 {
		storeLoops.of(g.dtype)(out, off, vshape, vstrides, src)
	}
	return record("SliceBackward", out, func(gg, _ *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{gg.Slice(axis, start, end, step)}
	}, g)
}

// Index returns the view of t at position i along axis, with that axis
// removed, as t[..., i, ...]. A negative i counts from the end.
func (t *Tensor) Index(axis, i int) *Tensor {
	ax := t.axis("Index", axis)
	n := t.shape[ax]
	if i < -n || i >= n {
		panicShape("Index", "index "+strconv.Itoa(i)+" out of range for axis "+strconv.Itoa(ax), t.shape)
	}
	if i < 0 {
		i += n
	}
	return t.Slice(ax, i, i+1, 1).Squeeze(ax)
}

// Concat joins tensors of the same shape except along axis. It panics with
// a *ShapeError if the other dimensions differ or no tensor is given.
func Concat(ts []*Tensor, axis int) *Tensor {
	if len(ts) == 0 {
		panicShape("Concat", "no tensors")
	}
	first := ts[0]
	ax := first.axis("Concat", axis)
	dt := first.dtype
	for _, x := range ts[1:] {
		dt = promote(dt, x.dtype)
	}
	shape := append([]int(nil), first.shape...)
	shape[ax] = 0
	shapes := make([][]int, len(ts))
	for i, x := range ts {
		shapes[i] = x.shape
		if len(x.shape) != len(first.shape) {
			panicShape("Concat", "ranks differ", shapes[:i+1]...)
		}
		for d := range x.shape {
			if d != ax && x.shape[d] != first.shape[d] {
				panicShape("Concat", "dimension "+strconv.Itoa(d)+" differs", shapes[:i+1]...)
			}
		}
		shape[ax] += x.shape[ax]
	}
	var ar *Arena
	for _, x := range ts {
		if ar == nil {
			ar = x.arena
		}
	}
	out := newShared(ar, dt, shape, contiguousStrides(shape))
	ins := make([]*Tensor, len(ts))
	starts := make([]int, len(ts)+1)
	for i, x := range ts {
		x = x.To(dt)
		ins[i] = x
		starts[i+1] = starts[i] + x.shape[ax]
		vshape, vstrides, off := out.sliceGeom(ax, starts[i], starts[i+1], 1)
		src := x.contiguous()
		if x.Len() > 0 {
			storeLoops.of(dt)(out, off, vshape, vstrides, src)
		}
	}
	return record("Concat", out, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		gs := make([]*Tensor, len(in))
		for i := range in {
			gs[i] = g.Slice(ax, starts[i], starts[i+1], 1)
		}
		return gs
	}, ins...)
}

// Stack joins tensors of the same shape along a new axis.
func Stack(ts []*Tensor, axis int) *Tensor {
	if len(ts) == 0 {
		panicShape("Stack", "no tensors")
	}
	us := make([]*Tensor, len(ts))
	for i, x := range ts {
		if !sameShape(x.shape, ts[0].shape) {
			panicShape("Stack", "shapes differ", ts[0].shape, x.shape)
		}
		us[i] = x.Unsqueeze(axis)
	}
	return Concat(us, axis)
}

// Split cuts t along axis into pieces of the given sizes, which must add up
// to the axis length. The pieces are views sharing memory with t.
func (t *Tensor) Split(axis int, sizes ...int) []*Tensor {
	ax := t.axis("Split", axis)
	total := 0
	for _, s := range sizes {
		if s < 0 {
			panicShape("Split", "negative size in "+shapeString(sizes), t.shape)
		}
		total += s
	}
	if total != t.shape[ax] {
		panicShape("Split", "sizes "+shapeString(sizes)+" do not add up to "+strconv.Itoa(t.shape[ax]), t.shape)
	}
	out := make([]*Tensor, len(sizes))
	at := 0
	for i, s := range sizes {
		out[i] = t.Slice(ax, at, at+s, 1)
		at += s
	}
	return out
}

// Chunk cuts t along axis into n pieces of equal length (the last may be
// shorter), as torch.chunk.
func (t *Tensor) Chunk(n, axis int) []*Tensor {
	ax := t.axis("Chunk", axis)
	if n <= 0 {
		panicShape("Chunk", "chunk count "+strconv.Itoa(n)+" is not positive", t.shape)
	}
	size := (t.shape[ax] + n - 1) / n
	var sizes []int
	for left := t.shape[ax]; left > 0; left -= size {
		sizes = append(sizes, min(size, left))
	}
	return t.Split(ax, sizes...)
}
