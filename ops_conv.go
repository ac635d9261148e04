package nabla

import (
	"strconv"
)

// This file holds convolution and pooling. Two linear primitives, Unfold
// (im2col) and Fold (col2im), are each other's adjoint, so their backward
// rules are one line each and differentiable to any order. Convolution is
// Unfold followed by a matrix product with the weights, which runs on the
// GEMM kernels; pooling is Unfold followed by a reduction.

// ConvOptions sets the geometry of a 2-d convolution. Zero values mean
// stride 1, padding 0, dilation 1 and one group, as in PyTorch.
type ConvOptions struct {
	Stride   [2]int // step between windows, (height, width)
	Padding  [2]int // zeros added on each side, (height, width)
	Dilation [2]int // spacing between kernel taps, (height, width)
	Groups   int    // input and output channels are split into this many groups
}

func (o ConvOptions) withDefaults() ConvOptions {
	for i := range 2 {
		if o.Stride[i] == 0 {
			o.Stride[i] = 1
		}
		if o.Dilation[i] == 0 {
			o.Dilation[i] = 1
		}
	}
	if o.Groups == 0 {
		o.Groups = 1
	}
	return o
}

// window describes one sliding-window geometry over an NCHW tensor.
type window struct {
	n, c, h, w int // input
	kh, kw     int
	sh, sw     int
	ph, pw     int
	dh, dw     int
	oh, ow     int // output positions
}

func newWindow(op string, shape []int, kh, kw int, o ConvOptions) window {
	if len(shape) != 4 {
		panicShape(op, "input must be 4-d (N, C, H, W)", shape)
	}
	g := window{n: shape[0], c: shape[1], h: shape[2], w: shape[3], kh: kh, kw: kw,
		sh: o.Stride[0], sw: o.Stride[1], ph: o.Padding[0], pw: o.Padding[1], dh: o.Dilation[0], dw: o.Dilation[1]}
	if g.sh <= 0 || g.sw <= 0 || g.dh <= 0 || g.dw <= 0 || g.ph < 0 || g.pw < 0 || kh <= 0 || kw <= 0 {
		panicShape(op, "bad kernel, stride, padding or dilation", shape, []int{kh, kw}, o.Stride[:], o.Padding[:], o.Dilation[:])
	}
	g.oh = (g.h+2*g.ph-g.dh*(kh-1)-1)/g.sh + 1
	g.ow = (g.w+2*g.pw-g.dw*(kw-1)-1)/g.sw + 1
	if g.oh <= 0 || g.ow <= 0 {
		panicShape(op, "kernel "+strconv.Itoa(kh)+"x"+strconv.Itoa(kw)+" does not fit the padded input", shape)
	}
	return g
}

// Unfold extracts sliding kh×kw windows from the NCHW tensor x into columns,
// as torch.nn.functional.unfold: the result has shape (N, C·kh·kw, L) where
// L is the number of window positions, and row (c·kh + i)·kw + j holds tap
// (i, j) of channel c. Padded positions read as 0.
func (x *Tensor) Unfold(kh, kw int, opt ConvOptions) *Tensor {
	return unfold(x, newWindow("Unfold", x.shape, kh, kw, opt.withDefaults()), 0)
}

func unfold(x *Tensor, g window, pad float64) *Tensor {
	shape := []int{g.n, g.c * g.kh * g.kw, g.oh * g.ow}
	out := newShared(x.arena, x.dtype, shape, contiguousStrides(shape))
	src := x.contiguous()
	if x.dtype == Float64 {
		im2col(out.f64, src.f64[src.offset:], g, float64(pad), false)
	} else {
		im2col(out.f32, src.f32[src.offset:], g, float32(pad), false)
	}
	return record("Unfold", out, func(gr, _ *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{fold(gr, g)}
	}, x)
}

// fold sums columns back into an NCHW tensor: the adjoint of unfold.
func fold(cols *Tensor, g window) *Tensor {
	shape := []int{g.n, g.c, g.h, g.w}
	out := newZeroed(cols.arena, cols.dtype, shape, contiguousStrides(shape))
	src := cols.contiguous()
	if cols.dtype == Float64 {
		im2col(src.f64[src.offset:], out.f64, g, 0, true)
	} else {
		im2col(src.f32[src.offset:], out.f32, g, 0, true)
	}
	return record("Fold", out, func(gr, _ *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{unfold(gr, g, 0)}
	}, cols)
}

// im2col copies image windows into cols, or with back set adds cols into
// the image (col2im).
func im2col[T float32 | float64](cols, img []T, g window, pad T, back bool) {
	L := g.oh * g.ow
	K := g.c * g.kh * g.kw
	for n := 0; n < g.n; n++ {
		for c := 0; c < g.c; c++ {
			im := img[(n*g.c+c)*g.h*g.w : (n*g.c+c+1)*g.h*g.w]
			for i := 0; i < g.kh; i++ {
				for j := 0; j < g.kw; j++ {
					row := cols[(n*K+(c*g.kh+i)*g.kw+j)*L:][:L]
					for oy := 0; oy < g.oh; oy++ {
						iy := oy*g.sh - g.ph + i*g.dh
						r := row[oy*g.ow : (oy+1)*g.ow]
						if iy < 0 || iy >= g.h {
							if !back {
								for k := range r {
									r[k] = pad
								}
							}
							continue
						}
						line := im[iy*g.w : (iy+1)*g.w]
						ix := -g.pw + j*g.dw
						for ox := range r {
							if ix >= 0 && ix < g.w {
								if back {
									line[ix] += r[ox]
								} else {
									r[ox] = line[ix]
								}
							} else if !back {
								r[ox] = pad
							}
							ix += g.sw
						}
					}
				}
			}
		}
	}
}

