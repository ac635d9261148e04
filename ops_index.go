package nabla

import (
	"strconv"
)

// This file holds the ops that select elements by index tensors. Index
// tensors hold whole numbers in a float dtype; they are never
// differentiated.

// checkIndices returns idx's values as ints, panicking with a *ValueError
// naming op if one is not a whole number in [0, n).
func checkIndices(op string, idx *Tensor, n int) []int {
	v := idx.Float64s()
	out := make([]int, len(v))
	for i, x := range v {
		k := int(x)
		if float64(k) != x || k < 0 || k >= n {
			panicValue(op, "index %v at position %d is out of range [0, %d)", x, i, n)
		}
		out[i] = k
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
	return indexSelect(t, ax, ix)
}

func indexSelect(t *Tensor, ax int, ix []int) *Tensor {
	shape := append([]int(nil), t.shape...)
	shape[ax] = len(ix)
	out := newShared(t.arena, t.dtype, shape, contiguousStrides(shape))
	src := t.contiguous()
	A, B := splitAt(t.shape, ax)
	R := t.shape[ax]
	if t.dtype == Float64 {
		selectLoop(out.f64, src.f64[src.offset:], A, R, B, ix)
	} else {
		selectLoop(out.f32, src.f32[src.offset:], A, R, B, ix)
	}
	return record("IndexSelect", out, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		return []*Tensor{indexAdd(g, in[0].shape, ax, ix)}
	}, t)
}

// indexAdd adds the slices of g along axis into zeros of shape at the
// positions ix: the adjoint of IndexSelect.
func indexAdd(g *Tensor, shape []int, ax int, ix []int) *Tensor {
	out := newZeroed(g.arena, g.dtype, shape, contiguousStrides(shape))
	src := g.contiguous()
	A, B := splitAt(shape, ax)
	R := shape[ax]
	if g.dtype == Float64 {
		addLoop(out.f64, src.f64[src.offset:], A, R, B, ix)
	} else {
		addLoop(out.f32, src.f32[src.offset:], A, R, B, ix)
	}
	return record("IndexAdd", out, func(gg, _ *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{indexSelect(gg, ax, ix)}
	}, g)
}

func selectLoop[T float32 | float64](dst, src []T, A, R, B int, ix []int) {
	K := len(ix)
	for a := 0; a < A; a++ {
		for k, r := range ix {
			copy(dst[(a*K+k)*B:(a*K+k+1)*B], src[(a*R+r)*B:(a*R+r+1)*B])
		}
	}
}

func addLoop[T float32 | float64](dst, src []T, A, R, B int, ix []int) {
	K := len(ix)
	for a := 0; a < A; a++ {
		for k, r := range ix {
			d := dst[(a*R+r)*B : (a*R+r+1)*B]
			for i, v := range src[(a*K+k)*B : (a*K+k+1)*B] {
				d[i] += v
			}
		}
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
	if t.dtype == Float64 {
		gatherLoop(out.f64, src.f64[src.offset:], A, R, B, K, ix)
	} else {
		gatherLoop(out.f32, src.f32[src.offset:], A, R, B, K, ix)
	}
	return record("Gather", out, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		return []*Tensor{scatterAdd(g, in[0].shape, ax, ix)}
	}, t)
}

// scatterAdd adds each entry of g into zeros of shape at the position
// along axis that ix names: the adjoint of Gather.
func scatterAdd(g *Tensor, shape []int, ax int, ix []int) *Tensor {
	out := newZeroed(g.arena, g.dtype, shape, contiguousStrides(shape))
	src := g.contiguous()
	A, B := splitAt(shape, ax)
	R, K := shape[ax], g.shape[ax]
	if g.dtype == Float64 {
		scatterLoop(out.f64, src.f64[src.offset:], A, R, B, K, ix)
	} else {
		scatterLoop(out.f32, src.f32[src.offset:], A, R, B, K, ix)
	}
	gshape := g.shape
	return record("ScatterAdd", out, func(gg, _ *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{gather(gg, ax, ix, gshape)}
	}, g)
}

func gatherLoop[T float32 | float64](dst, src []T, A, R, B, K int, ix []int) {
	for a := 0; a < A; a++ {
		for k := 0; k < K; k++ {
			for b := 0; b < B; b++ {
				p := (a*K+k)*B + b
				dst[p] = src[(a*R+ix[p])*B+b]
			}
		}
	}
}

func scatterLoop[T float32 | float64](dst, src []T, A, R, B, K int, ix []int) {
	for a := 0; a < A; a++ {
		for k := 0; k < K; k++ {
			for b := 0; b < B; b++ {
				p := (a*K+k)*B + b
				dst[(a*R+ix[p])*B+b] += src[p]
			}
		}
	}
}

// OneHot returns a float32 tensor of idx's shape plus a last axis of length
// n, with 1 at each index and 0 elsewhere. It panics with a *ValueError if
// an index is not a whole number in [0, n).
func OneHot(idx *Tensor, n int) *Tensor {
	ix := checkIndices("OneHot", idx, n)
	shape := append(append([]int(nil), idx.shape...), n)
	out := newTensor(Float32, shape)
	for i, k := range ix {
		out.f32[i*n+k] = 1
	}
	return out
}
