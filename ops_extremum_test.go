package nabla_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nabla-go/nabla"
)

// TestExtremumGradientShares checks Max's and Min's gradients against the
// rule, computed here slice by slice: ties split the gradient evenly, and
// a slice whose extremum is NaN gets NaN. Values are drawn from a few
// integers so that ties are common.
func TestExtremumGradientShares(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	shape := []int{3, 4, 5}
	for _, axes := range [][]int{{0}, {1}, {2}, {0, 1}, {1, 2}, {0, 2}, {}} {
		for _, op := range []string{"Max", "Min"} {
			for _, withNaN := range []bool{false, true} {
				name := fmt.Sprintf("%s/axes%v/nan=%v", op, axes, withNaN)
				t.Run(name, func(t *testing.T) {
					vals := make([]float64, 60)
					for i := range vals {
						vals[i] = float64(r.IntN(3))
					}
					if withNaN {
						vals[7] = math.NaN()
					}
					x := nabla.FromSlice(vals, shape...).To(nabla.Float64).RequireGrad()
					var y *nabla.Tensor
					if op == "Max" {
						y = x.MaxKeep(axes...)
					} else {
						y = x.MinKeep(axes...)
					}
					y.Sum().Backward()
					got := x.Grad().Float64s()
					reduced := map[int]bool{}
					for _, a := range axes {
						reduced[a] = true
					}
					if len(axes) == 0 {
						reduced = map[int]bool{0: true, 1: true, 2: true}
					}
					// key of element i: its indices on the kept axes.
					key := func(i int) [3]int {
						idx := [3]int{i / 20, i / 5 % 4, i % 5}
						for a := range idx {
							if reduced[a] {
								idx[a] = -1
							}
						}
						return idx
					}
					ext := map[[3]int]float64{}
					count := map[[3]int]int{}
					for i, v := range vals {
						k := key(i)
						e, ok := ext[k]
						switch {
						case !ok || math.IsNaN(v):
							ext[k] = v
						case math.IsNaN(e):
						case op == "Max" && v > e, op == "Min" && v < e:
							ext[k] = v
						}
					}
					for i, v := range vals {
						if v == ext[key(i)] {
							count[key(i)]++
						}
					}
					for i, v := range vals {
						k := key(i)
						var want float64
						switch {
						case count[k] == 0:
							want = math.NaN()
						case v == ext[k]:
							want = 1 / float64(count[k])
						}
						if g := got[i]; g != want && !(math.IsNaN(g) && math.IsNaN(want)) {
							t.Fatalf("grad[%d] (x=%v) = %v, want %v", i, v, g, want)
						}
					}
				})
			}
		}
	}
}
