package nabla

import (
	"math"

	"github.com/nabla-go/nabla/internal/loops"
)

// This file holds the sorting and selecting ops on every dtype: Sort,
// ArgSort, TopK, Unique, BinCount, MaskedSelect and Nonzero, and the
// integer, Bool and half-precision paths of CumSum and Prod (ops_scan.go).
// Their loops are in internal/loops (sortkey.go, sortscan.go); a
// half-precision tensor is ordered and counted as its float32 values, which
// hold it exactly.
//
// Only values are differentiable: the gradient of Sort's and TopK's
// values scatters the upstream back by the indices (ops_index.go's
// scatterAdd, the adjoint of Gather), and MaskedSelect selects with the
// recorded IndexSelect, so gradients of every order flow back through
// those ops' rules. Indices, counts and positions are Int64 and never
// require grad.

// Sort returns t's elements sorted along dim (negative counts from the
// end) and the positions along dim they came from, as
// torch.sort(t, dim, descending, stable=True): ascending, or descending if
// descending, with equal elements in the order of their positions either
// way. NaN counts as larger than every number (last ascending, first
// descending) and -0 as equal to +0. values has t's dtype and shape,
// indices is Int64 of the same shape. The gradient of values flows back to
// t at the indices. A 0-d tensor is its own sort (dim 0 or -1). It panics
// with a *ShapeError if dim is out of range.
func (t *Tensor) Sort(dim int, descending bool) (values, indices *Tensor) {
	return t.topK("Sort", -1, dim, descending, true)
}

// ArgSort returns the Int64 positions that sort t along dim: the indices
// of [Tensor.Sort], computed without gathering the values.
func (t *Tensor) ArgSort(dim int, descending bool) *Tensor {
	if len(t.shape) == 0 {
		t.axis0("ArgSort", dim)
		return t.Reshape(1).ArgSort(0, descending).Reshape()
	}
	return sortIndices("ArgSort", t, -1, t.axis("ArgSort", dim), descending, true)
}

// TopK returns the k largest elements of t along dim (the k smallest if
// largest is false) and their Int64 positions along dim, as torch.topk:
// the results have t's shape with dim's length k. With sorted they come
// in sort order, the largest (or smallest) first; otherwise in the order
// of their positions in t. NaN counts as the largest value, as in
// [Tensor.Sort]. Equal elements are ordered by position, the lower
// position first and kept at the cut, so the sorted result is exactly the
// first k elements of t.Sort(dim, largest). (PyTorch 1.13 leaves the
// order of ties unspecified, and its CPU kernel returns some tied
// elements in descending position order: the values agree, and the
// indices wherever a value occurs once in its line.) The gradient of values
// flows back to t at the indices. It panics with a *ValueError if k is
// negative or larger than dim's length, and a *ShapeError if dim is out
// of range.
func (t *Tensor) TopK(k, dim int, largest, sorted bool) (values, indices *Tensor) {
	if k < 0 {
		panicValue("TopK", "k = %d is negative", k)
	}
	return t.topK("TopK", k, dim, largest, sorted)
}

// axis0 checks the dim of an op on a 0-d tensor, which may be 0 or -1, as
// in PyTorch.
func (t *Tensor) axis0(op string, dim int) {
	if dim != 0 && dim != -1 {
		t.axis(op, dim) // panics with the usual message
	}
}

