package loops

import "math"

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
