package nabla_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nabla-go/nabla"
)

func geluExact(x float64) float64 { return x * math.Erfc(-x/math.Sqrt2) / 2 }

func geluDerivExact(x float64) float64 {
	return math.Erfc(-x/math.Sqrt2)/2 + x*math.Exp(-x*x/2)/math.Sqrt(2*math.Pi)
}

// TestGeluValues checks Gelu and its gradient in both dtypes against the
// definition through math.Erfc: float32 within one ulp (the gradient also
// within 1e-9, which matters only near its zero at x ≈ -0.75), float64
// within a few float64 ulps (or 2e-16 near that zero), including PyTorch's values at ±Inf and NaN.
func TestGeluValues(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	xs := []float64{0, math.Copysign(0, -1), 1, -1, 0.5, -0.7518, 3, -3, 8, -8, 14, -14, 20, -20, 40, -40, 1e30, -1e30,
		1e-30, -1e-30, math.Inf(1), math.Inf(-1), math.NaN()}
	for range 2000 {
		xs = append(xs, r.NormFloat64()*4)
	}
	for _, dt := range []nabla.DType{nabla.Float32, nabla.Float64} {
		t.Run(fmt.Sprint(dt), func(t *testing.T) {
			x := nabla.FromSlice(xs).To(dt).RequireGrad()
			y := x.Gelu()
			y.Sum().Backward()
			got, grad := y.Float64s(), x.Grad().Float64s()
			in := x.Float64s()
			for i, v := range in {
				check := func(what string, got, want float64) {
					t.Helper()
					if math.IsNaN(want) || math.IsNaN(got) {
						if math.IsNaN(want) != math.IsNaN(got) {
							t.Errorf("%s(%v) = %v, want %v", what, v, got, want)
						}
						return
					}
					if dt == nabla.Float32 {
						w := float32(want)
						ulp := math.Abs(float64(math.Nextafter32(w, float32(math.Inf(1))) - w))
						if d := math.Abs(got - float64(w)); d > ulp && d > 1e-9 {
							t.Errorf("%s(%v) = %v, want %v (%.3g ulp)", what, v, got, w, d/ulp)
						}
						return
					}
					// Relative, or absolute for the derivative near its
					// zero, where Φ(x) and x·φ(x) (both about 0.23) cancel.
					if d := math.Abs(got - want); d > 4e-16*math.Abs(want) && d > 2e-16 {
						t.Errorf("%s(%v) = %v, want %v", what, v, got, want)
					}
				}
				check("Gelu", got[i], geluExact(v))
				check("Gelu'", grad[i], geluDerivExact(v))
			}
		})
	}
}

// TestGeluPyTorchSpecials pins the values PyTorch 1.13 gives at the
// infinities: gelu(-inf) = nan, gelu(inf) = inf, and nan gradients.
func TestGeluPyTorchSpecials(t *testing.T) {
	for _, dt := range []nabla.DType{nabla.Float32, nabla.Float64} {
		x := nabla.FromSlice([]float64{math.Inf(-1), math.Inf(1)}).To(dt).RequireGrad()
		y := x.Gelu()
		y.Sum().Backward()
		v, g := y.Float64s(), x.Grad().Float64s()
		if !math.IsNaN(v[0]) || !math.IsInf(v[1], 1) || !math.IsNaN(g[0]) || !math.IsNaN(g[1]) {
			t.Errorf("%v: gelu(-inf, inf) = %v with gradient %v; want [NaN +Inf] and [NaN NaN]", dt, v, g)
		}
	}
}
