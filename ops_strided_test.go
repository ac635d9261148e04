package nabla_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nabla-go/nabla"
)

// TestLargeTransposedOperands checks the path that copies large transposed
// views before element-wise loops (and before accumulating a transposed
// gradient): values and gradients must equal those computed from
// contiguous copies, and the gradient must reach the original leaf.
func TestLargeTransposedOperands(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, dt := range []nabla.DType{nabla.Float32, nabla.Float64} {
		for _, shape := range [][]int{{96, 80}, {3, 40, 50}} {
			x := nabla.RandN(r, shape...).To(dt).RequireGrad()
			last := len(shape) - 1
			xt := x.Transpose(0, last) // a transposed view, > 4096 elements
			y := nabla.RandN(r, xt.Shape()...).To(dt)
			got := xt.Mul(y).Add(xt)
			want := xt.Contiguous().Detach().Mul(y).Add(xt.Contiguous().Detach())
			if !slices.Equal(got.Float64s(), want.Float64s()) {
				t.Fatalf("%v %v: x.T()*y + x.T() differs from the contiguous computation", dt, shape)
			}
			// d/dx Σ (xᵀ·y + xᵀ)·u = (u·y + u)ᵀ, flowing back through the view.
			u := nabla.RandN(r, xt.Shape()...).To(dt)
			got.Backward(nabla.WithUpstream(u))
			wantGrad := u.Mul(y).Add(u).Transpose(0, last).Contiguous()
			if !slices.Equal(x.Grad().Float64s(), wantGrad.Float64s()) {
				t.Fatalf("%v %v: gradient through the transposed view differs", dt, shape)
			}
		}
	}
}
