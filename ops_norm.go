package nabla

import (
	"math"
	"slices"

	"github.com/nabla-go/nabla/internal/loops"
)

// LayerNorm normalises x over its trailing dimensions, which must equal
// normalized: (x - mean)/√(var + eps), with the mean and the biased
// variance of each slice over those dimensions, as
// torch.nn.functional.layer_norm without weight and bias (multiply and add
// those after; nn.LayerNorm does). It is one fused op, forward and
// backward. It panics with a *ShapeError if normalized is empty or does
// not match x's trailing dimensions.
func LayerNorm(x *Tensor, normalized []int, eps float64) *Tensor {
	if floatKernel("LayerNorm", x.dtype) {
		return LayerNorm(x.To(Float32), normalized, eps).To(x.dtype)
	}
	m, d, axes := trailingRows("LayerNorm", x, normalized)
	xc := x.contiguous()
	out := newShared(x.arena, x.dtype, append([]int(nil), x.shape...), contiguousStrides(x.shape))
	rstd := make([]float64, m) // 1/√(var + eps) per slice, for the backward pass
	if m > 0 && d > 0 {
		if x.dtype == Float64 {
			loops.LayerNormFwd(out.f64, xc.f64[xc.offset:], rstd, m, d, eps)
		} else {
			loops.LayerNormFwd(out.f32, xc.f32[xc.offset:], rstd, m, d, eps)
		}
	}
	return record("LayerNorm", out, func(g, y *Tensor, in []*Tensor) []*Tensor {
		if !g.noGraph {
			// A recorded backward pass (CreateGraph): the gradient must
			// itself be differentiable in x, so it is composed of ops.
			return []*Tensor{layerNormGradOps(g, in[0], axes, eps)}
		}
		return []*Tensor{layerNormGrad(g, y, rstd, m, d)}
	}, x)
}

// layerNormGrad computes LayerNorm's input gradient directly, for a
// backward pass that is not recorded; the result carries g's noGraph mark.
func layerNormGrad(g, y *Tensor, rstd []float64, m, d int) *Tensor {
	if g.dtype != y.dtype {
		g = g.To(y.dtype)
	}
	gc, yc := g.contiguous(), y.contiguous()
	dx := newShared(g.arena, y.dtype, append([]int(nil), y.shape...), contiguousStrides(y.shape))
	dx.noGraph = g.noGraph
	if m > 0 && d > 0 {
		if y.dtype == Float64 {
			loops.LayerNormBwd(dx.f64, gc.f64[gc.offset:], yc.f64[yc.offset:], rstd, m, d)
		} else {
			loops.LayerNormBwd(dx.f32, gc.f32[gc.offset:], yc.f32[yc.offset:], rstd, m, d)
		}
	}
	return dx
}

// layerNormGradOps is layerNormGrad written with ops, recomputing the
// statistics from x so that their dependence on x is recorded too:
// dx = rstd·(g - mean(g) - x̂·mean(g·x̂)), x̂ = (x - mean)·rstd.
func layerNormGradOps(g, x *Tensor, axes []int, eps float64) *Tensor {
	c := x.Sub(x.MeanKeep(axes...))
	rstd := x.VarKeep(0, axes...).AddScalar(eps).PowScalar(-0.5)
	xhat := c.Mul(rstd)
	return rstd.Mul(g.Sub(g.MeanKeep(axes...)).Sub(xhat.Mul(g.Mul(xhat).MeanKeep(axes...))))
}

// BatchNorm normalises x, of shape (N, C, ...), over every dimension but
// the channels (dimension 1): y = (x - mean_c)/√(var_c + eps), with the
// batch's mean and biased variance of each channel c, as PyTorch's
// batch_norm in training mode without an affine transform. It also
// returns those statistics, of shape (C) and outside the graph, for a
// layer's running averages. It is one fused op with a fused gradient; a
// recorded backward pass (CreateGraph) builds the gradient of ops, so
// higher orders hold. It panics with a *ShapeError if x has fewer than 2
// dimensions.
func BatchNorm(x *Tensor, eps float64) (y, mean, variance *Tensor) {
	return BatchNormAffine(x, nil, nil, eps)
}

