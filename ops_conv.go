package nabla

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/nabla-go/nabla/internal/loops"
)

// This file holds convolution and pooling. Linear primitives come in
// adjoint pairs whose backward rules are each other, so gradients of any
// order work: Unfold (im2col) and Fold (col2im), in two column layouts;
// the moves between the (out, N·L) layout of a convolution's product and
// images; max pooling's scatter and gather by the indices of each window's
// maximum; average pooling and its spreading adjoint.
//
// Conv2d is one op whose kernels (package loops) unfold a few images at a
// time and multiply them on the GEMM kernels. Its backward rule runs the
// same kernels when the backward pass is not recorded, and otherwise
// builds the gradients from the differentiable primitives above and
// MatMul, so that they can be differentiated again.

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

// loops returns the geometry in the form the kernels of package loops take.
func (g window) loops() loops.Window {
	return loops.Window{N: g.n, C: g.c, H: g.h, W: g.w, KH: g.kh, KW: g.kw,
		SH: g.sh, SW: g.sw, PH: g.ph, PW: g.pw, DH: g.dh, DW: g.dw, OH: g.oh, OW: g.ow}
}

// Unfold extracts sliding kh×kw windows from the NCHW tensor x into columns,
// as torch.nn.functional.unfold: the result has shape (N, C·kh·kw, L) where
// L is the number of window positions, and row (c·kh + i)·kw + j holds tap
// (i, j) of channel c. Padded positions read as 0.
func (x *Tensor) Unfold(kh, kw int, opt ConvOptions) *Tensor {
	if floatKernel("Unfold", x.dtype) {
		return x.To(Float32).Unfold(kh, kw, opt).To(x.dtype)
	}
	return unfold(x, newWindow("Unfold", x.shape, kh, kw, opt.withDefaults()), loops.ImageMajor)
}

// unfold is im2col in either layout: loops.ImageMajor gives Unfold's
// (N, C·kh·kw, L); loops.TapMajor gives (C·kh·kw, N·L), the batch joined
// to the window positions, which turns a convolution of the whole batch
// into one matrix product. The two layouts are recorded as different ops
// (Unfold and Im2col), each with the matching fold as its backward rule.
func unfold(x *Tensor, g window, lay loops.ColLayout) *Tensor {
	out := unfoldRaw(x, g, lay)
	bw := func(gr, _ *Tensor, _ []*Tensor) []*Tensor { return []*Tensor{fold(gr, g, lay)} }
	if lay == loops.TapMajor {
		return record("Im2col", out, bw, x)
	}
	return record("Unfold", out, bw, x)
}

// unfoldShape is the shape of x's columns in the layout lay: (N, K, L)
// or (K, N·L) with K = C·kh·kw taps and L window positions.
func unfoldShape(g window, lay loops.ColLayout) []int {
	K, L := g.c*g.kh*g.kw, g.oh*g.ow
	if lay == loops.TapMajor {
		return []int{K, g.n * L}
	}
	return []int{g.n, K, L}
}

// unfoldRaw is unfold without recording.
func unfoldRaw(x *Tensor, g window, lay loops.ColLayout) *Tensor {
	shape := unfoldShape(g, lay)
	out := newShared(x.arena, x.dtype, shape, contiguousStrides(shape))
	if out.Len() > 0 {
		src := x.contiguous()
		if x.dtype == Float64 {
			loops.Unfold(out.f64, src.f64[src.offset:], g.loops(), lay, 0)
		} else {
			loops.Unfold(out.f32, src.f32[src.offset:], g.loops(), lay, 0)
		}
	}
	return out
}

// fold sums columns laid out by unfold back into an NCHW tensor (col2im):
// the adjoint of unfold, whose backward rule is unfold.
func fold(cols *Tensor, g window, lay loops.ColLayout) *Tensor {
	shape := []int{g.n, g.c, g.h, g.w}
	out := newZeroed(cols.arena, cols.dtype, shape, contiguousStrides(shape))
	if cols.Len() > 0 {
		src := cols.contiguous()
		if cols.dtype == Float64 {
			loops.Fold(out.f64, src.f64[src.offset:], g.loops(), lay)
		} else {
			loops.Fold(out.f32, src.f32[src.offset:], g.loops(), lay)
		}
	}
	bw := func(gr, _ *Tensor, _ []*Tensor) []*Tensor { return []*Tensor{unfold(gr, g, lay)} }
	if lay == loops.TapMajor {
		return record("Col2im", out, bw, cols)
	}
	return record("Fold", out, bw, cols)
}

