package nabla_test

import (
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/nabla-go/nabla"
)

// TestIndexSelectLarge checks IndexSelect and its gradient on shapes big
// enough to be split between the workers, with repeated and missing ids,
// against a plain loop, at one and two threads (the sums must be
// bit-identical: each destination row adds its slices in index order).
func TestIndexSelectLarge(t *testing.T) {
	for _, tc := range []struct {
		name    string
		A, R, B int
		K       int
	}{
		{"embedding", 1, 700, 96, 900},
		{"middle axis", 3, 300, 100, 500},
		{"one row", 2, 1, 40000, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			x := nabla.RandN(rng, tc.A, tc.R, tc.B).RequireGrad()
			ids := make([]int64, tc.K)
			for i := range ids {
				ids[i] = int64(rng.IntN(max(tc.R/2, 1))) // half the rows never picked
			}
			g := nabla.RandN(rng, tc.A, tc.K, tc.B)
			xs, gs := x.Data32(), g.Data32()
			want := make([]float32, tc.A*tc.K*tc.B)
			wantGrad := make([]float32, tc.A*tc.R*tc.B)
			for a := 0; a < tc.A; a++ {
				for k, r := range ids {
					for i := 0; i < tc.B; i++ {
						want[(a*tc.K+k)*tc.B+i] = xs[(a*tc.R+int(r))*tc.B+i]
						wantGrad[(a*tc.R+int(r))*tc.B+i] += gs[(a*tc.K+k)*tc.B+i]
					}
				}
			}
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
			for _, threads := range []int{1, 2} {
				runtime.GOMAXPROCS(threads)
				x.ZeroGrad()
				y := x.IndexSelect(1, nabla.FromSlice(ids))
				for i, v := range y.Data32() {
					if v != want[i] {
						t.Fatalf("%d threads: y[%d] = %v, want %v", threads, i, v, want[i])
					}
				}
				y.Backward(nabla.WithUpstream(g))
				for i, v := range x.Grad().Data32() {
					if v != wantGrad[i] {
						t.Fatalf("%d threads: grad[%d] = %v, want %v", threads, i, v, wantGrad[i])
					}
				}
			}
		})
	}
}
