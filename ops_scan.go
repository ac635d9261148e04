package nabla

import (
	"slices"

	"github.com/nabla-go/nabla/internal/loops"
)

// This file holds the running sum and the product, with their gradients.
// Their loops are in internal/loops/sortscan.go.

// CumSum returns the running sums of t along axis, as torch.cumsum: element
// i of the result is the sum of elements 0..i of its line. A float32 sum
// accumulates in float64 and rounds each result, as PyTorch's CPU kernel
// does. Integer and Bool tensors sum exactly into an Int64 result, as in
// PyTorch; Float16 and BFloat16 ones in float32, rounded back. The
// gradient is the running sum of the upstream gradient taken from the
// other end, itself differentiable. A 0-d tensor is its own running sum
// (axis 0 or -1).
func (t *Tensor) CumSum(axis int) *Tensor {
	if len(t.shape) == 0 {
		if axis != 0 && axis != -1 {
			t.axis("CumSum", axis) // panics with the usual message
		}
		return cumsum(t.Reshape(1), 0, false).Reshape()
	}
	return cumsum(t, t.axis("CumSum", axis), false)
}

// cumsum is CumSum along the normalised axis ax, from the last element when
// reverse (the gradient of the forward one, and the other way round).
func cumsum(t *Tensor, ax int, reverse bool) *Tensor {
	if t.dtype != Float32 && t.dtype != Float64 {
		return cumsumOther(t, ax, reverse) // ops_sort.go
	}
	outer, n, inner := blockDims(t.shape, ax, ax)
	var out *Tensor
	if t.dtype == Float64 {
		dst := make([]float64, outer*n*inner)
		loops.CumSum[float64, float64, float64](dst, t.Float64s(), outer, n, inner, reverse)
		out = FromSlice(dst, t.Shape()...)
	} else {
		dst := make([]float32, outer*n*inner)
		loops.CumSum[float32, float64, float32](dst, t.Float32s(), outer, n, inner, reverse)
		out = FromSlice(dst, t.Shape()...)
	}
	return record("CumSum", out, func(g, _ *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{cumsum(g, ax, !reverse)}
	}, t)
}

// ProdKeep returns the product of t's elements over the given axes (all
// when none), keeping each reduced axis with length 1, as torch.prod with
// keepdim. The product of no elements is 1. Integer and Bool tensors
// multiply in int64 (wrapping on overflow) into an Int64 result, as in
// PyTorch; Float16 and BFloat16 ones in float32, rounded back. The
// gradient of each element is the product of the others in its group,
// computed without dividing, so it is exact when some elements are zero
// (as PyTorch's is), and differentiable again.
func (t *Tensor) ProdKeep(axes ...int) *Tensor {
	ax := t.normAxes("Prod", axes)
	if t.dtype.isHalf() {
		return t.To(Float32).ProdKeep(axes...).To(t.dtype)
	}
	// Move the reduced axes last, in order, and reduce them as one.
	perm := make([]int, 0, len(t.shape))
	for i := range t.shape {
		if !slices.Contains(ax, i) {
			perm = append(perm, i)
		}
	}
	perm = append(perm, ax...)
	x := t
	if !isIdentity(perm) {
		x = t.Permute(perm...)
	}
	return prodLast(x, len(ax)).Reshape(keptShape(t.shape, ax)...)
}

// Prod returns the product of t's elements over the given axes (all when
// none), removing them; see [Tensor.ProdKeep].
func (t *Tensor) Prod(axes ...int) *Tensor {
	return squeezeAxes(t.ProdKeep(axes...), t.normAxes("Prod", axes))
}

func isIdentity(perm []int) bool {
	for i, p := range perm {
		if p != i {
			return false
		}
	}
	return true
}

// lastDims returns x's shape seen as (outer, n): the product of all but the
// last k dimensions and the product of those.
func lastDims(x *Tensor, k int) (outer, n int) {
	r := len(x.shape)
	return numel(x.shape[:r-k]), numel(x.shape[r-k:])
}

// prodLast is the product over x's last k axes, which it keeps with length
// 1.
func prodLast(x *Tensor, k int) *Tensor {
	if !x.dtype.IsFloat() {
		return prodInt(x, k) // ops_sort.go
	}
	outer, n := lastDims(x, k)
	shape := x.Shape()
	for i := len(shape) - k; i < len(shape); i++ {
		shape[i] = 1
	}
	var out *Tensor
	if x.dtype == Float64 {
		dst := make([]float64, outer)
		loops.Prod[float64, float64](dst, x.Float64s(), outer, n, 1)
		out = FromSlice(dst, shape...)
	} else {
		dst := make([]float32, outer)
		loops.Prod[float32, float32](dst, x.Float32s(), outer, n, 1)
		out = FromSlice(dst, shape...)
	}
	return record("Prod", out, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		x := in[0]
		return []*Tensor{g.BroadcastTo(x.shape...).Mul(prodOthers(x, k))}
	}, x)
}

// prodOthers returns, for each element of x, the product of the other
// elements of its group (the last k axes): the gradient of prodLast.
func prodOthers(x *Tensor, k int) *Tensor {
	outer, n := lastDims(x, k)
	var out *Tensor
	if x.dtype == Float64 {
		dst := make([]float64, outer*n)
		loops.ProdOthers(dst, x.Float64s(), outer, n, 1)
		out = FromSlice(dst, x.Shape()...)
	} else {
		dst := make([]float32, outer*n)
		loops.ProdOthers(dst, x.Float32s(), outer, n, 1)
		out = FromSlice(dst, x.Shape()...)
	}
	return record("ProdOthers", out, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		return []*Tensor{prodOthersGrad(g, in[0], k)}
	}, x)
}

// prodOthersGrad is the vector-Jacobian product of prodOthers: with x seen
// as (outer, n) rows, d others_i / d x_j is the product of the elements
// other than i and j (0 for j = i), so the gradient of x_j is
// sum over i != j of g_i * prod_{l != i, j} x_l. Row i of the (n, n)
// matrix M that is x with x_i replaced by 1 has prodOthers(M)[i][j] equal
// to that product for j != i; masking the diagonal gives the Jacobian.
// The matrix costs n^2 elements, but only in second-order gradients, and
// it is built with differentiable ops, so every order works.
func prodOthersGrad(g, x *Tensor, k int) *Tensor {
	outer, n := lastDims(x, k)
	eyeV := make([]float64, n*n)
	for i := 0; i < n; i++ {
		eyeV[i*n+i] = 1
	}
	eye := FromSlice(eyeV, n, n).To(x.dtype)
	off := FullOf(x.dtype, 1, n, n).Sub(eye)
	rows := x.Reshape(outer, 1, n).BroadcastTo(outer, n, n)
	m := rows.Mul(off).Add(eye)                  // x with x_i -> 1 in row i
	jac := prodOthers(m, 1).Mul(off)             // (outer, i, j)
	gr := g.Reshape(outer, n, 1).Mul(jac).Sum(1) // sum over i
	return gr.Reshape(x.shape...)
}
