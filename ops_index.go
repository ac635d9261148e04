package nabla

import (
	"strconv"

	"github.com/nabla-go/nabla/internal/kernel"
	"github.com/nabla-go/nabla/internal/loops"
)

// This file holds the ops that select elements by index tensors. Index
// tensors are Int64 (or Int32), as in PyTorch; they are never
// differentiated. The values they select may have any dtype.

// checkIndices returns idx's values as ints, panicking with a *ValueError
// naming op if idx is not an Int64 or Int32 tensor or an index is not in
// [0, n). As in PyTorch's gather, index_select and embedding, negative
// indices are out of range.
func checkIndices(op string, idx *Tensor, n int) []int {
	if idx.dtype != Int64 && idx.dtype != Int32 {
		if idx.dtype.IsFloat() {
			panicValue(op, "index tensor is %v; indices must be int64 or int32: convert with .To(nabla.Int64)", idx.dtype)
		}
		panicValue(op, "index tensor is %v; indices must be int64 or int32", idx.dtype)
	}
	v := idx.Int64s()
	out := make([]int, len(v))
	for i, x := range v {
		if x < 0 || x >= int64(n) {
			panicValue(op, "index %d at position %d is out of range for size %d", x, i, n)
		}
		out[i] = int(x)
	}
	return out
}

// splitAt returns the products of the dimensions before and after axis.
func splitAt(shape []int, axis int) (outer, inner int) {
	return numel(shape[:axis]), numel(shape[axis+1:])
}

// IndexSelect returns the entries of t at the positions idx (a 1-d tensor)
// along axis, as torch.index_select: the result has t's shape with that
// axis's length replaced by len(idx). It panics with a *ValueError if an
// index is out of range.
func (t *Tensor) IndexSelect(axis int, idx *Tensor) *Tensor {
	ax := t.axis("IndexSelect", axis)
	if idx.Dim() != 1 {
		panicShape("IndexSelect", "index must be 1-d", t.shape, idx.shape)
	}
	ix := checkIndices("IndexSelect", idx, t.shape[ax])
	// The indices' arena counts too: an embedding's lookup of a batch in
	// an arena (a weight never is) takes its output from it.
	return indexSelect(t, ax, ix, arenaOf(t, idx))
}

func indexSelect(t *Tensor, ax int, ix []int, ar *Arena) *Tensor {
	shape := append([]int(nil), t.shape...)
	shape[ax] = len(ix)
	out := newShared(ar, t.dtype, shape, contiguousStrides(shape))
	src := t.contiguous()
	A, B := splitAt(t.shape, ax)
	R := t.shape[ax]
	selectLoops.of(t.dtype)(out, src, A, R, B, ix)
	return record("IndexSelect", out, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		return []*Tensor{indexAdd(g, in[0].shape, ax, ix)}
	}, t)
}

// indexAdd adds the slices of g along axis into zeros of shape at the
// positions ix: the adjoint of IndexSelect.
func indexAdd(g *Tensor, shape []int, ax int, ix []int) *Tensor {
	if g.dtype.isHalf() {
		return indexAdd(g.To(Float32), shape, ax, ix).To(g.dtype)
	}
	out := newZeroed(g.arena, g.dtype, shape, contiguousStrides(shape))
	src := g.contiguous()
	A, B := splitAt(shape, ax)
	R := shape[ax]
	addLoops.of(g.dtype)(out, src, A, R, B, ix)
	return record("IndexAdd", out, func(gg, _ *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{indexSelect(gg, ax, ix, gg.arena)}
	}, g)
}

func selectOf[T elem](out, src *Tensor, A, R, B int, ix []int) {
	selectLoop(storage[T](out), storage[T](src)[src.offset:], A, R, B, ix)
}

var selectLoops = byElem[func(out, src *Tensor, A, R, B int, ix []int)]{selectOf[float32], selectOf[float64], selectOf[int64], selectOf[int32], selectOf[uint8], selectOf[uint16]}

func addOf[T loops.Real](out, src *Tensor, A, R, B int, ix []int) {
	addLoop(storage[T](out), storage[T](src)[src.offset:], A, R, B, ix)
}

var addLoops = byReal[func(out, src *Tensor, A, R, B int, ix []int)]{addOf[float32], addOf[float64], addOf[int64], addOf[int32], addOf[uint8]}

// indexParallelElems is the size (elements moved) from which IndexSelect
// and its adjoint split their rows between the workers: an embedding
// lookup of 4096 ids of 256 floats (W6's and the OPS case's shape) is
// bound by memory bandwidth, which two cores nearly double here.
const indexParallelElems = 1 << 16

