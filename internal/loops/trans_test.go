package loops

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestUnaryTransF32 checks Exp, Sigmoid, Tanh, Log and Softplus on float32 (the vector
// kernels) against the float64 loops rounded to float32: within one ulp,
// with NaNs, infinities and signed zeros kept.
func TestUnaryTransF32(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 8))
	ulps := func(a, b float32) int64 {
		ord := func(v float32) int64 {
			u := math.Float32bits(v)
			if u>>31 != 0 {
				return -int64(u &^ (1 << 31))
			}
			return int64(u)
		}
		d := ord(a) - ord(b)
		return max(d, -d)
	}
	for _, op := range []UnaryOp{Exp, Sigmoid, Tanh, Log, Softplus} {
		for _, n := range sizes {
			x := randF32(rnd, n)
			for i := 5; i < n; i++ {
				x[i] *= 30
			}
			dst := make([]float32, n)
			Unary(op, dst, x, 0)
			x64, d64 := make([]float64, n), make([]float64, n)
			for i, v := range x {
				x64[i] = float64(v)
			}
			Unary(op, d64, x64, 0)
			for i := range dst {
				want := float32(d64[i])
				if want != want && dst[i] == dst[i] || want == want && (ulps(dst[i], want) > 1 ||
					math.Signbit(float64(dst[i])) != math.Signbit(float64(want))) {
					t.Errorf("op %d n=%d: dst[%d] = op(%v): got %v; want %v", op, n, i, x[i], dst[i], want)
					break
				}
			}
		}
	}
}