// BatchNormAffine is [BatchNorm] followed by the per-channel affine
// transform of nn.BatchNorm2d: y = weight_c·x̂ + bias_c, with weight and
// bias of shape (C); either may be nil (no scale, no shift). It is one op,
// forward and backward: the gradients of weight and bias are the sums
// that the input's gradient needs anyway, so a training step reads the
// activations twice instead of once per op of the decomposed form. It
// panics with a *ShapeError if weight or bias does not hold C values.
func BatchNormAffine(x, weight, bias *Tensor, eps float64) (y, mean, variance *Tensor) {
	if floatKernel("BatchNorm", x.dtype) {
		y, mean, variance = BatchNormAffine(x.To(Float32), halfToF32(weight), halfToF32(bias), eps)
		return y.To(x.dtype), mean.To(x.dtype), variance.To(x.dtype)
	}
	if len(x.shape) < 2 {
		panicShape("BatchNorm", "the input needs a batch and a channel dimension (N, C, ...)", x.shape)
	}
	N, C := x.shape[0], x.shape[1]
	S := numel(x.shape[2:])
	// a weight or bias of the other float type is converted (a recorded
	// To, so its gradient flows back), as the decomposed ops would promote
	weight, bias = asFloatOf(weight, x.dtype), asFloatOf(bias, x.dtype)
	w, b := channelValues("weight", weight, x, C), channelValues("bias", bias, x, C)
	xc := x.contiguous()
	out := newShared(x.arena, x.dtype, append([]int(nil), x.shape...), contiguousStrides(x.shape))
	m, v := make([]float64, C), make([]float64, C)
	if N*S > 0 {
		if x.dtype == Float64 {
			loops.BatchNormFwd(out.f64, xc.f64[xc.offset:], m, v, w, b, N, C, S, eps)
		} else {
			loops.BatchNormFwd(out.f32, xc.f32[xc.offset:], m, v, w, b, N, C, S, eps)
		}
	}
	rstd := make([]float64, C)
	for c := range rstd {
		rstd[c] = 1 / math.Sqrt(v[c]+eps)
	}
	axes := []int{0}
	for d := 2; d < len(x.shape); d++ {
		axes = append(axes, d)
	}
	y = record("BatchNorm", out, func(g, y *Tensor, in []*Tensor) []*Tensor {
		if !g.noGraph {
			// as LayerNorm: differentiable in x, so composed of ops
			return batchNormGradOps(g, in[0], in[1], in[2], axes, eps)
		}
		return batchNormGrad(g, in[0], in[1], in[2], m, rstd, w, N, C, S)
	}, x, weight, bias)
	return y, FromSlice(m).To(x.dtype), FromSlice(v).To(x.dtype)
}

// halfToF32 converts a half-precision t to Float32 (nil stays nil).
func halfToF32(t *Tensor) *Tensor {
	if t == nil || !t.dtype.isHalf() {
		return t
	}
	return t.To(Float32)
}

// asFloatOf converts a Float32 or Float64 p to dt (nil stays nil).
func asFloatOf(p *Tensor, dt DType) *Tensor {
	if p == nil || p.dtype == dt || p.dtype != Float32 && p.dtype != Float64 {
		return p
	}
	return p.To(dt)
}

// channelValues returns the C values of a per-channel parameter of
// BatchNorm in float64, or nil for a nil one.
func channelValues(name string, p, x *Tensor, C int) []float64 {
	if p == nil {
		return nil
	}
	if p.Len() != C || p.Dim() != 1 {
		panicShape("BatchNorm", name+" must have shape (C), C the input's dimension 1", x.shape, p.shape)
	}
	if p.dtype != x.dtype {
		panicValue("BatchNorm", "%s must be a float tensor, not %v", name, p.dtype)
	}
	return p.Float64s()
}

// batchNormGrad computes BatchNorm's gradients directly, for a backward
// pass that is not recorded: the input's from x and the statistics (x̂ is
// recomputed a row at a time rather than stored), and the weight's and
// bias's from the same sums. The results carry g's noGraph mark.
func batchNormGrad(g, x, weight, bias *Tensor, mean, rstd, w []float64, N, C, S int) []*Tensor {
	dt := x.dtype
	if g.dtype != dt {
		g = g.To(dt)
	}
	gc, xc := g.contiguous(), x.contiguous()
	dx := newShared(g.arena, dt, append([]int(nil), x.shape...), contiguousStrides(x.shape))
	dx.noGraph = g.noGraph
	var dw, db []float64
	if weight != nil && wantsGrad(weight) {
		dw = make([]float64, C)
	}
	if bias != nil && wantsGrad(bias) {
		db = make([]float64, C)
	}
	if N*S > 0 {
		if dt == Float64 {
			loops.BatchNormBwd(dx.f64, gc.f64[gc.offset:], xc.f64[xc.offset:], mean, rstd, w, dw, db, N, C, S)
		} else {
			loops.BatchNormBwd(dx.f32, gc.f32[gc.offset:], xc.f32[xc.offset:], mean, rstd, w, dw, db, N, C, S)
		}
	}
	grads := []*Tensor{dx, nil, nil}
	for i, s := range [][]float64{dw, db} {
		if s != nil {
			t := FromSlice(s).To(dt)
			t.noGraph = g.noGraph
			grads[1+i] = t
		}
	}
	return grads
}