// Conv2d returns the 2-d cross-correlation of the NCHW input x with weights
// w of shape (out, in/groups, kh, kw), plus the bias b of shape (out) if b
// is not nil, as torch.nn.functional.conv2d. It panics with a *ShapeError
// if the channel counts do not fit.
func Conv2d(x, w, b *Tensor, opt ConvOptions) *Tensor {
	opt = opt.withDefaults()
	if len(w.shape) != 4 {
		panicShape("Conv2d", "weight must be 4-d (out, in/groups, kh, kw)", x.shape, w.shape)
	}
	if len(x.shape) != 4 {
		panicShape("Conv2d", "input must be 4-d (N, C, H, W)", x.shape, w.shape)
	}
	groups := opt.Groups
	out, cg := w.shape[0], w.shape[1]
	if x.shape[1] != cg*groups || out%groups != 0 {
		panicShape("Conv2d", "input has "+strconv.Itoa(x.shape[1])+" channels, weight expects "+strconv.Itoa(cg*groups)+" in "+strconv.Itoa(groups)+" group(s)", x.shape, w.shape)
	}
	g := newWindow("Conv2d", x.shape, w.shape[2], w.shape[3], opt)
	cols := unfold(x, g, 0) // (N, C·kh·kw, L)
	K := cg * g.kh * g.kw
	var y *Tensor
	if groups == 1 {
		y = w.Reshape(out, K).MatMul(cols) // (N, out, L)
	} else {
		colsG := cols.Reshape(g.n, groups, K, g.oh*g.ow)
		y = w.Reshape(groups, out/groups, K).MatMul(colsG) // (N, groups, out/groups, L)
	}
	y = y.Reshape(g.n, out, g.oh, g.ow)
	if b != nil {
		if len(b.shape) != 1 || b.shape[0] != out {
			panicShape("Conv2d", "bias must have shape ["+strconv.Itoa(out)+"]", w.shape, b.shape)
		}
		y = y.Add(b.Reshape(out, 1, 1))
	}
	return y
}

// poolWindows unfolds each channel separately: (N·C, kh·kw, L).
func poolWindows(op string, x *Tensor, kernel, stride, padding [2]int, pad float64) (*Tensor, window) {
	if stride == [2]int{} {
		stride = kernel
	}
	if len(x.shape) != 4 {
		panicShape(op, "input must be 4-d (N, C, H, W)", x.shape)
	}
	if padding[0]*2 > kernel[0] || padding[1]*2 > kernel[1] {
		panicShape(op, "padding must be at most half the kernel", x.shape, kernel[:], padding[:])
	}
	flat := x.Reshape(x.shape[0]*x.shape[1], 1, x.shape[2], x.shape[3])
	g := newWindow(op, flat.shape, kernel[0], kernel[1], ConvOptions{Stride: stride, Padding: padding, Dilation: [2]int{1, 1}})
	return unfold(flat, g, pad), g
}

// MaxPool2d returns the maximum over kh×kw windows of the NCHW input x.
// A zero stride means stride = kernel, as in PyTorch. Padding counts as
// -Inf. Tied maxima in a window share the gradient.
func MaxPool2d(x *Tensor, kernel, stride, padding [2]int) *Tensor {
	cols, g := poolWindows("MaxPool2d", x, kernel, stride, padding, negInf)
	return cols.Max(1).Reshape(x.shape[0], x.shape[1], g.oh, g.ow)
}

// AvgPool2d returns the mean over kh×kw windows of the NCHW input x. A zero
// stride means stride = kernel. Padded zeros count in the mean, as
// PyTorch's default count_include_pad.
func AvgPool2d(x *Tensor, kernel, stride, padding [2]int) *Tensor {
	cols, g := poolWindows("AvgPool2d", x, kernel, stride, padding, 0)
	return cols.Mean(1).Reshape(x.shape[0], x.shape[1], g.oh, g.ow)
}

// AdaptiveAvgPool2d averages the NCHW input x down to outH×outW, with the
// bins of torch.nn.AdaptiveAvgPool2d: bin i of an axis of length n covers
// [⌊i·n/out⌋, ⌈(i+1)·n/out⌉).
func AdaptiveAvgPool2d(x *Tensor, outH, outW int) *Tensor {
	if len(x.shape) != 4 {
		panicShape("AdaptiveAvgPool2d", "input must be 4-d (N, C, H, W)", x.shape)
	}
	if outH <= 0 || outW <= 0 {
		panicShape("AdaptiveAvgPool2d", "output size must be positive", x.shape, []int{outH, outW})
	}
	ph := binMatrix(x.dtype, outH, x.shape[2])     // (outH, H)
	pw := binMatrix(x.dtype, outW, x.shape[3]).T() // (W, outW)
	return ph.MatMul(x).MatMul(pw)
}

// binMatrix returns the (out, n) matrix whose row i averages bin i.
func binMatrix(dt DType, out, n int) *Tensor {
	m := newTensor(dt, []int{out, n})
	for i := 0; i < out; i++ {
		lo := i * n / out
		hi := ((i+1)*n + out - 1) / out
		for j := lo; j < hi; j++ {
			m.Set(1/float64(hi-lo), i, j)
		}
	}
	return m
}
