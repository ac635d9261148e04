package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/nabla-go/nabla"
)

// Conv2d is a 2-d convolution (cross-correlation) over NCHW batches, as
// torch.nn.Conv2d: an input of shape (N, in, H, W) gives (N, out, H', W')
// with H' = ⌊(H + 2·padding - dilation·(kh-1) - 1)/stride⌋ + 1, and W'
// likewise. With Groups g, the in and out channels are split into g groups
// that are convolved separately.
type Conv2d struct {
	Weight  *nabla.Tensor // (out, in/groups, kh, kw)
	Bias    *nabla.Tensor // (out), or nil for a layer without bias
	Options nabla.ConvOptions
}

// NewConv2d returns a Conv2d from in to out channels with a kh×kw kernel
// and the given stride, padding, dilation and groups (zero values mean
// PyTorch's defaults: 1, 0, 1, 1). It is initialised as PyTorch does: the
// weight by [KaimingUniform] with a = √5, that is U(-1/√fanIn, 1/√fanIn)
// with fanIn = in/groups·kh·kw, and the bias from the same range; float32,
// weight first. It panics with a *nabla.ValueError if the groups do not
// divide both channel counts.
func NewConv2d(rng *rand.Rand, in, out int, kernel [2]int, opt nabla.ConvOptions) *Conv2d {
	g := max(opt.Groups, 1)
	if in <= 0 || out <= 0 || kernel[0] <= 0 || kernel[1] <= 0 || in%g != 0 || out%g != 0 {
		panic(&nabla.ValueError{Op: "nn.NewConv2d", Reason: fmt.Sprintf("bad geometry: in=%d out=%d kernel=%v groups=%d (groups must divide in and out)", in, out, kernel, g)})
	}
	w := KaimingUniform(rng, nabla.Zeros(out, in/g, kernel[0], kernel[1]), math.Sqrt(5), FanIn, "leaky_relu")
	fanIn, _ := Fans(w)
	bound := 1 / math.Sqrt(float64(fanIn))
	b := Uniform(rng, nabla.Zeros(out), -bound, bound)
	return &Conv2d{Weight: w.RequireGrad(), Bias: b.RequireGrad(), Options: opt}
}

func (c *Conv2d) groups() int { return max(c.Options.Groups, 1) }

// String describes the layer as "Conv2d(in→out, 3×3, ...)", listing the
// options that differ from the defaults.
func (c *Conv2d) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Conv2d(%d→%d, %d×%d", c.Weight.Size(1)*c.groups(), c.Weight.Size(0), c.Weight.Size(2), c.Weight.Size(3))
	o := c.Options
	if o.Stride != [2]int{} && o.Stride != [2]int{1, 1} {
		fmt.Fprintf(&b, ", stride %v", o.Stride)
	}
	if o.Padding != [2]int{} {
		fmt.Fprintf(&b, ", padding %v", o.Padding)
	}
	if o.Dilation != [2]int{} && o.Dilation != [2]int{1, 1} {
		fmt.Fprintf(&b, ", dilation %v", o.Dilation)
	}
	if c.groups() != 1 {
		fmt.Fprintf(&b, ", groups %d", c.groups())
	}
	if c.Bias == nil {
		b.WriteString(", no bias")
	}
	b.WriteString(")")
	return b.String()
}

// Forward convolves the batch x of shape (N, in, H, W). It panics with a
// *nabla.ShapeError naming the layer if x is not 4-d, has the wrong number
// of channels, or is smaller than the (dilated) kernel.
func (c *Conv2d) Forward(x *nabla.Tensor) *nabla.Tensor {
	in := c.Weight.Size(1) * c.groups()
	if x.Dim() != 4 {
		panic(shapeErr(c.String(), x, "want a 4-d input [N %d H W], got %d-d", in, x.Dim()))
	}
	if x.Size(1) != in {
		panic(shapeErr(c.String(), x, "want shape [N %d H W], got %d channels", in, x.Size(1)))
	}
	o := c.Options
	for i, name := range []string{"height", "width"} {
		d := max(o.Dilation[i], 1)
		span := d*(c.Weight.Size(2+i)-1) + 1
		if x.Size(2+i)+2*o.Padding[i] < span {
			panic(shapeErr(c.String(), x, "input %s %d (padded %d) is smaller than the kernel's span %d", name, x.Size(2+i), x.Size(2+i)+2*o.Padding[i], span))
		}
	}
	return nabla.Conv2d(x, c.Weight, c.Bias, c.Options)
}

// Params returns "weight" and, unless it is nil, "bias".
func (c *Conv2d) Params() []Param {
	return params(Param{"weight", c.Weight}, Param{"bias", c.Bias})
}

// SetParam replaces "weight" or "bias"; see [ParamSetter].
func (c *Conv2d) SetParam(name string, t *nabla.Tensor) {
	switch name {
	case "weight":
		replace(c.String(), name, &c.Weight, t)
	case "bias":
		replace(c.String(), name, &c.Bias, t)
	default:
		unknownParam(c.String(), name)
	}
}