// Conv2d returns the 2-d cross-correlation of the NCHW input x with weights
// w of shape (out, in/groups, kh, kw), plus the bias b of shape (out) if b
// is not nil, as torch.nn.functional.conv2d. It panics with a *ShapeError
// if the channel counts do not fit.
//
// It is computed as matrix products: x unfolded into columns
// (C·kh·kw, L) for its L window positions, times the weights as an
// (out, C·kh·kw) matrix per group. A few images are processed at a time,
// so that their columns stay in the cache from the unfold through the
// product, and the chunks are spread over the cores. The backward pass
// runs the same way: the weight gradient is g·colsᵀ, the input gradient
// wᵀ·g folded back. When the backward pass is itself recorded (for
// higher-order gradients), it is built from differentiable ops instead:
// [Tensor.MatMul] and the unfold/fold pair over the whole batch.
func Conv2d(x, w, b *Tensor, opt ConvOptions) *Tensor {
	if dt := promote(x.dtype, w.dtype); floatKernel("Conv2d", dt) {
		var b32 *Tensor
		if b != nil {
			b32 = b.To(Float32)
		}
		return Conv2d(x.To(Float32), w.To(Float32), b32, opt).To(dt)
	}
	x, w, b, g, cv := convArgs(x, w, b, opt)
	y := convForward(x, w, b, nil, false, g, cv)
	groups := cv.Groups
	return record("Conv2d", y, func(gr, _ *Tensor, in []*Tensor) []*Tensor {
		if !gr.noGraph && (gr.requiresGrad || in[0].requiresGrad || in[1].requiresGrad) {
			return conv2dBackwardOps(gr, in, g, groups)
		}
		return conv2dBackward(gr, in, cv)
	}, x, w, b)
}

// Conv2dReLU returns Conv2d(x, w, b, opt) plus res, when res is not nil,
// through Relu: the convolution, residual add and ReLU of a ResNet block
// as one call. When no graph is recorded (inference: no input requires
// grad) the add and the ReLU are done in the convolution's own pass over
// its output, a chunk at a time while it is in the cache, with the same
// results bit for bit as the three ops; otherwise it is those ops, so
// gradients of any order work. res must have the output's shape, or
// broadcast to it as in Add.
func Conv2dReLU(x, w, b, res *Tensor, opt ConvOptions) *Tensor {
	recorded := false
	for _, t := range []*Tensor{x, w, b, res} {
		if t != nil && t.noGraph {
			recorded = false
			break
		}
		recorded = recorded || t != nil && t.requiresGrad
	}
	fuse := !recorded && (x.dtype == Float32 || x.dtype == Float64) && w.dtype == x.dtype &&
		(b == nil || b.dtype == x.dtype) && (res == nil || res.dtype == x.dtype)
	if fuse {
		x, w, b, g, cv := convArgs(x, w, b, opt)
		if res == nil || slices.Equal(res.shape, []int{g.n, cv.O, g.oh, g.ow}) {
			return record("Conv2dReLU", convForward(x, w, b, res, true, g, cv), nil, x, w, b, res)
		}
	}
	y := Conv2d(x, w, b, opt)
	if res != nil {
		y = y.Add(res)
	}
	return y.Relu()
}

