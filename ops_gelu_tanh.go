package nabla

import "github.com/nabla-go/nabla/internal/loops"

// geluTanhC is √(2/π) and geluTanhA the cubic coefficient of the tanh
// approximation of GELU.
const (
	geluTanhC = 0.7978845608028654 // √(2/π)
	geluTanhA = 0.044715
)

// GeluTanh returns the tanh approximation of the Gaussian error linear unit,
// t/2·(1+tanh(√(2/π)(t+0.044715t³))), element-wise, in one fused op. It is
// GPT-2's gelu_new and PyTorch's gelu(approximate="tanh"), which the GPT
// and Hugging Face models use; Gelu is the exact, erf-based form.
func (t *Tensor) GeluTanh() *Tensor {
	return t.unary("GeluTanh", loops.GeluTanh, 0, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		return []*Tensor{geluTanhGrad(g, in[0])}
	})
}

// geluTanhGrad returns g·GeluTanh'(x), the gradient through GeluTanh given
// its input x, in one fused op.
func geluTanhGrad(g, x *Tensor) *Tensor {
	return binary("GeluTanhGrad", loops.GeluTanhGrad, g, x, func(gg, _ *Tensor, in []*Tensor) []*Tensor {
		g, x := in[0], in[1]
		var dg, dx *Tensor
		if wantsGrad(g) {
			dg = geluTanhGrad(gg, x)
		}
		if wantsGrad(x) {
			// With u = c(x+ax³), t = tanh(u): GeluTanh''(x) =
			// (1-t²)·(u' + x/2·(u'' - 2t·u'²)), u' = c(1+3ax²), u'' = 6acx.
			x2 := x.Square()
			t := x.Add(x.Mul(x2).MulScalar(geluTanhA)).MulScalar(geluTanhC).Tanh()
			up := x2.MulScalar(3 * geluTanhA * geluTanhC).AddScalar(geluTanhC)
			upp := x.MulScalar(6 * geluTanhA * geluTanhC)
			inner := up.Add(x.MulScalar(0.5).Mul(upp.Sub(t.Mul(up.Square()).MulScalar(2))))
			d2 := t.Square().Neg().AddScalar(1).Mul(inner)
			dx = gg.Mul(g).Mul(d2)
		}
		return []*Tensor{dg, dx}
	})
}
