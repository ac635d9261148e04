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
// with H' = ⌊(H + 2·padding - dilation·(kh-1) - 1)/stride⌋ + 1, rounded up
// instead with Options.CeilMode (see [nabla.PoolOptions]). Zero Options
// mean PyTorch's defaults: stride = kernel, no padding, dilation 1;
// padding counts as -∞ and may be at most half the kernel.
type MaxPool2d struct {
	Kernel  [2]int
	Options nabla.PoolOptions // Stride, Padding, Dilation, CeilMode
}

// NewMaxPool2d returns a MaxPool2d with the given stride (zero means
// stride = kernel) and padding. For dilation or ceil mode, set Options,
// or write the layer as &MaxPool2d{Kernel: k, Options: opt}.
func NewMaxPool2d(kernel, stride, padding [2]int) *MaxPool2d {
	return &MaxPool2d{Kernel: kernel, Options: nabla.PoolOptions{Stride: stride, Padding: padding}}
}

// String describes the layer as "MaxPool2d(kernel [2 2], stride [2 2],
// padding [0 0])", followed by the options that differ from PyTorch's
// defaults under their PyTorch names: ", dilation [2 2], ceil_mode true".
func (p *MaxPool2d) String() string {
	var b strings.Builder
	poolString(&b, "MaxPool2d", p.Kernel, p.Options)
	if d := p.Options.Dilation; d != [2]int{} && d != [2]int{1, 1} {
		fmt.Fprintf(&b, ", dilation %v", d)
	}
	if p.Options.CeilMode {
		b.WriteString(", ceil_mode true")
	}
	b.WriteString(")")
	return b.String()
}

// Forward pools the 4-d batch x. It panics with a *nabla.ShapeError naming
// the layer if x is not 4-d or too small for a window, and as
// [nabla.MaxPool2d] does for bad options.
func (p *MaxPool2d) Forward(x *nabla.Tensor) *nabla.Tensor {
	checkPool(p.String(), x, p.Kernel, p.Options)
	return nabla.MaxPool2d(x, p.Kernel, p.Options)
}

// Params returns nothing: pooling has no parameters.
func (p *MaxPool2d) Params() []Param { return nil }

// AvgPool2d averages over Kernel-sized windows of each channel of an NCHW
// batch, as torch.nn.AvgPool2d; the output's shape is that of
// [MaxPool2d] without dilation. Zero Options mean PyTorch's defaults:
// stride = kernel, no padding, floor mode, padded zeros counted in the
// mean (count_include_pad), no divisor override; see [nabla.PoolOptions]
// for CeilMode, ExcludePad and DivisorOverride.
type AvgPool2d struct {
	Kernel  [2]int
	Options nabla.PoolOptions // Stride, Padding, CeilMode, ExcludePad, DivisorOverride
}

// NewAvgPool2d returns an AvgPool2d with the given stride (zero means
// stride = kernel) and padding. For the other options, set Options, or
// write the layer as &AvgPool2d{Kernel: k, Options: opt}.
func NewAvgPool2d(kernel, stride, padding [2]int) *AvgPool2d {
	return &AvgPool2d{Kernel: kernel, Options: nabla.PoolOptions{Stride: stride, Padding: padding}}
}

// String describes the layer as "AvgPool2d(kernel [2 2], stride [2 2],
// padding [0 0])", followed by the options that differ from PyTorch's
// defaults under their PyTorch names: ", ceil_mode true,
// count_include_pad false, divisor_override 3".
func (p *AvgPool2d) String() string {
	var b strings.Builder
	poolString(&b, "AvgPool2d", p.Kernel, p.Options)
	if p.Options.CeilMode {
		b.WriteString(", ceil_mode true")
	}
	if p.Options.ExcludePad {
		b.WriteString(", count_include_pad false")
	}
	if p.Options.DivisorOverride != 0 {
		fmt.Fprintf(&b, ", divisor_override %d", p.Options.DivisorOverride)
	}
	b.WriteString(")")
	return b.String()
}

// Forward pools the 4-d batch x. It panics with a *nabla.ShapeError naming
// the layer if x is not 4-d or too small for a window, and as
// [nabla.AvgPool2d] does for bad options.
func (p *AvgPool2d) Forward(x *nabla.Tensor) *nabla.Tensor {
	checkPool(p.String(), x, p.Kernel, p.Options)
	return nabla.AvgPool2d(x, p.Kernel, p.Options)
}

// Params returns nothing: pooling has no parameters.
func (p *AvgPool2d) Params() []Param { return nil }

// poolString writes the start of a pooling layer's description: its
// name, kernel, stride and padding, without the closing parenthesis.
func poolString(b *strings.Builder, name string, kernel [2]int, o nabla.PoolOptions) {
	stride := o.Stride
	if stride == [2]int{} {
		stride = kernel
	}
	fmt.Fprintf(b, "%s(kernel %v, stride %v, padding %v", name, kernel, stride, o.Padding)
}

// checkPool reports, with the layer's name, the mistakes in x's shape
// and the padding that the layer's users make most; nabla's pooling
// functions check the rest. The output size is PyTorch's, as in
// [nabla.PoolOptions]: in ceil mode it can be 1 for a kernel a little
// larger than the padded input.
func checkPool(layer string, x *nabla.Tensor, kernel [2]int, o nabla.PoolOptions) {
	if x.Dim() != 4 {
		panic(shapeErr(layer, x, "want a 4-d input [N C H W], got %d-d", x.Dim()))
	}
	for i, name := range []string{"height", "width"} {
		if 2*o.Padding[i] > kernel[i] {
			panic(shapeErr(layer, x, "padding %d is more than half the kernel %d", o.Padding[i], kernel[i]))
		}
		s, d := o.Stride[i], o.Dilation[i]
		if o.Stride == [2]int{} {
			s = kernel[i]
		}
		if o.Dilation == [2]int{} {
			d = 1
		}
		if kernel[i] <= 0 || s <= 0 || d <= 0 || o.Padding[i] < 0 {
			continue // nabla names these
		}
		span := d*(kernel[i]-1) + 1
		if n := x.Size(2 + i); poolOut(n, span, s, o.Padding[i], o.CeilMode) < 1 {
			panic(shapeErr(layer, x, "input %s %d (padded %d) is smaller than the kernel's span %d", name, n, n+2*o.Padding[i], span))
		}
	}
}

// poolOut is the output size along one axis of a window of the given
// span, as PyTorch's pooling_output_shape.
func poolOut(n, span, stride, pad int, ceil bool) int {
	num := n + 2*pad - span
	if ceil {
		num += stride - 1
	}
	if num < 0 {
		return 0 // the window does not fit, and rounding up cannot save it
	}
	out := num/stride + 1
	if ceil && (out-1)*stride >= n+pad {
		out--
	}
	return out
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