// topK is Sort (k < 0: all) and TopK: the first k elements of each line
// of t along dim in stable sort order, and their positions. The loop
// writes the values beside the indices, except for half-precision t, which
// is ordered by its float32 values and gathered.
func (t *Tensor) topK(op string, k, dim int, descending, sorted bool) (values, indices *Tensor) {
	if len(t.shape) == 0 {
		t.axis0(op, dim)
		v, i := t.Reshape(1).topK(op, k, 0, descending, sorted)
		if k == 0 {
			// No element: shape (0), as a 0-d result cannot hold none
			// (PyTorch 1.13 returns the 0-d tensor itself for k = 0).
			return v, i
		}
		return v.Reshape(), i.Reshape()
	}
	ax := t.axis(op, dim)
	if t.dtype.isHalf() {
		idx := sortIndices(op, t, k, ax, descending, sorted)
		return gather(t, ax, int64sToInts(idx), idx.shape), idx
	}
	k = checkK(op, t, k, ax)
	shape := t.Shape()
	shape[ax] = k
	idx := newTensor(Int64, shape)
	out := newShared(t.arena, t.dtype, shape, contiguousStrides(shape))
	runTopK(idx, out, t.contiguous(), k, ax, descending, sorted)
	// The gradient scatters the upstream to the positions the values came
	// from: the adjoint of Gather, whose own backward gathers again.
	bw := func(g, _ *Tensor, in []*Tensor) []*Tensor {
		return []*Tensor{scatterAdd(g, in[0].shape, ax, int64sToInts(idx))}
	}
	if op == "TopK" {
		return record("TopK", out, bw, t), idx
	}
	return record("Sort", out, bw, t), idx
}

// checkK returns the number of elements to keep along axis ax of t: k, or
// all of them if k < 0. It panics with a *ValueError naming op if k is
// larger than the axis, or the axis too long for the loops.
func checkK(op string, t *Tensor, k, ax int) int {
	n := t.shape[ax]
	switch {
	case k < 0:
		k = n
	case k > n:
		panicValue(op, "k = %d is larger than the %d elements of dimension %d", k, n, ax)
	}
	if n > math.MaxInt32 {
		panicValue(op, "dimension %d has %d elements; at most 2^31-1 can be sorted", ax, n)
	}
	return k
}

// sortIndices returns, as an Int64 tensor of t's shape with axis ax of
// length k (all of it if k < 0), the positions of the first k elements of
// each line along ax in stable sort order, or in position order if
// !sorted.
func sortIndices(op string, t *Tensor, k, ax int, descending, sorted bool) *Tensor {
	k = checkK(op, t, k, ax)
	shape := t.Shape()
	shape[ax] = k
	idx := newTensor(Int64, shape)
	src := t.contiguous()
	if src.dtype.isHalf() {
		src = widened(src)
	}
	runTopK(idx, nil, src, k, ax, descending, sorted)
	return idx
}

// runTopK runs loops.TopKIndex along axis ax of the contiguous src,
// writing the positions into idx and, if vals is not nil, the values into
// vals (of src's dtype).
func runTopK(idx, vals, src *Tensor, k, ax int, descending, sorted bool) {
	outer, n, inner := blockDims(src.shape, ax, ax)
	topKLoops.of(src.dtype)(idx, vals, src, outer, n, inner, k, descending, sorted)
}

func topKOf[T loops.Real](idx, vals, src *Tensor, outer, n, inner, k int, descending, sorted bool) {
	var v []T
	if vals != nil {
		v = storage[T](vals)
	}
	loops.TopKIndex(storage[int64](idx), v, values[T](src), outer, n, inner, k, descending, sorted)
}

var topKLoops = byReal[func(idx, vals, src *Tensor, outer, n, inner, k int, descending, sorted bool)]{topKOf[float32], topKOf[float64], topKOf[int64], topKOf[int32], topKOf[uint8]}

// int64sToInts returns the Int64 tensor idx's values as ints, for the
// index loops of ops_index.go.
func int64sToInts(idx *Tensor) []int {
	v := storage[int64](idx)
	out := make([]int, len(v))
	for i, p := range v {
		out[i] = int(p)
	}
	return out
}

// widened returns the contiguous half-precision t's values as a new
// contiguous Float32 tensor (not recorded: for ordering and counting).
func widened(t *Tensor) *Tensor {
	return &Tensor{dtype: Float32, f32: widen(t), shape: t.shape, strides: contiguousStrides(t.shape)}
}

// Unique returns the distinct values of t in ascending order as a 1-d
// tensor of t's dtype, as torch.unique(t, sorted=True). NaN is not equal
// to anything, so each NaN is a value of its own, sorted last. It is not
// differentiable.
func (t *Tensor) Unique() *Tensor {
	values, _, _ := t.UniqueCounts()
	return values
}

