package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/nabla-go/nabla"
)

// The activation layers below apply a function element-wise (Softmax and
// LogSoftmax along one axis); their output has the input's shape. None has
// parameters, so their zero values are ready to use, e.g.
// nn.NewSequential(lin1, nn.ReLU{}, lin2).

// ReLU applies max(x, 0), as torch.nn.ReLU.
type ReLU struct{}

// Forward returns max(x, 0).
func (ReLU) Forward(x *nabla.Tensor) *nabla.Tensor { return x.Relu() }

// Params returns nothing.
func (ReLU) Params() []Param { return nil }

// String returns "ReLU()".
func (ReLU) String() string { return "ReLU()" }

// LeakyReLU applies x where x > 0 and Slope·x elsewhere, as
// torch.nn.LeakyReLU. [NewLeakyReLU] gives PyTorch's default slope, 0.01;
// the zero value has slope 0 (a ReLU).
type LeakyReLU struct {
	Slope float64 // negative slope
}

// NewLeakyReLU returns a LeakyReLU with slope 0.01, PyTorch's default.
func NewLeakyReLU() LeakyReLU { return LeakyReLU{Slope: 0.01} }

// Forward returns x where x > 0 and Slope·x elsewhere.
func (l LeakyReLU) Forward(x *nabla.Tensor) *nabla.Tensor { return x.LeakyRelu(l.Slope) }

// Params returns nothing.
func (LeakyReLU) Params() []Param { return nil }

// String returns "LeakyReLU(slope)".
func (l LeakyReLU) String() string { return fmt.Sprintf("LeakyReLU(%g)", l.Slope) }

// GELU applies the Gaussian error linear unit x·Φ(x), as torch.nn.GELU.
// With Tanh set it uses the tanh approximation
// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), PyTorch's approximate="tanh".
type GELU struct {
	Tanh bool // use the tanh approximation
}

// Forward returns GELU(x).
func (g GELU) Forward(x *nabla.Tensor) *nabla.Tensor {
	if !g.Tanh {
		return x.Gelu()
	}
	inner := x.Add(x.PowScalar(3).MulScalar(0.044715)).MulScalar(math.Sqrt(2 / math.Pi))
	return x.Mul(inner.Tanh().AddScalar(1)).MulScalar(0.5)
}

// Params returns nothing.
func (GELU) Params() []Param { return nil }

// String returns "GELU()" or "GELU(tanh)".
func (g GELU) String() string {
	if g.Tanh {
		return "GELU(tanh)"
	}
	return "GELU()"
}

// Sigmoid applies 1/(1+e^-x), as torch.nn.Sigmoid.
type Sigmoid struct{}

// Forward returns 1/(1+e^-x).
func (Sigmoid) Forward(x *nabla.Tensor) *nabla.Tensor { return x.Sigmoid() }

// Params returns nothing.
func (Sigmoid) Params() []Param { return nil }

// String returns "Sigmoid()".
func (Sigmoid) String() string { return "Sigmoid()" }

// Tanh applies the hyperbolic tangent, as torch.nn.Tanh.
type Tanh struct{}

// Forward returns tanh(x).
func (Tanh) Forward(x *nabla.Tensor) *nabla.Tensor { return x.Tanh() }

// Params returns nothing.
func (Tanh) Params() []Param { return nil }

// String returns "Tanh()".
func (Tanh) String() string { return "Tanh()" }

// Softplus applies log(1+e^(β·x))/β, a smooth ReLU, as torch.nn.Softplus.
// A zero Beta means 1, PyTorch's default. (PyTorch switches to the identity
// where β·x > 20; the stable form used here agrees with it to float
// precision there.)
type Softplus struct {
	Beta float64
}

// Forward returns log(1+e^(β·x))/β.
func (s Softplus) Forward(x *nabla.Tensor) *nabla.Tensor {
	if s.Beta == 0 || s.Beta == 1 {
		return x.Softplus()
	}
	return x.MulScalar(s.Beta).Softplus().DivScalar(s.Beta)
}

// Params returns nothing.
func (Softplus) Params() []Param { return nil }