// convArgs checks the arguments of a convolution and returns them in one
// float dtype, with their geometry.
func convArgs(x, w, b *Tensor, opt ConvOptions) (_, _, _ *Tensor, _ window, _ loops.Conv) {
	opt = opt.withDefaults()
	if len(w.shape) != 4 {
		panicShape("Conv2d", "weight must be 4-d (out, in/groups, kh, kw)", x.shape, w.shape)
	}
	if len(x.shape) != 4 {
		panicShape("Conv2d", "input must be 4-d (N, C, H, W)", x.shape, w.shape)
	}
	groups := opt.Groups
	out, cg := w.shape[0], w.shape[1]
	if groups <= 0 || x.shape[1] != cg*groups || out%groups != 0 {
		panicShape("Conv2d", "input has "+strconv.Itoa(x.shape[1])+" channels, weight expects "+strconv.Itoa(cg*groups)+" in "+strconv.Itoa(groups)+" group(s)", x.shape, w.shape)
	}
	if b != nil && (len(b.shape) != 1 || b.shape[0] != out) {
		panicShape("Conv2d", "bias must have shape ["+strconv.Itoa(out)+"]", w.shape, b.shape)
	}
	if x.dtype != w.dtype {
		dt := promote(x.dtype, w.dtype)
		x, w = x.To(dt), w.To(dt)
	}
	if b != nil && b.dtype != x.dtype {
		b = b.To(x.dtype)
	}
	g := newWindow("Conv2d", x.shape, w.shape[2], w.shape[3], opt)
	return x, w, b, g, loops.Conv{Window: g.loops(), O: out, Groups: groups}
}

// convForward computes the convolution's output, without recording it,
// with res added (when not nil; it has the output's shape) and the ReLU
// applied when relu is set.
func convForward(x, w, b, res *Tensor, relu bool, g window, cv loops.Conv) *Tensor {
	out := cv.O
	shape := []int{g.n, out, g.oh, g.ow}
	y := newShared(arenaOf(x, w), x.dtype, shape, contiguousStrides(shape))
	if y.Len() == 0 {
		return y
	}
	xc, wc := x.contiguous(), w.contiguous()
	var bc, rc *Tensor
	if b != nil {
		bc = b.contiguous()
	}
	if res != nil {
		rc = res.contiguous()
	}
	if x.dtype == Float64 {
		var bias []float64
		if bc != nil {
			bias = bc.f64[bc.offset : bc.offset+out]
		}
		ep := loops.ConvEpilogue[float64]{ReLU: relu}
		if rc != nil {
			ep.Res = rc.f64[rc.offset : rc.offset+y.Len()]
		}
		loops.ConvForwardFused(y.f64, xc.f64[xc.offset:], wc.f64[wc.offset:], bias, cv, ep)
	} else {
		var bias []float32
		if bc != nil {
			bias = bc.f32[bc.offset : bc.offset+out]
		}
		ep := loops.ConvEpilogue[float32]{ReLU: relu}
		if rc != nil {
			ep.Res = rc.f32[rc.offset : rc.offset+y.Len()]
		}
		loops.ConvForwardFused(y.f32, xc.f32[xc.offset:], wc.f32[wc.offset:], bias, cv, ep)
	}
	return y
}

// conv2dBackward computes Conv2d's gradients directly, for a backward pass
// that is not recorded. Like the results of ops on gr, they carry gr's
// noGraph mark.
func conv2dBackward(gr *Tensor, in []*Tensor, cv loops.Conv) []*Tensor {
	x, w, b := in[0], in[1], in[2]
	var gx, gw, gb *Tensor
	if wantsGrad(x) {
		gx = newShared(gr.arena, x.dtype, x.shape, contiguousStrides(x.shape))
		gx.noGraph = gr.noGraph
	}
	if wantsGrad(w) {
		gw = newShared(gr.arena, w.dtype, w.shape, contiguousStrides(w.shape))
		gw.noGraph = gr.noGraph
	}
	if b != nil && wantsGrad(b) {
		gb = newShared(gr.arena, b.dtype, b.shape, contiguousStrides(b.shape))
		gb.noGraph = gr.noGraph
	}
	if gr.Len() == 0 {
		for _, t := range []*Tensor{gx, gw, gb} {
			if t != nil {
				clear(t.f32)
				clear(t.f64)
			}
		}
		return []*Tensor{gx, gw, gb}
	}
	gc, xc, wc := gr.contiguous(), x.contiguous(), w.contiguous()
	if gr.dtype == Float64 {
		var dx, dw, db []float64
		if gx != nil {
			dx = gx.f64
		}
		if gw != nil {
			dw = gw.f64
		}
		if gb != nil {
			db = gb.f64
		}
		loops.ConvBackward(dx, dw, db, gc.f64[gc.offset:gc.offset+gc.Len()], xc.f64[xc.offset:], wc.f64[wc.offset:], cv)
	} else {
		var dx, dw, db []float32
		if gx != nil {
			dx = gx.f32
		}
		if gw != nil {
			dw = gw.f32
		}
		if gb != nil {
			db = gb.f32
		}
		loops.ConvBackward(dx, dw, db, gc.f32[gc.offset:gc.offset+gc.Len()], xc.f32[xc.offset:], wc.f32[wc.offset:], cv)
	}
	return []*Tensor{gx, gw, gb}
}