// UniqueCounts returns the values of [Tensor.Unique] with, for each
// element of t, the position of its value among them (inverse: Int64, of
// t's shape, so that values.IndexSelect(0, inverse.Reshape(-1)) gives t's
// elements back) and how often each value occurs (counts: Int64, one per
// value), as torch.unique(t, sorted=True, return_inverse=True,
// return_counts=True). None of them is differentiable.
func (t *Tensor) UniqueCounts() (values, inverse, counts *Tensor) {
	src := t.contiguous()
	if src.dtype.isHalf() {
		src = widened(src)
	}
	v, inv, cnt := uniqueLoops.of(src.dtype)(src)
	if t.dtype.isHalf() {
		v = v.To(t.dtype) // exact: every value is one of t's
	}
	return v, FromSlice(inv, t.Shape()...), FromSlice(cnt, len(cnt))
}

// uniqueOf runs loops.Unique on the contiguous src, returning the values
// as a tensor of src's dtype.
func uniqueOf[T loops.Real](src *Tensor) (*Tensor, []int64, []int64) {
	v, inv, cnt := loops.Unique(values[T](src))
	out := newTensor(src.dtype, []int{len(v)})
	copy(storage[T](out), v)
	return out, inv, cnt
}

var uniqueLoops = byReal[func(src *Tensor) (*Tensor, []int64, []int64)]{uniqueOf[float32], uniqueOf[float64], uniqueOf[int64], uniqueOf[int32], uniqueOf[uint8]}

// BinCount counts the occurrences of each value in the 1-d integer tensor
// t (Int64, Int32 or Uint8, every value non-negative), as torch.bincount:
// element i of the result is the number of elements of t equal to i, as
// Int64, or, with weights (a tensor of t's shape; nil for none), the sum
// of their weights, as Float32 for Float32 weights and Float64 for
// weights of any other dtype (as PyTorch). The result has max(t)+1
// elements, or minlength if that is more. An empty t gives minlength Int64
// zeros, with or without weights, as PyTorch 1.13 does. It is not
// differentiable (PyTorch defines no gradient for it either). It panics
// with a *ValueError if t is not of an integer dtype, holds a negative
// value, or minlength is negative, and a *ShapeError if t is not 1-d or
// weights has another shape.
func (t *Tensor) BinCount(weights *Tensor, minlength int) *Tensor {
	const op = "BinCount"
	if !t.dtype.IsInt() {
		panicValue(op, "input is %v; bincount counts int64, int32 or uint8 values (convert with .To(nabla.Int64))", t.dtype)
	}
	if len(t.shape) != 1 {
		panicShape(op, "input must be 1-d", t.shape)
	}
	if minlength < 0 {
		panicValue(op, "minlength %d is negative", minlength)
	}
	if weights != nil && !sameShape(weights.shape, t.shape) {
		panicShape(op, "weights must have the input's shape", t.shape, weights.shape)
	}
	x := t.Int64s()
	if len(x) == 0 {
		return ZerosOf(Int64, minlength)
	}
	size := minlength
	for i, v := range x {
		if v < 0 {
			panicValue(op, "value %d at position %d is negative; bincount counts non-negative integers", v, i)
		}
		size = max(size, int(v)+1)
	}
	switch {
	case weights == nil:
		out := newTensor(Int64, []int{size})
		loops.BinCount[int64, int64](storage[int64](out), x, nil)
		return out
	case weights.dtype == Float32:
		out := newTensor(Float32, []int{size})
		loops.BinCount(out.f32, x, weights.Float32s())
		return out
	}
	out := newTensor(Float64, []int{size})
	loops.BinCount(out.f64, x, weights.Float64s())
	return out
}

