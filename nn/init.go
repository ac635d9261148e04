package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/nabla-go/nabla"
)

// The initialisers below fill a tensor's storage in place, as the
// functions of torch.nn.init with a trailing underscore do, and return the
// tensor for chaining. The tensor must be contiguous (see
// [nabla.Tensor.Data32]); float32 and float64 are both accepted. They write
// outside autograd: use them on parameters before training, not on tensors
// a graph still holds.

// FanMode chooses which fan [KaimingUniform] and [KaimingNormal] preserve
// the variance of.
type FanMode int

const (
	// FanIn preserves the variance of activations in the forward pass
	// (PyTorch's default, mode="fan_in").
	FanIn FanMode = iota
	// FanOut preserves the variance of gradients in the backward pass.
	FanOut
)

// Fans returns the fan-in and fan-out of a weight tensor as torch.nn.init
// computes them: for shape (out, in, k...) they are in·∏k and out·∏k. It
// panics with a *nabla.ShapeError if t has fewer than two dimensions.
func Fans(t *nabla.Tensor) (fanIn, fanOut int) {
	if t.Dim() < 2 {
		panic(&nabla.ShapeError{Op: "nn.Fans", Shapes: [][]int{t.Shape()}, Reason: "fan in and fan out need at least 2 dimensions"})
	}
	receptive := 1
	for _, d := range t.Shape()[2:] {
		receptive *= d
	}
	return t.Size(1) * receptive, t.Size(0) * receptive
}

// CalculateGain returns the recommended gain for a nonlinearity, as
// torch.nn.init.calculate_gain: 1 for "linear", "identity", "conv1d",
// "conv2d", "conv3d" and "sigmoid"; 5/3 for "tanh"; √2 for "relu";
// √(2/(1+param²)) for "leaky_relu", with param its negative slope; 3/4 for
// "selu". Unlike PyTorch, a zero param for "leaky_relu" means slope 0, not
// 0.01. It panics with a *nabla.ValueError for an unknown name.
func CalculateGain(nonlinearity string, param float64) float64 {
	switch nonlinearity {
	case "linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid":
		return 1
	case "tanh":
		return 5.0 / 3
	case "relu":
		return math.Sqrt2
	case "leaky_relu":
		return math.Sqrt(2 / (1 + param*param))
	case "selu":
		return 0.75
	}
	panic(&nabla.ValueError{Op: "nn.CalculateGain", Reason: fmt.Sprintf("unsupported nonlinearity %q", nonlinearity)})
}

// XavierUniform fills t from U(-a, a) with a = gain·√(6/(fanIn+fanOut)),
// as torch.nn.init.xavier_uniform_ (Glorot and Bengio, 2010).
func XavierUniform(rng *rand.Rand, t *nabla.Tensor, gain float64) *nabla.Tensor {
	fi, fo := Fans(t)
	a := gain * math.Sqrt(6/float64(fi+fo))
	return Uniform(rng, t, -a, a)
}

// XavierNormal fills t from N(0, std²) with std = gain·√(2/(fanIn+fanOut)),
// as torch.nn.init.xavier_normal_.
func XavierNormal(rng *rand.Rand, t *nabla.Tensor, gain float64) *nabla.Tensor {
	fi, fo := Fans(t)
	return Normal(rng, t, 0, gain*math.Sqrt(2/float64(fi+fo)))
}

// kaimingStd is gain/√fan, the standard deviation He et al. (2015) derive.
func kaimingStd(t *nabla.Tensor, a float64, mode FanMode, nonlinearity string) float64 {
	fi, fo := Fans(t)
	fan := fi
	if mode == FanOut {
		fan = fo
	}
	return CalculateGain(nonlinearity, a) / math.Sqrt(float64(fan))
}

// KaimingUniform fills t from U(-b, b) with b = √3·gain/√fan, as
// torch.nn.init.kaiming_uniform_: a is the negative slope for
// "leaky_relu" (ignored otherwise), mode picks fan-in or fan-out, and
// nonlinearity names the gain as in [CalculateGain]. PyTorch's own
// defaults are a = 0, FanIn, "leaky_relu"; Linear and Conv2d use a = √5,
// which gives b = 1/√fanIn.
func KaimingUniform(rng *rand.Rand, t *nabla.Tensor, a float64, mode FanMode, nonlinearity string) *nabla.Tensor {
	b := math.Sqrt(3) * kaimingStd(t, a, mode, nonlinearity)
	return Uniform(rng, t, -b, b)
}

// KaimingNormal fills t from N(0, std²) with std = gain/√fan, as
// torch.nn.init.kaiming_normal_; the arguments are those of
// [KaimingUniform].
func KaimingNormal(rng *rand.Rand, t *nabla.Tensor, a float64, mode FanMode, nonlinearity string) *nabla.Tensor {
	return Normal(rng, t, 0, kaimingStd(t, a, mode, nonlinearity))
}

// Uniform fills t with values drawn uniformly from [lo, hi).
func Uniform(rng *rand.Rand, t *nabla.Tensor, lo, hi float64) *nabla.Tensor {
	return fill(t, func() float64 { return lo + (hi-lo)*rng.Float64() })
}

// Normal fills t with values drawn from N(mean, std²).
func Normal(rng *rand.Rand, t *nabla.Tensor, mean, std float64) *nabla.Tensor {
	return fill(t, func() float64 { return mean + std*rng.NormFloat64() })
}

// Constant fills t with v.
func Constant(t *nabla.Tensor, v float64) *nabla.Tensor {
	return fill(t, func() float64 { return v })
}

// Zeros fills t with 0.
func Zeros(t *nabla.Tensor) *nabla.Tensor { return Constant(t, 0) }

// Ones fills t with 1.
func Ones(t *nabla.Tensor) *nabla.Tensor { return Constant(t, 1) }

func fill(t *nabla.Tensor, next func() float64) *nabla.Tensor {
	if t.DType() == nabla.Float64 {
		d := t.Data64()
		for i := range d {
			d[i] = next()
		}
		return t
	}
	d := t.Data32()
	for i := range d {
		d[i] = float32(next())
	}
	return t
}