// conv2dBackwardOps computes Conv2d's gradients with differentiable ops,
// over the whole batch at once: with g2, the gradient moved to the
// (out, N·L) layout, and cols, x unfolded to (C·kh·kw, N·L), the weight
// gradient is g2·colsᵀ, the input gradient wᵀ·g2 folded back, and the
// bias gradient the sum of g2's rows.
func conv2dBackwardOps(gr *Tensor, in []*Tensor, g window, groups int) []*Tensor {
	x, w, b := in[0], in[1], in[2]
	out := w.shape[0]
	og, kg := out/groups, w.shape[1]*g.kh*g.kw
	nl := g.n * g.oh * g.ow
	g2 := imagesToCols(gr, g) // (out, N·L)
	var gx, gw, gb *Tensor
	if wantsGrad(w) {
		cols := unfold(x, g, loops.TapMajor) // (C·kh·kw, N·L)
		if groups == 1 {
			gw = g2.MatMul(cols.T())
		} else {
			gw = g2.Reshape(groups, og, nl).MatMul(cols.Reshape(groups, kg, nl).T())
		}
		gw = gw.Reshape(w.shape...)
	}
	if wantsGrad(x) {
		var cols *Tensor
		if groups == 1 {
			cols = w.Reshape(out, kg).T().MatMul(g2)
		} else {
			cols = w.Reshape(groups, og, kg).T().MatMul(g2.Reshape(groups, og, nl))
		}
		gx = fold(cols.Reshape(groups*kg, nl), g, loops.TapMajor)
	}
	if b != nil && wantsGrad(b) {
		gb = g2.Sum(1)
	}
	return []*Tensor{gx, gw, gb}
}

// colsToImages moves y, of shape (out, N·L), to the (N, out, OH, OW)
// layout of images. It is linear, and its backward rule is the inverse
// move, imagesToCols.
func colsToImages(y *Tensor, g window) *Tensor {
	o, L := y.shape[0], g.oh*g.ow
	shape := []int{g.n, o, g.oh, g.ow}
	out := newShared(y.arena, y.dtype, shape, contiguousStrides(shape))
	if out.Len() > 0 {
		src := y.contiguous()
		if y.dtype == Float64 {
			loops.ColsToImages(out.f64, src.f64[src.offset:], nil, g.n, o, L)
		} else {
			loops.ColsToImages(out.f32, src.f32[src.offset:], nil, g.n, o, L)
		}
	}
	return record("ColsToImages", out, func(gr, _ *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{imagesToCols(gr, g)}
	}, y)
}

// imagesToCols moves (N, out, OH, OW) images to the (out, N·L) layout:
// the adjoint and inverse of colsToImages, and its backward rule.
func imagesToCols(x *Tensor, g window) *Tensor {
	o, L := x.shape[1], g.oh*g.ow
	shape := []int{o, g.n * L}
	out := newShared(x.arena, x.dtype, shape, contiguousStrides(shape))
	if out.Len() > 0 {
		src := x.contiguous()
		if x.dtype == Float64 {
			loops.ImagesToCols(out.f64, src.f64[src.offset:], g.n, o, L)
		} else {
			loops.ImagesToCols(out.f32, src.f32[src.offset:], g.n, o, L)
		}
	}
	return record("ImagesToCols", out, func(gr, _ *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{colsToImages(gr, g)}
	}, x)
}