func selectLoop[T elem](dst, src []T, A, R, B int, ix []int) {
	K := len(ix)
	rows := func(lo, hi int) {
		for ak := lo; ak < hi; ak++ {
			a, r := ak/K, ix[ak%K]
			copy(dst[ak*B:(ak+1)*B], src[(a*R+r)*B:(a*R+r+1)*B])
		}
	}
	if A*K*B < indexParallelElems || K == 0 {
		rows(0, A*K)
		return
	}
	kernel.ParallelFor(A*K, max(1, indexParallelElems/(4*max(B, 1))), rows)
}

// addLoop adds the slices of src into dst at the rows ix. Split between
// the workers by destination row, each scanning every index and taking
// the ones in its own rows, so that every row sums its slices in the same
// order at any thread count (bit-identical results) and no two workers
// write the same row.
func addLoop[T loops.Real](dst, src []T, A, R, B int, ix []int) {
	K := len(ix)
	rows := func(lo, hi int) {
		for a := 0; a < A; a++ {
			for k, r := range ix {
				if r < lo || r >= hi {
					continue
				}
				addRow(dst[(a*R+r)*B:(a*R+r+1)*B], src[(a*K+k)*B:(a*K+k+1)*B])
			}
		}
	}
	if A*K*B < indexParallelElems || R < 2 {
		rows(0, R)
		return
	}
	kernel.ParallelFor(R, 1, rows)
}

// addRow sets d += s, with the vector kernel for float32.
func addRow[T loops.Real](d, s []T) {
	if df, ok := any(d).([]float32); ok {
		kernel.AddF32(df, df, any(s).([]float32))
		return
	}
	for i, v := range s {
		d[i] += v
	}
}

// Gather picks, along axis, the entry of t named by idx at every position:
// out[i][j][k] = t[i][idx[i][j][k]][k] for axis 1, as torch.gather. idx
// must have t's shape except along axis, where it may have any length; the
// result has idx's shape.
func (t *Tensor) Gather(axis int, idx *Tensor) *Tensor {
	ax := t.axis("Gather", axis)
	if len(idx.shape) != len(t.shape) {
		panicShape("Gather", "index rank differs", t.shape, idx.shape)
	}
	for d := range t.shape {
		if d != ax && idx.shape[d] != t.shape[d] {
			panicShape("Gather", "index dimension "+strconv.Itoa(d)+" differs", t.shape, idx.shape)
		}
	}
	ix := checkIndices("Gather", idx, t.shape[ax])
	return gather(t, ax, ix, idx.shape)
}

func gather(t *Tensor, ax int, ix []int, ishape []int) *Tensor {
	shape := append([]int(nil), ishape...)
	out := newShared(t.arena, t.dtype, shape, contiguousStrides(shape))
	src := t.contiguous()
	A, B := splitAt(t.shape, ax)
	R, K := t.shape[ax], ishape[ax]
	gatherLoops.of(t.dtype)(out, src, A, R, B, K, ix)
	return record("Gather", out, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		return []*Tensor{scatterAdd(g, in[0].shape, ax, ix)}
	}, t)
}

// scatterAdd adds each entry of g into zeros of shape at the position
// along axis that ix names: the adjoint of Gather.
func scatterAdd(g *Tensor, shape []int, ax int, ix []int) *Tensor {
	if g.dtype.isHalf() {
		return scatterAdd(g.To(Float32), shape, ax, ix).To(g.dtype)
	}
	out := newZeroed(g.arena, g.dtype, shape, contiguousStrides(shape))
	src := g.contiguous()
	A, B := splitAt(shape, ax)
	R, K := shape[ax], g.shape[ax]
	scatterLoops.of(g.dtype)(out, src, A, R, B, K, ix, true)
	gshape := g.shape
	return record("ScatterAdd", out, func(gg, _ *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{gather(gg, ax, ix, gshape)}
	}, g)
}

func gatherOf[T elem](out, src *Tensor, A, R, B, K int, ix []int) {
	gatherLoop(storage[T](out), storage[T](src)[src.offset:], A, R, B, K, ix)
}

var gatherLoops = byElem[func(out, src *Tensor, A, R, B, K int, ix []int)]{gatherOf[float32], gatherOf[float64], gatherOf[int64], gatherOf[int32], gatherOf[uint8], gatherOf[uint16]}

// scatterOf adds (add) or writes the entries of src into out at ix.
func scatterOf[T loops.Real](out, src *Tensor, A, R, B, K int, ix []int, add bool) {
	scatterLoop(storage[T](out), storage[T](src)[src.offset:], A, R, B, K, ix, add)
}

var scatterLoops = byReal[func(out, src *Tensor, A, R, B, K int, ix []int, add bool)]{scatterOf[float32], scatterOf[float64], scatterOf[int64], scatterOf[int32], scatterOf[uint8]}

func gatherLoop[T elem](dst, src []T, A, R, B, K int, ix []int) {
	for a := 0; a < A; a++ {
		for k := 0; k < K; k++ {
			for b := 0; b < B; b++ {
				p := (a*K+k)*B + b
				dst[p] = src[(a*R+ix[p])*B+b]
			}
		}
	}
}

