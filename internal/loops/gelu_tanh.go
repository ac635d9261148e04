package loops

import (
	"math"

	"github.com/nabla-go/nabla/internal/kernel"
)

// geluTanhC is √(2/π), and geluTanhA the cubic coefficient of the tanh
// approximation of GELU (Hendrycks and Gimpel; GPT-2's gelu_new, PyTorch's
// gelu(approximate="tanh")).
const (
	geluTanhC = 0.7978845608028654 // √(2/π)
	geluTanhA = 0.044715
)

// geluTanh is x/2·(1+tanh(u)), u = √(2/π)(x+0.044715x³). For large |x| it
// tends to x or -0 (tanh saturates to ±1); ±Inf give +Inf and NaN (-Inf·0),
// as in PyTorch.
func geluTanh(x float64) float64 {
	u := geluTanhC * (x + geluTanhA*x*x*x)
	return 0.5 * x * (1 + math.Tanh(u))
}

// geluTanhDeriv is the derivative of geluTanh:
// (1+t)/2 + x/2·(1-t²)·√(2/π)(1+3·0.044715x²), t = tanh(u).
func geluTanhDeriv(x float64) float64 {
	x2 := x * x
	t := math.Tanh(geluTanhC * (x + geluTanhA*x2*x))
	return 0.5*(1+t) + 0.5*x*(1-t*t)*geluTanhC*(1+3*geluTanhA*x2)
}

// The float32 fast paths use ½(1+tanh u) = σ(2u): GeluTanh(x) = x·σ(2u),
// with z = 2u = 2c·x·(1+ax²) computed by the vector kernels in float32 a
// block at a time, then the vectorized sigmoid. The roundings of z are
// what limit the accuracy (σ(z) moves by |z|·(1-σ(z)) relative to a
// relative change of z): within a few float32 ulps where |z| is small,
// about |z|·2⁻²¹ relative for large negative x, where the result is tiny.
// PyTorch's float32 form, ½x(1+tanh u), loses more there, to the
// cancellation in 1+tanh u.

// geluTanhZ sets z = 2c·x·(1+ax²).
func geluTanhZ(z, x []float32) {
	kernel.MulF32(z, x, x)
	kernel.MulConstF32(z, z, geluTanhA)
	kernel.AddConstF32(z, z, 1)
	kernel.MulF32(z, z, x)
	kernel.MulConstF32(z, z, 2*geluTanhC)
}

// geluTanhF32 sets d[i] = GeluTanh(x[i]) a block at a time, so that d
// may alias x.
func geluTanhF32(d, x []float32) {
	var buf [256]float32
	for len(d) > 0 {
		n := min(len(d), len(buf))
		s := buf[:n]
		geluTanhZ(s, x[:n])
		kernel.SigmoidF32(s, s)
		kernel.MulF32(d[:n], x[:n], s)
		d, x = d[n:], x[n:]
	}
}

// geluTanhGradF32 sets d[i] = g[i]·GeluTanh'(x[i]), with
// GeluTanh'(x) = s + s(1-s)·q, s = σ(2u), q = 2c·x·(1+3ax²) (x·2u'),
// a block at a time, so that d may alias g or x.
func geluTanhGradF32(d, g, x []float32) {
	var sb, qb, rb [256]float32
	for len(d) > 0 {
		n := min(len(d), len(sb))
		s, q, r := sb[:n], qb[:n], rb[:n]
		xs := x[:n]
		geluTanhZ(s, xs)
		kernel.SigmoidF32(s, s)
		kernel.MulF32(q, xs, xs)
		kernel.MulConstF32(q, q, 3*geluTanhA)
		kernel.AddConstF32(q, q, 1)
		kernel.MulF32(q, q, xs)
		kernel.MulConstF32(q, q, 2*geluTanhC)
		kernel.MulConstF32(r, s, -1)
		kernel.AddConstF32(r, r, 1) // 1-s
		kernel.MulF32(r, r, s)
		kernel.MulF32(r, r, q)
		kernel.AddF32(r, r, s)
		kernel.MulF32(d[:n], g[:n], r)
		d, g, x = d[n:], g[n:], x[n:]
	}
}