// MaskedSelect returns the elements of t where mask, a Bool tensor, is
// true, as a 1-d tensor of t's dtype in row-major order, as
// torch.masked_select. t and mask broadcast against each other first, so
// a mask of shape (6) picks the same columns of every row of a (2, 6)
// tensor. The gradient flows back to the selected elements of t (summed
// where t was broadcast). It panics with a *ValueError if mask is not Bool
// and a *ShapeError if the shapes do not broadcast.
func (t *Tensor) MaskedSelect(mask *Tensor) *Tensor {
	if mask.dtype != Bool {
		panicValue("MaskedSelect", "mask is %v, want bool", mask.dtype)
	}
	shape := broadcastShapes("MaskedSelect", t.shape, mask.shape)
	m := values[uint8](mask.BroadcastTo(shape...).contiguous())
	pos := make([]int, 0, loops.CountNonzero(m))
	for i, b := range m {
		if b != 0 {
			pos = append(pos, i)
		}
	}
	flat := t.BroadcastTo(shape...).Reshape(numel(shape))
	return indexSelect(flat, 0, pos, flat.arena)
}

// Nonzero returns the coordinates of t's nonzero elements (true ones for
// Bool; NaN is nonzero) as an Int64 tensor of shape (count, t.Dim()), one
// row per element in row-major order, as torch.nonzero. A 0-d tensor gives
// shape (1, 0) or (0, 0). It is not differentiable.
func (t *Tensor) Nonzero() *Tensor {
	src := t.contiguous()
	if src.dtype.isHalf() {
		src = widened(src)
	}
	return nonzeroLoops.of(src.dtype)(src)
}

func nonzeroOf[T loops.Real](src *Tensor) *Tensor {
	v := values[T](src)
	out := newTensor(Int64, []int{loops.CountNonzero(v), len(src.shape)})
	loops.Nonzero(storage[int64](out), v, src.shape)
	return out
}

var nonzeroLoops = byReal[func(src *Tensor) *Tensor]{nonzeroOf[float32], nonzeroOf[float64], nonzeroOf[int64], nonzeroOf[int32], nonzeroOf[uint8]}

// cumsumOther is CumSum along the normalised axis ax (from the end if
// reverse) of a tensor that is neither Float32 nor Float64, with
// PyTorch's result dtypes: integer and Bool tensors sum exactly (wrapping
// past 2^63) into Int64; Float16 and BFloat16 ones are summed in float32
// and rounded back.
func cumsumOther(t *Tensor, ax int, reverse bool) *Tensor {
	if t.dtype.isHalf() {
		return cumsum(t.To(Float32), ax, reverse).To(t.dtype)
	}
	outer, n, inner := blockDims(t.shape, ax, ax)
	out := newTensor(Int64, t.Shape())
	cumsumIntLoops.of(t.dtype)(storage[int64](out), t.contiguous(), outer, n, inner, reverse)
	return out
}

func cumsumIntOf[T loops.Real](dst []int64, src *Tensor, outer, n, inner int, reverse bool) {
	loops.CumSum[T, int64, int64](dst, values[T](src), outer, n, inner, reverse)
}

// cumsumIntLoops and prodIntLoops have no float entries: the floats have
// their own paths.
var cumsumIntLoops = byReal[func(dst []int64, src *Tensor, outer, n, inner int, reverse bool)]{i64: cumsumIntOf[int64], i32: cumsumIntOf[int32], u8: cumsumIntOf[uint8]}

// prodInt is prodLast for an integer or Bool x: the product over its last
// k axes (kept with length 1) in int64, wrapping on overflow, as an Int64
// tensor, as PyTorch.
func prodInt(x *Tensor, k int) *Tensor {
	outer, n := lastDims(x, k)
	shape := x.Shape()
	for i := len(shape) - k; i < len(shape); i++ {
		shape[i] = 1
	}
	out := newTensor(Int64, shape)
	prodIntLoops.of(x.dtype)(storage[int64](out), x.contiguous(), outer, n)
	return out
}

func prodIntOf[T loops.Real](dst []int64, src *Tensor, outer, n int) {
	loops.Prod[T, int64](dst, values[T](src), outer, n, 1)
}

var prodIntLoops = byReal[func(dst []int64, src *Tensor, outer, n int)]{i64: prodIntOf[int64], i32: prodIntOf[int32], u8: prodIntOf[uint8]}