// PoolOptions sets the geometry and rules of 2-d max and average pooling,
// as the arguments of torch.nn.functional.max_pool2d and avg_pool2d. Zero
// values mean PyTorch's defaults: stride = kernel, no padding, dilation
// 1, floor mode, padded cells counted in averages, no divisor override.
type PoolOptions struct {
	Stride   [2]int // step between windows, (height, width); [0 0] means the kernel size
	Padding  [2]int // added on each side, at most half the kernel; -Inf for max pooling, zeros for average
	Dilation [2]int // spacing between kernel taps, max pooling only; [0 0] means 1

	// CeilMode rounds the output size up instead of down, as
	// ceil_mode=True: a last window that runs past the padded input is
	// kept, pooling the cells it covers, if it starts inside the input or
	// its left padding; otherwise it is dropped.
	CeilMode bool

	// ExcludePad (average pooling) divides each window's sum by the number
	// of its cells inside the input, not counting padding: PyTorch's
	// count_include_pad=False. Without it the divisor counts the padded
	// cells too, kh·kw except for ceil-mode windows that run past the
	// padded input, which count only the cells inside it (as PyTorch).
	ExcludePad bool

	// DivisorOverride (average pooling), when not 0, is what every
	// window's sum is divided by, as divisor_override.
	DivisorOverride int
}

// poolOutSize is the number of window positions along one axis, as
// PyTorch's pooling_output_shape: in ceil mode the size is rounded up, but
// a last window that would start past the input and its left padding is
// dropped. It may be < 1, which the caller rejects.
func poolOutSize(in, k, s, p, d int, ceil bool) int {
	num := in + 2*p - d*(k-1) - 1
	if ceil {
		num += s - 1
	}
	q := num / s
	if num < 0 && num%s != 0 {
		q-- // round toward -∞, as PyTorch's div_rtn
	}
	out := q + 1
	if ceil && (out-1)*s >= in+p {
		out--
	}
	return out
}

// poolWindow checks the arguments of a pooling op and returns its geometry
// over the planes of x. It panics with a *ShapeError naming op and the
// values at fault, as PyTorch's pool2d_shape_check rejects them.
func poolWindow(op string, x *Tensor, kernel [2]int, o PoolOptions) window {
	if len(x.shape) != 4 {
		panicShape(op, "input must be 4-d (N, C, H, W)", x.shape)
	}
	bad := func(format string, args ...any) {
		panicShape(op, fmt.Sprintf(format, args...), x.shape)
	}
	if kernel[0] <= 0 || kernel[1] <= 0 {
		bad("kernel %v must be positive", kernel)
	}
	// A zero stride or dilation means the default only as a whole: a
	// single zero is an error, as PyTorch reports it.
	if o.Stride == [2]int{} {
		o.Stride = kernel
	} else if o.Stride[0] <= 0 || o.Stride[1] <= 0 {
		bad("stride %v must be positive, or [0 0] for the kernel size", o.Stride)
	}
	if o.Dilation == [2]int{} {
		o.Dilation = [2]int{1, 1}
	} else if o.Dilation[0] <= 0 || o.Dilation[1] <= 0 {
		bad("dilation %v must be positive, or [0 0] for 1", o.Dilation)
	}
	if o.Padding[0] < 0 || o.Padding[1] < 0 {
		bad("padding %v must not be negative", o.Padding)
	}
	// On the kernel's size, not its dilated span, as PyTorch checks it.
	if o.Padding[0] > kernel[0]/2 || o.Padding[1] > kernel[1]/2 {
		bad("padding %v must be at most half the kernel %v", o.Padding, kernel)
	}
	g := window{n: x.shape[0], c: x.shape[1], h: x.shape[2], w: x.shape[3], kh: kernel[0], kw: kernel[1],
		sh: o.Stride[0], sw: o.Stride[1], ph: o.Padding[0], pw: o.Padding[1], dh: o.Dilation[0], dw: o.Dilation[1]}
	g.oh = poolOutSize(g.h, g.kh, g.sh, g.ph, g.dh, o.CeilMode)
	g.ow = poolOutSize(g.w, g.kw, g.sw, g.pw, g.dw, o.CeilMode)
	if g.oh < 1 || g.ow < 1 {
		bad("kernel %v with stride %v, padding %v, dilation %v and ceil mode %v gives an output of %dx%d: too small",
			kernel, o.Stride, o.Padding, o.Dilation, o.CeilMode, g.oh, g.ow)
	}
	return g
}

