package optim

import (
	"math"
	"unsafe"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
)

// ClipGradNorm rescales the gradients of params in place so that their
// total norm, taken over all of them together as if concatenated, is at
// most maxNorm, and returns the total norm before clipping, as PyTorch's
// clip_grad_norm_. normType is p > 0 for the p-norm (2 is usual) or
// math.Inf(1) for the largest absolute value. The gradients are multiplied
// by min(1, maxNorm/(norm+1e-6)). Parameters without a gradient are
// skipped; with none, the norm is 0. It panics with a *nabla.ValueError if
// normType is not positive.
//
// A gradient that is a non-contiguous view or shares storage with another
// parameter's gradient (as Backward can leave them) is replaced by a
// scaled copy; others are scaled where they are.
func ClipGradNorm(params []nn.Param, maxNorm, normType float64) float64 {
	if !(normType > 0) {
		panicValue("ClipGradNorm", "norm type %v is not positive", normType)
	}
	var total float64
	inf := math.IsInf(normType, 1)
	for _, p := range params {
		g := p.Tensor.Grad()
		if g == nil {
			continue
		}
		var n float64
		if g.DType() == nabla.Float64 && g.IsContiguous() {
			n = pnorm(g.Data64(), normType, inf)
		} else if g.IsContiguous() {
			n = pnorm(g.Data32(), normType, inf)
		} else {
			n = pnorm(g.Float64s(), normType, inf)
		}
		if inf {
			total = max(total, n)
		} else {
			total += math.Pow(n, normType)
		}
	}
	if !inf {
		total = math.Pow(total, 1/normType)
	}
	coef := maxNorm / (total + 1e-6)
	if coef < 1 || math.IsNaN(coef) {
		scaleGrads(params, coef, false)
	}
	return total
}

// pnorm returns the p-norm of v (the largest |v| when inf).
func pnorm[T float32 | float64](v []T, p float64, inf bool) float64 {
	var s float64
	switch {
	case inf:
		for _, x := range v {
			s = max(s, math.Abs(float64(x)))
		}
		return s
	case p == 2:
		// scaled to avoid overflow and underflow, as hypot
		var scale float64
		ssq := 1.0
		for _, x := range v {
			a := math.Abs(float64(x))
			if a == 0 {
				continue
			}
			if math.IsNaN(a) {
				return a
			}
			if scale < a {
				ssq = 1 + ssq*(scale/a)*(scale/a)
				scale = a
			} else {
				ssq += (a / scale) * (a / scale)
			}
		}
		if math.IsInf(scale, 1) {
			return scale
		}
		return scale * math.Sqrt(ssq)
	default:
		for _, x := range v {
			s += math.Pow(math.Abs(float64(x)), p)
		}
		return math.Pow(s, 1/p)
	}
}

// ClipGradValue clamps every element of the gradients of params to
// [-clip, clip] in place, as PyTorch's clip_grad_value_. Parameters without
// a gradient are skipped. It panics with a *nabla.ValueError if clip is
// negative. Aliased or non-contiguous gradients are handled as in
// [ClipGradNorm].
func ClipGradValue(params []nn.Param, clip float64) {
	if !(clip >= 0) {
		panicValue("ClipGradValue", "clip value %v is negative", clip)
	}
	scaleGrads(params, clip, true)
}

// scaleGrads multiplies every gradient element of params by coef, or with
// clip clamps it to [-c, c], in place. Gradients that are non-contiguous or
// overlap an earlier parameter's are first replaced by copies, all before
// any is changed, so that no storage is scaled twice.
func scaleGrads(params []nn.Param, c float64, clip bool) {
	for i, p := range params {
		if g := p.Tensor.Grad(); g != nil && (!g.IsContiguous() || aliased(params[:i], g)) {
			p.Tensor.SetGrad(copyTensor(g))
		}
	}
	for _, p := range params {
		g := p.Tensor.Grad()
		if g == nil {
			continue
		}
		if g.DType() == nabla.Float64 {
			scaleSlice(g.Data64(), c, clip)
		} else {
			scaleSlice(g.Data32(), c, clip)
		}
	}
}

func scaleSlice[T float32 | float64](d []T, c float64, clip bool) {
	v := T(c)
	if clip {
		for k, x := range d {
			d[k] = min(max(x, -v), v)
		}
		return
	}
	for k := range d {
		d[k] *= v
	}
}

// copyTensor returns a contiguous copy of t that shares nothing with it
// and records no graph.
func copyTensor(t *nabla.Tensor) *nabla.Tensor {
	if t.DType() == nabla.Float64 {
		return nabla.FromSlice(t.Float64s(), t.Shape()...)
	}
	return nabla.FromSlice(t.Float32s(), t.Shape()...)
}

// span returns the address range [lo, hi) of a contiguous tensor's data.
func span(t *nabla.Tensor) (lo, hi uintptr) {
	if t.Len() == 0 {
		return 0, 0
	}
	if t.DType() == nabla.Float64 {
		d := t.Data64()
		return uintptr(unsafe.Pointer(&d[0])), uintptr(unsafe.Pointer(&d[len(d)-1])) + 8
	}
	d := t.Data32()
	return uintptr(unsafe.Pointer(&d[0])), uintptr(unsafe.Pointer(&d[len(d)-1])) + 4
}

// sameStorage reports whether the contiguous tensors a and b overlap.
func sameStorage(a, b *nabla.Tensor) bool {
	if !a.IsContiguous() || !b.IsContiguous() {
		return false
	}
	alo, ahi := span(a)
	blo, bhi := span(b)
	return alo < bhi && blo < ahi
}

// aliased reports whether the contiguous gradient g overlaps the gradient
// of any of params.
func aliased(params []nn.Param, g *nabla.Tensor) bool {
	for _, p := range params {
		if h := p.Tensor.Grad(); h != nil && sameStorage(g, h) {
			return true
		}
	}
	return false
}