// MaxPool2d takes the maximum over Kernel-sized windows of each channel of
// an NCHW batch, as torch.nn.MaxPool2d: (N, C, H, W) gives (N, C, H', W')
// with H' = ⌊(H + 2·padding - kh)/stride⌋ + 1. A zero Stride means the
// kernel size (PyTorch's default); padding counts as -∞ and may be at most
// half the kernel.
type MaxPool2d struct {
	Kernel, Stride, Padding [2]int
}

// NewMaxPool2d returns a MaxPool2d; a zero stride means stride = kernel.
func NewMaxPool2d(kernel, stride, padding [2]int) *MaxPool2d {
	return &MaxPool2d{Kernel: kernel, Stride: stride, Padding: padding}
}

// String describes the layer as "MaxPool2d(kernel [2 2], stride [2 2], padding [0 0])".
func (p *MaxPool2d) String() string { return poolString("MaxPool2d", p.Kernel, p.Stride, p.Padding) }

// Forward pools the 4-d batch x. It panics with a *nabla.ShapeError naming
// the layer if x is not 4-d or smaller than a window.
func (p *MaxPool2d) Forward(x *nabla.Tensor) *nabla.Tensor {
	checkPool(p.String(), x, p.Kernel, p.Padding)
	return nabla.MaxPool2d(x, p.Kernel, p.Stride, p.Padding)
}

// Params returns nothing: pooling has no parameters.
func (p *MaxPool2d) Params() []Param { return nil }

// AvgPool2d averages over Kernel-sized windows of each channel of an NCHW
// batch, as torch.nn.AvgPool2d with its defaults: padded zeros count in the
// mean (count_include_pad) and a zero Stride means the kernel size. Shapes
// are those of [MaxPool2d].
type AvgPool2d struct {
	Kernel, Stride, Padding [2]int
}

// NewAvgPool2d returns an AvgPool2d; a zero stride means stride = kernel.
func NewAvgPool2d(kernel, stride, padding [2]int) *AvgPool2d {
	return &AvgPool2d{Kernel: kernel, Stride: stride, Padding: padding}
}

// String describes the layer as "AvgPool2d(kernel [2 2], stride [2 2], padding [0 0])".
func (p *AvgPool2d) String() string { return poolString("AvgPool2d", p.Kernel, p.Stride, p.Padding) }

// Forward pools the 4-d batch x. It panics with a *nabla.ShapeError naming
// the layer if x is not 4-d or smaller than a window.
func (p *AvgPool2d) Forward(x *nabla.Tensor) *nabla.Tensor {
	checkPool(p.String(), x, p.Kernel, p.Padding)
	return nabla.AvgPool2d(x, p.Kernel, p.Stride, p.Padding)
}

// Params returns nothing: pooling has no parameters.
func (p *AvgPool2d) Params() []Param { return nil }

func poolString(name string, kernel, stride, padding [2]int) string {
	if stride == [2]int{} {
		stride = kernel
	}
	return fmt.Sprintf("%s(kernel %v, stride %v, padding %v)", name, kernel, stride, padding)
}

func checkPool(layer string, x *nabla.Tensor, kernel, padding [2]int) {
	if x.Dim() != 4 {
		panic(shapeErr(layer, x, "want a 4-d input [N C H W], got %d-d", x.Dim()))
	}
	for i, name := range []string{"height", "width"} {
		if 2*padding[i] > kernel[i] {
			panic(shapeErr(layer, x, "padding %d is more than half the kernel %d", padding[i], kernel[i]))
		}
		if x.Size(2+i)+2*padding[i] < kernel[i] {
			panic(shapeErr(layer, x, "input %s %d (padded %d) is smaller than the kernel %d", name, x.Size(2+i), x.Size(2+i)+2*padding[i], kernel[i]))
		}
	}
}

// AdaptiveAvgPool2d averages each channel of an NCHW batch down to a fixed
// Output size (height, width), whatever the input's, as
// torch.nn.AdaptiveAvgPool2d: (N, C, H, W) gives (N, C, Output[0],
// Output[1]). Bin i of an axis of length n covers [⌊i·n/out⌋,
// ⌈(i+1)·n/out⌉).
type AdaptiveAvgPool2d struct {
	Output [2]int
}

// NewAdaptiveAvgPool2d returns an AdaptiveAvgPool2d to outH×outW.
func NewAdaptiveAvgPool2d(outH, outW int) *AdaptiveAvgPool2d {
	return &AdaptiveAvgPool2d{Output: [2]int{outH, outW}}
}

// String describes the layer as "AdaptiveAvgPool2d([h w])".
func (p *AdaptiveAvgPool2d) String() string { return fmt.Sprintf("AdaptiveAvgPool2d(%v)", p.Output) }

// Forward pools the 4-d batch x. It panics with a *nabla.ShapeError naming
// the layer if x is not 4-d.
func (p *AdaptiveAvgPool2d) Forward(x *nabla.Tensor) *nabla.Tensor {
	if x.Dim() != 4 {
		panic(shapeErr(p.String(), x, "want a 4-d input [N C H W], got %d-d", x.Dim()))
	}
	return nabla.AdaptiveAvgPool2d(x, p.Output[0], p.Output[1])
}

// Params returns nothing: pooling has no parameters.
func (p *AdaptiveAvgPool2d) Params() []Param { return nil }