// batchNormGradOps is batchNormGrad written with ops, recomputing the
// statistics from x so that their dependence on x is recorded too.
func batchNormGradOps(g, x, weight, bias *Tensor, axes []int, eps float64) []*Tensor {
	bshape := make([]int, len(x.shape))
	for i := range bshape {
		bshape[i] = 1
	}
	bshape[1] = x.shape[1]
	gx := g
	if weight != nil {
		gx = g.Mul(weight.Reshape(bshape...))
	}
	grads := []*Tensor{layerNormGradOps(gx, x, axes, eps), nil, nil}
	if weight != nil && wantsGrad(weight) {
		c := x.Sub(x.MeanKeep(axes...))
		xhat := c.Mul(x.VarKeep(0, axes...).AddScalar(eps).PowScalar(-0.5))
		grads[1] = g.Mul(xhat).Sum(axes...)
	}
	if bias != nil && wantsGrad(bias) {
		grads[2] = g.Sum(axes...)
	}
	return grads
}

// RMSNorm normalises x over its trailing dimensions, which must equal
// normalized, by their root mean square: x/√(mean(x²) + eps), as
// LLaMA's RMSNorm (and PyTorch 2.4's rms_norm) without the weight
// (multiply by it after). It is one fused op with a fused gradient; a
// recorded backward pass (CreateGraph) builds the gradient of ops, so
// higher orders hold. It panics with a *ShapeError if normalized is not
// x's trailing shape.
func RMSNorm(x *Tensor, normalized []int, eps float64) *Tensor {
	if floatKernel("RMSNorm", x.dtype) {
		return RMSNorm(x.To(Float32), normalized, eps).To(x.dtype)
	}
	m, d, axes := trailingRows("RMSNorm", x, normalized)
	xc := x.contiguous()
	out := newShared(x.arena, x.dtype, append([]int(nil), x.shape...), contiguousStrides(x.shape))
	rstd := make([]float64, m)
	if m > 0 && d > 0 {
		if x.dtype == Float64 {
			loops.RMSNormFwd(out.f64, xc.f64[xc.offset:], rstd, m, d, eps)
		} else {
			loops.RMSNormFwd(out.f32, xc.f32[xc.offset:], rstd, m, d, eps)
		}
	}
	return record("RMSNorm", out, func(g, y *Tensor, in []*Tensor) []*Tensor {
		if !g.noGraph {
			// dx = r·(g - y·mean(g·y)), y = x·r, r = (mean(x²)+eps)^-½, of ops
			x := in[0]
			r := x.Square().MeanKeep(axes...).AddScalar(eps).PowScalar(-0.5)
			y := x.Mul(r)
			return []*Tensor{r.Mul(g.Sub(y.Mul(g.Mul(y).MeanKeep(axes...))))}
		}
		if g.dtype != y.dtype {
			g = g.To(y.dtype)
		}
		gc, yc := g.contiguous(), y.contiguous()
		dx := newShared(g.arena, y.dtype, append([]int(nil), y.shape...), contiguousStrides(y.shape))
		dx.noGraph = g.noGraph
		if m > 0 && d > 0 {
			if y.dtype == Float64 {
				loops.RMSNormBwd(dx.f64, gc.f64[gc.offset:], yc.f64[yc.offset:], rstd, m, d)
			} else {
				loops.RMSNormBwd(dx.f32, gc.f32[gc.offset:], yc.f32[yc.offset:], rstd, m, d)
			}
		}
		return []*Tensor{dx}
	}, x)
}

// trailingRows checks that normalized is x's trailing shape (op names the
// caller in the panic) and returns x as m rows of d elements and the
// normalized axes.
func trailingRows(op string, x *Tensor, normalized []int) (m, d int, axes []int) {
	k := len(normalized)
	if k == 0 || k > len(x.shape) || !slices.Equal(x.shape[len(x.shape)-k:], normalized) {
		panicShape(op, "normalized shape "+shapeString(normalized)+" is not the input's trailing shape", x.shape)
	}
	d = numel(normalized)
	if d > 0 {
		m = x.Len() / d
	}
	axes = make([]int, k)
	for i := range axes {
		axes[i] = len(x.shape) - k + i
	}
	return m, d, axes
}