// poolIndex returns a buffer for n int32 indices, from ar when it is not
// nil so that a warm training loop allocates none.
func poolIndex(ar *Arena, n int) []int32 {
	if ar == nil {
		return make([]int32, n)
	}
	return ar.getInt32(n)
}

// MaxPool2d returns the maximum over kernel-sized windows of the NCHW
// input x, as torch.nn.functional.max_pool2d with the options of opt (see
// [PoolOptions]; zero values are PyTorch's defaults). Padding counts as
// -Inf. A dilated window that has no tap inside the input gives -Inf, as
// in PyTorch, and no gradient. It panics with a *ShapeError for a bad
// geometry and a *ValueError for the options of average pooling.
//
// The forward pass records which element of each window is its maximum,
// and the gradient flows to that element only. When a window holds tied
// maxima that is the first of them in row-major order, and a NaN counts as
// the maximum, as in PyTorch's max_pool2d. The backward pass (a scatter
// by the recorded indices) and its own backward (a gather by them) are
// linear ops, so gradients of any order work.
func MaxPool2d(x *Tensor, kernel [2]int, opt PoolOptions) *Tensor {
	if floatKernel("MaxPool2d", x.dtype) {
		return MaxPool2d(x.To(Float32), kernel, opt).To(x.dtype)
	}
	if opt.ExcludePad || opt.DivisorOverride != 0 {
		panicValue("MaxPool2d", "ExcludePad (%v) and DivisorOverride (%d) are options of average pooling", opt.ExcludePad, opt.DivisorOverride)
	}
	g := poolWindow("MaxPool2d", x, kernel, opt)
	lg := g.loops()
	holes := lg.Holes()
	shape := []int{g.n, g.c, g.oh, g.ow}
	out := newShared(x.arena, x.dtype, shape, contiguousStrides(shape))
	if !x.requiresGrad || x.noGraph {
		// Not recorded (see record): no backward pass will want the
		// indices, and the values alone are quicker to find.
		if out.Len() > 0 {
			src := x.contiguous()
			if x.dtype == Float64 {
				loops.MaxPoolValues(out.f64, src.f64[src.offset:], lg)
			} else {
				loops.MaxPoolValues(out.f32, src.f32[src.offset:], lg)
			}
		}
		return record("MaxPool2d", out, nil, x)
	}
	idx := poolIndex(x.arena, out.Len())
	if out.Len() > 0 {
		src := x.contiguous()
		if x.dtype == Float64 {
			loops.MaxPool(out.f64, idx, src.f64[src.offset:], lg)
		} else {
			loops.MaxPool(out.f32, idx, src.f32[src.offset:], lg)
		}
	}
	return record("MaxPool2d", out, func(gr, _ *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{poolScatter(gr, idx, g, holes)}
	}, x)
}

// poolScatter adds each element of gr, of shape (N, C, OH, OW), into a zero
// (N, C, H, W) tensor at the plane position idx gives: max pooling's
// backward pass. It is linear in gr; its backward rule is poolGather.
// With holes, idx marks windows without an input element by -1, and
// their gradients go nowhere.
func poolScatter(gr *Tensor, idx []int32, g window, holes bool) *Tensor {
	shape := []int{g.n, g.c, g.h, g.w}
	var out *Tensor
	if gr.Len() == 0 {
		out = newZeroed(gr.arena, gr.dtype, shape, contiguousStrides(shape))
	} else {
		// PoolScatter clears each plane itself, on the goroutine that
		// fills it.
		out = newShared(gr.arena, gr.dtype, shape, contiguousStrides(shape))
		src := gr.contiguous()
		n := src.Len()
		if gr.dtype == Float64 {
			loops.PoolScatter(out.f64, src.f64[src.offset:src.offset+n], idx, g.h*g.w, g.oh*g.ow, holes)
		} else {
			loops.PoolScatter(out.f32, src.f32[src.offset:src.offset+n], idx, g.h*g.w, g.oh*g.ow, holes)
		}
	}
	return record("MaxPool2dScatter", out, func(gg, _ *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{poolGather(gg, idx, g, holes)}
	}, gr)
}

