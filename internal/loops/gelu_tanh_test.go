package loops

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGeluTanhF32 checks the float32 fast paths of GeluTanh and its
// gradient against the float64 definitions, on a sweep of [-12, 12] and
// random normal inputs, with and without aliasing. The bound: 8 float32
// ulps of the terms' size, plus |z|·2⁻²¹ relative for the roundings of z = 2u, and
// 1e-37 absolute, where the result leaves float32's normal range.
func TestGeluTanhF32(t *testing.T) {
	rnd := rand.New(rand.NewPCG(9, 9))
	var x []float32
	for v := -12.0; v <= 12; v += 1.0 / 64 {
		x = append(x, float32(v))
	}
	for range 5000 {
		x = append(x, float32(rnd.NormFloat64()*3))
	}
	x = append(x, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 40, -40)
	g := make([]float32, len(x)) // finite upstream gradients
	for i := range g {
		g[i] = float32(rnd.NormFloat64())
	}
	// mag is the size of the terms a result is summed from: the result's
	// own for GeluTanh, |g|·(s + |x·s(1-s)·2u'|) for the gradient, which
	// crosses zero near x = -0.75
	check := func(name string, got []float32, want, mag func(i int) float64) {
		t.Helper()
		for i, v := range got {
			w := want(i)
			f := float64(x[i])
			z := math.Abs(2 * geluTanhC * (f + geluTanhA*f*f*f))
			tol := mag(i)*(8*0x1p-24+z*0x1p-21) + 1e-37
			if math.IsNaN(float64(v)) || math.Abs(float64(v)-w) > tol {
				t.Errorf("%s(%v): got %v; want %v (tolerance %.3g)", name, x[i], v, w, tol)
				return
			}
		}
	}
	// the references in the sigmoid form, in float64: the definition's
	// 1+tanh u cancels to 0 in the negative tail
	ref := func(i int) float64 {
		f := float64(x[i])
		return f / (1 + math.Exp(-2*geluTanhC*(f+geluTanhA*f*f*f)))
	}
	refGrad := func(i int) float64 {
		f := float64(x[i])
		sg := 1 / (1 + math.Exp(-2*geluTanhC*(f+geluTanhA*f*f*f)))
		return float64(g[i]) * (sg + f*sg*(1-sg)*2*geluTanhC*(1+3*geluTanhA*f*f))
	}
	refMag := func(i int) float64 { return math.Abs(ref(i)) }
	gradMag := func(i int) float64 {
		f := float64(x[i])
		sg := 1 / (1 + math.Exp(-2*geluTanhC*(f+geluTanhA*f*f*f)))
		return math.Abs(float64(g[i])) * (sg + math.Abs(f*sg*(1-sg)*2*geluTanhC*(1+3*geluTanhA*f*f)))
	}
	d := make([]float32, len(x))
	Unary(GeluTanh, d, x, 0)
	check("GeluTanh", d, ref, refMag)
	Binary(GeluTanhGrad, d, []int{len(x)}, g, 0, []int{1}, x, 0, []int{1})
	check("GeluTanhGrad", d, refGrad, gradMag)
	// in place, as the backward pass accumulates
	gc := append([]float32(nil), g...)
	Binary(GeluTanhGrad, gc, []int{len(x)}, gc, 0, []int{1}, x, 0, []int{1})
	check("GeluTanhGrad in place", gc, refGrad, gradMag)
	xc := append([]float32(nil), x...)
	Unary(GeluTanh, xc, xc, 0)
	check("GeluTanh in place", xc, ref, refMag)
}
