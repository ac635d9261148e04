package optim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestAdamStepF32MatchesScalar checks that the vectorized float32 update
// gives exactly the bits of the scalar loop, for Adam and AdamW.
func TestAdamStepF32MatchesScalar(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 1000} {
		for _, decoupled := range []bool{false, true} {
			for _, step := range []int64{1, 2, 50} {
				o := &Adam{cfg: AdamConfig{Betas: [2]float64{0.9, 0.999}, Eps: 1e-8}.withDefaults(), decoupled: decoupled}
				o.lr = 1e-3
				if decoupled {
					o.cfg.WeightDecay = 0.01
				}
				h := o.hyper(step)
				var s [2][5][]float32
				for k := range s[0] {
					s[0][k] = make([]float32, n)
					for i := range s[0][k] {
						s[0][k][i] = float32(rnd.NormFloat64())
					}
					s[1][k] = append([]float32(nil), s[0][k]...)
				}
				for i := range n {
					s[0][3][i] = float32(math.Abs(float64(s[0][3][i]))) // v ≥ 0
					s[1][3][i] = s[0][3][i]
				}
				if n > 2 {
					s[0][1][1], s[1][1][1] = float32(math.NaN()), float32(math.NaN())
				}
				adamStep(s[0][0], s[0][1], s[0][2], s[0][3], s[0][4], h)
				adamStepF32(s[1][0], s[1][1], s[1][2], s[1][3], s[1][4], h)
				name := fmt.Sprintf("n=%d decoupled=%v step=%d", n, decoupled, step)
				for k, what := range []string{"p", "g", "m", "v", "vmax"} {
					for i := range n {
						a, b := s[0][k][i], s[1][k][i]
						if math.Float32bits(a) != math.Float32bits(b) && !(a != a && b != b) {
							t.Fatalf("%s: %s[%d]: got %v; want %v", name, what, i, b, a)
						}
					}
				}
			}
		}
	}
}