// poolGather picks from x, of shape (N, C, H, W), the element of each plane
// that idx names for each window (0 for a hole): max pooling with known
// indices, the adjoint of poolScatter and its backward rule.
func poolGather(x *Tensor, idx []int32, g window, holes bool) *Tensor {
	shape := []int{g.n, g.c, g.oh, g.ow}
	out := newShared(x.arena, x.dtype, shape, contiguousStrides(shape))
	if out.Len() > 0 {
		src := x.contiguous()
		if x.dtype == Float64 {
			loops.PoolGather(out.f64, src.f64[src.offset:], idx, g.h*g.w, g.oh*g.ow, holes)
		} else {
			loops.PoolGather(out.f32, src.f32[src.offset:], idx, g.h*g.w, g.oh*g.ow, holes)
		}
	}
	return record("MaxPool2dGather", out, func(gg, _ *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{poolScatter(gg, idx, g, holes)}
	}, x)
}

// AvgPool2d returns the mean over kernel-sized windows of the NCHW input
// x, as torch.nn.functional.avg_pool2d with the options of opt (see
// [PoolOptions]; zero values are PyTorch's defaults). By default padded
// zeros count in the mean (count_include_pad); ExcludePad leaves them out
// and DivisorOverride replaces the count. Dilation must be zero or [1 1]:
// PyTorch's average pooling has none. It panics with a *ShapeError for a
// bad geometry and a *ValueError for a dilation.
//
// It is linear in x; its backward pass spreads each gradient, divided as
// the mean was, over its window, and that op's backward is AvgPool2d
// again.
func AvgPool2d(x *Tensor, kernel [2]int, opt PoolOptions) *Tensor {
	if floatKernel("AvgPool2d", x.dtype) {
		return AvgPool2d(x.To(Float32), kernel, opt).To(x.dtype)
	}
	if opt.Dilation != [2]int{} && opt.Dilation != [2]int{1, 1} {
		panicValue("AvgPool2d", "dilation %v: average pooling has no dilation", opt.Dilation)
	}
	g := poolWindow("AvgPool2d", x, kernel, opt)
	return avgPool(x, g, loops.AvgDivisor{Override: opt.DivisorOverride, ExcludePad: opt.ExcludePad})
}

func avgPool(x *Tensor, g window, dv loops.AvgDivisor) *Tensor {
	shape := []int{g.n, g.c, g.oh, g.ow}
	out := newShared(x.arena, x.dtype, shape, contiguousStrides(shape))
	if out.Len() > 0 {
		src := x.contiguous()
		if x.dtype == Float64 {
			loops.AvgPool(out.f64, src.f64[src.offset:], g.loops(), dv)
		} else {
			loops.AvgPool(out.f32, src.f32[src.offset:], g.loops(), dv)
		}
	}
	return record("AvgPool2d", out, func(gr, _ *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{avgPoolAdjoint(gr, g, dv)}
	}, x)
}

// avgPoolAdjoint spreads each element of gr, of shape (N, C, OH, OW),
// divided by its window's divisor, over its window of a zero (N, C, H, W)
// tensor: the adjoint of avgPool.
func avgPoolAdjoint(gr *Tensor, g window, dv loops.AvgDivisor) *Tensor {
	shape := []int{g.n, g.c, g.h, g.w}
	out := newZeroed(gr.arena, gr.dtype, shape, contiguousStrides(shape))
	if gr.Len() > 0 {
		src := gr.contiguous()
		n := src.Len()
		if gr.dtype == Float64 {
			loops.AvgPoolAdjoint(out.f64, src.f64[src.offset:src.offset+n], g.loops(), dv)
		} else {
			loops.AvgPoolAdjoint(out.f32, src.f32[src.offset:src.offset+n], g.loops(), dv)
		}
	}
	return record("AvgPool2dBackward", out, func(gg, _ *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{avgPool(gg, g, dv)}
	}, gr)
}

// AdaptiveAvgPool2d averages the NCHW input x down to outH×outW, with the
// bins of torch.nn.AdaptiveAvgPool2d: bin i of an axis of length n covers
// [⌊i·n/out⌋, ⌈(i+1)·n/out⌉).
func AdaptiveAvgPool2d(x *Tensor, outH, outW int) *Tensor {
	if floatKernel("AdaptiveAvgPool2d", x.dtype) {
		return AdaptiveAvgPool2d(x.To(Float32), outH, outW).To(x.dtype)
	}
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
