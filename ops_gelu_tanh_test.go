package nabla_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/nabla-go/nabla"
)

// TestGeluTanhValues checks GeluTanh and its gradient in both dtypes at
// points of known value and, elsewhere, against the definition evaluated
// here in float64 (float32 within a relative 1e-6, which the float32
// rounding of input and output allows): 0 and -0 at 0, x and -0 in the
// saturated tails, +Inf at +Inf and NaN at -Inf and NaN (the derivative
// NaN at ±Inf, as the exact Gelu's).
func TestGeluTanhValues(t *testing.T) {
	const c, a = 0.7978845608028654, 0.044715
	def := func(x float64) float64 { return 0.5 * x * (1 + math.Tanh(c*(x+a*x*x*x))) }
	deriv := func(x float64) float64 {
		th := math.Tanh(c * (x + a*x*x*x))
		return 0.5*(1+th) + 0.5*x*(1-th*th)*c*(1+3*a*x*x)
	}
	cases := []struct{ x, y, dy float64 }{
		{0, 0, 0.5},
		{math.Copysign(0, -1), math.Copysign(0, -1), 0.5},
		{20, 20, 1},
		{-20, math.Copysign(0, -1), 0},
		{math.Inf(1), math.Inf(1), math.NaN()}, // the derivative is 1 + Inf·0, as Gelu's
		{math.Inf(-1), math.NaN(), math.NaN()},
		{math.NaN(), math.NaN(), math.NaN()},
	}
	for x := -6.0; x <= 6; x += 0.125 {
		cases = append(cases, struct{ x, y, dy float64 }{x, def(x), deriv(x)})
	}
	for _, dt := range []nabla.DType{nabla.Float32, nabla.Float64} {
		t.Run(fmt.Sprint(dt), func(t *testing.T) {
			xs := make([]float64, len(cases))
			for i, cs := range cases {
				xs[i] = cs.x
			}
			x := nabla.FromSlice(xs).To(dt).RequireGrad()
			y := x.GeluTanh()
			y.Sum().Backward()
			got, grad := y.Float64s(), x.Grad().Float64s()
			tol := 1e-14
			if dt == nabla.Float32 {
				tol = 1e-6
			}
			check := func(what string, x, got, want float64) {
				t.Helper()
				if math.IsNaN(want) || math.IsNaN(got) {
					if math.IsNaN(want) != math.IsNaN(got) {
						t.Errorf("%s(%v) = %v, want %v", what, x, got, want)
					}
					return
				}
				if want == 0 && math.Signbit(want) != math.Signbit(got) {
					t.Errorf("%s(%v) = %v, want %v", what, x, got, want)
				}
				if math.Abs(got-want) > tol*math.Max(1, math.Abs(want)) {
					t.Errorf("%s(%v) = %v, want %v", what, x, got, want)
				}
			}
			for i, cs := range cases {
				check("GeluTanh", cs.x, got[i], cs.y)
				check("GeluTanh'", cs.x, grad[i], cs.dy)
			}
		})
	}
}