func scatterLoop[T loops.Real](dst, src []T, A, R, B, K int, ix []int, add bool) {
	for a := 0; a < A; a++ {
		for k := 0; k < K; k++ {
			for b := 0; b < B; b++ {
				p := (a*K+k)*B + b
				if add {
					dst[(a*R+ix[p])*B+b] += src[p]
				} else {
					dst[(a*R+ix[p])*B+b] = src[p]
				}
			}
		}
	}
}

// OneHot returns an Int64 tensor of idx's shape plus a last axis of length
// n, with 1 at each index and 0 elsewhere, as torch.nn.functional.one_hot
// (convert it with To for a float target). It panics with a *ValueError if
// idx is not an integer tensor or an index is not in [0, n).
func OneHot(idx *Tensor, n int) *Tensor {
	ix := checkIndices("OneHot", idx, n)
	shape := append(append([]int(nil), idx.shape...), n)
	out := newTensor(Int64, shape)
	o := storage[int64](out)
	for i, k := range ix {
		o[i*n+k] = 1
	}
	return out
}

// checkScatter checks the operands of Scatter and ScatterAdd: idx and src
// have one shape, equal to t's except along axis.
func checkScatter(op string, t *Tensor, axis int, idx, src *Tensor) (int, []int) {
	ax := t.axis(op, axis)
	if !sameShape(idx.shape, src.shape) {
		panicShape(op, "index and source shapes differ", idx.shape, src.shape)
	}
	if len(idx.shape) != len(t.shape) {
		panicShape(op, "index rank differs", t.shape, idx.shape)
	}
	for d := range t.shape {
		if d != ax && idx.shape[d] != t.shape[d] {
			panicShape(op, "index dimension "+strconv.Itoa(d)+" differs", t.shape, idx.shape)
		}
	}
	return ax, checkIndices(op, idx, t.shape[ax])
}

// ScatterAdd returns a copy of t with each entry of src added at the
// position along axis that idx names, as torch.scatter_add: for axis 1,
// out[i][idx[i][j][k]][k] += src[i][j][k]. idx (Int64 or Int32) and src
// have one shape, t's except along axis. src is converted to t's dtype.
// The gradient flows to t (unchanged) and to src (gathered).
func (t *Tensor) ScatterAdd(axis int, idx, src *Tensor) *Tensor {
	ax, ix := checkScatter("ScatterAdd", t, axis, idx, src)
	if t.dtype.isHalf() {
		return t.To(Float32).ScatterAdd(axis, idx, src.To(Float32)).To(t.dtype)
	}
	src = src.To(t.dtype)
	return t.Add(scatterAdd(src, t.shape, ax, ix))
}

// Scatter returns a copy of t with the entries of src written at the
// positions along axis that idx names, as torch.scatter: for axis 1,
// out[i][idx[i][j][k]][k] = src[i][j][k]. Where idx names a position more
// than once, the last write (in row-major order of idx) wins. The gradient
// flows to t where it is not overwritten and to src (gathered).
func (t *Tensor) Scatter(axis int, idx, src *Tensor) *Tensor {
	ax, ix := checkScatter("Scatter", t, axis, idx, src)
	if t.dtype.isHalf() {
		return t.To(Float32).Scatter(axis, idx, src.To(Float32)).To(t.dtype)
	}
	src = src.To(t.dtype)
	return scatterRaw(t, src, ax, ix)
}

func scatterRaw(t, src *Tensor, ax int, ix []int) *Tensor {
	out := t.copyContiguous()
	s := src.contiguous()
	A, B := splitAt(t.shape, ax)
	scatterLoops.of(t.dtype)(out, s, A, t.shape[ax], B, s.shape[ax], ix, false)
	ishape := src.shape
	return record("Scatter", out, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		var gt, gs *Tensor
		if wantsGrad(in[0]) {
			gt = scatterRaw(g, ZerosLike(in[1]), ax, ix)
		}
		if wantsGrad(in[1]) {
			gs = gather(g, ax, ix, ishape)
		}
		return []*Tensor{gt, gs}
	}, t, src)
}

// MaskedFill returns a copy of t with value (a 0-d tensor, or one that
// broadcasts to t) where mask, a Bool tensor that broadcasts to t, is true,
// as torch.masked_fill. The result has t's dtype. The gradient flows to t
// where mask is false and to value where it is true.
func (t *Tensor) MaskedFill(mask, value *Tensor) *Tensor {
	if mask.dtype != Bool {
		panicValue("MaskedFill", "mask is %v, want bool", mask.dtype)
	}
	if !sameShape(broadcastShapes("MaskedFill", t.shape, mask.shape), t.shape) {
		panicShape("MaskedFill", "mask does not broadcast to the tensor", t.shape, mask.shape)
	}
	return Where(mask, value.To(t.dtype), t)
}