// String returns "Softplus(beta)".
func (s Softplus) String() string {
	if s.Beta == 0 {
		return "Softplus(1)"
	}
	return fmt.Sprintf("Softplus(%g)", s.Beta)
}

// Softmax normalises exp(x) to sum to 1 along Axis, as torch.nn.Softmax(dim).
// A negative Axis counts from the end; the zero value uses axis 0, so
// write Softmax{Axis: -1} or Softmax{Axis: 1} for a batch of class scores.
type Softmax struct {
	Axis int
}

// Forward returns the softmax of x along Axis.
func (s Softmax) Forward(x *nabla.Tensor) *nabla.Tensor { return x.Softmax(s.Axis) }

// Params returns nothing.
func (Softmax) Params() []Param { return nil }

// String returns "Softmax(axis)".
func (s Softmax) String() string { return fmt.Sprintf("Softmax(%d)", s.Axis) }

// LogSoftmax returns x - logsumexp(x) along Axis, computed stably, as
// torch.nn.LogSoftmax(dim). Axis follows [Softmax]'s rules.
type LogSoftmax struct {
	Axis int
}

// Forward returns the log-softmax of x along Axis.
func (s LogSoftmax) Forward(x *nabla.Tensor) *nabla.Tensor { return x.LogSoftmax(s.Axis) }

// Params returns nothing.
func (LogSoftmax) Params() []Param { return nil }

// String returns "LogSoftmax(axis)".
func (s LogSoftmax) String() string { return fmt.Sprintf("LogSoftmax(%d)", s.Axis) }

// Identity returns its input unchanged, as torch.nn.Identity: a
// placeholder where a layer is optional.
type Identity struct{}

// Forward returns x.
func (Identity) Forward(x *nabla.Tensor) *nabla.Tensor { return x }

// Params returns nothing.
func (Identity) Params() []Param { return nil }

// String returns "Identity()".
func (Identity) String() string { return "Identity()" }

// Dropout zeroes each element with probability P during training and
// scales the survivors by 1/(1-P), so that the expected value is unchanged,
// as torch.nn.Dropout. In evaluation mode it returns its input. The mask
// is drawn from Rng, which the layer uses from one goroutine at a time.
type Dropout struct {
	P        float64    // probability of zeroing an element, in [0, 1]
	Rng      *rand.Rand // source of the masks
	Training bool       // training mode (the default) or evaluation mode
}

// NewDropout returns a Dropout with probability p in training mode. It
// panics with a *nabla.ValueError if p is outside [0, 1].
func NewDropout(rng *rand.Rand, p float64) *Dropout {
	if !(p >= 0 && p <= 1) {
		panic(&nabla.ValueError{Op: "nn.NewDropout", Reason: fmt.Sprintf("probability %v is outside [0, 1]", p)})
	}
	return &Dropout{P: p, Rng: rng, Training: true}
}

// Forward returns x with a fresh random mask applied in training mode, and
// x itself in evaluation mode or when P is 0.
func (d *Dropout) Forward(x *nabla.Tensor) *nabla.Tensor {
	if !d.Training || d.P == 0 {
		return x
	}
	if d.P >= 1 {
		return x.Mul(nabla.FullOf(x.DType(), 0))
	}
	keep := 1 - d.P
	mask := nabla.FullOf(x.DType(), 0, x.Shape()...)
	scale := 1 / keep
	if mask.DType() == nabla.Float64 {
		m := mask.Data64()
		for i := range m {
			if d.Rng.Float64() < keep {
				m[i] = scale
			}
		}
	} else {
		m := mask.Data32()
		for i := range m {
			if d.Rng.Float64() < keep {
				m[i] = float32(scale)
			}
		}
	}
	return x.Mul(mask)
}

// Params returns nothing.
func (*Dropout) Params() []Param { return nil }

// SetTraining switches between training (true) and evaluation mode.
func (d *Dropout) SetTraining(on bool) { d.Training = on }

// String returns "Dropout(p)".
func (d *Dropout) String() string { return fmt.Sprintf("Dropout(%g)", d.P) }
