package nabla

import (
	"math"
	"slices"

	"github.com/nabla-go/nabla/internal/loops"
)

// This file holds the reductions: sum, mean, max, min, argmax, variance and
// the composites built on them (logsumexp, softmax, log-softmax).

// normAxes returns the sorted, distinct, non-negative axes to reduce: all of
// them when none are given.
func (t *Tensor) normAxes(op string, axes []int) []int {
	if len(axes) == 0 {
		all := make([]int, len(t.shape))
		for i := range all {
			all[i] = i
		}
		return all
	}
	out := make([]int, len(axes))
	for i, a := range axes {
		out[i] = t.axis(op, a)
	}
	slices.Sort(out)
	for i := 1; i < len(out); i++ {
		if out[i] == out[i-1] {
			panicShape(op, "axis "+shapeString(axes)+" repeated", t.shape)
		}
	}
	return out
}

// keptShape returns t's shape with each reduced axis set to 1.
func keptShape(shape, axes []int) []int {
	out := append([]int(nil), shape...)
	for _, a := range axes {
		out[a] = 1
	}
	return out
}

// reduceRaw reduces t over axes (normalised) with op, keeping dimensions,
// into a new contiguous tensor. It records nothing.
func reduceRaw(op string, t *Tensor, rop loops.ReduceOp, axes []int) *Tensor {
	outShape := keptShape(t.shape, axes)
	out := newShared(t.arena, t.dtype, outShape, contiguousStrides(outShape))
	R := 1
	for _, a := range axes {
		R *= t.shape[a]
	}
	if R == 0 && rop != loops.Sum {
		panicShape(op, "cannot reduce an empty axis", t.shape)
	}
	if out.Len() == 0 {
		return out
	}
	if m, ok := outerInnerAxes(t.shape, axes); ok && rop == loops.Sum && t.IsContiguous() && (t.dtype == Float32 || t.dtype == Float64) {
		// Both ends reduced around kept middle axes, as the gradient of a
		// (1, C, 1, 1) broadcast over (N, C, H, W): summed in place,
		// without the transposed copy.
		a, i := numel(t.shape[:m[0]]), numel(t.shape[m[1]:])
		if t.dtype == Float32 {
			loops.SumOuterInner(out.f32, t.f32[t.offset:t.offset+t.Len()], a, out.Len(), i)
		} else {
			loops.SumOuterInner(out.f64, t.f64[t.offset:t.offset+t.Len()], a, out.Len(), i)
		}
		return out
	}
	src := t
	A, B := 1, 1
	if len(axes) == 0 && t.IsContiguous() {
		A = t.Len()
	} else if axesBlock(axes) && t.IsContiguous() {
		A, _, B = blockDims(t.shape, axes[0], axes[len(axes)-1])
	} else {
		// Move the reduced axes last, make that contiguous, reduce rows.
		perm := make([]int, 0, len(t.shape))
		for i := range t.shape {
			if !slices.Contains(axes, i) {
				perm = append(perm, i)
			}
		}
		perm = append(perm, axes...)
		src = t.permuteView(perm).copyContiguous()
		A = out.Len()
	}
	switch t.dtype {
	case Float32:
		loops.Reduce(rop, out.f32, src.f32[src.offset:src.offset+src.Len()], A, R, B)
	case Float64:
		loops.Reduce(rop, out.f64, src.f64[src.offset:src.offset+src.Len()], A, R, B)
	default:
		reduceLoops.of(t.dtype)(rop, out, src, A, R, B)
	}
	return out
}

func reduceOf[T loops.Real](rop loops.ReduceOp, out, src *Tensor, A, R, B int) {
	loops.Reduce(rop, storage[T](out), values[T](src), A, R, B)
}

var reduceLoops = byReal[func(rop loops.ReduceOp, out, src *Tensor, A, R, B int)]{reduceOf[float32], reduceOf[float64], reduceOf[int64], reduceOf[int32], reduceOf[uint8]}

// squeezeAxes removes the given (kept, size-1) axes from t's shape.
func squeezeAxes(t *Tensor, axes []int) *Tensor {
	shape := make([]int, 0, len(t.shape))
	for i, d := range t.shape {
		if !slices.Contains(axes, i) {
			shape = append(shape, d)
		}
	}
	return t.Reshape(shape...)
}

// SumKeep sums t over the given axes (all when none), keeping each reduced
// axis with length 1. Negative axes count from the end. Integer and Bool
// tensors sum exactly into Int64, as in PyTorch; Float16 and BFloat16 sum
// in float32 and round the result back.
func (t *Tensor) SumKeep(axes ...int) *Tensor {
	ax := t.normAxes("Sum", axes)
	switch {
	case t.dtype.isHalf():
		return t.To(Float32).SumKeep(axes...).To(t.dtype)
	case !t.dtype.IsFloat():
		return reduceRaw("Sum", t.To(Int64), loops.Sum, ax)
	}
	out := reduceRaw("Sum", t, loops.Sum, ax)
	return record("Sum", out, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		return []*Tensor{g.BroadcastTo(in[0].shape...)}
	}, t)
}

// Sum sums t over the given axes (all when none), removing them.
func (t *Tensor) Sum(axes ...int) *Tensor {
	return squeezeAxes(t.SumKeep(axes...), t.normAxes("Sum", axes))
}

// MeanKeep averages t over the given axes (all when none), keeping them.
// It panics with a *ValueError on an integer or Bool tensor, as PyTorch
// does: convert it with To(Float32) first.
func (t *Tensor) MeanKeep(axes ...int) *Tensor {
	if !t.dtype.IsFloat() {
		panicValue("Mean", "tensor is %v: Mean needs a floating-point dtype; convert with .To(nabla.Float32)", t.dtype)
	}
	ax := t.normAxes("Mean", axes)
	n := 1
	for _, a := range ax {
		n *= t.shape[a]
	}
	return t.SumKeep(ax...).MulScalar(1 / float64(n))
}

// Mean averages t over the given axes (all when none), removing them.
func (t *Tensor) Mean(axes ...int) *Tensor {
	return squeezeAxes(t.MeanKeep(axes...), t.normAxes("Mean", axes))
}

// MaxKeep returns the maximum of t over the given axes (all when none),
// keeping them. Tied maxima share the gradient equally, as PyTorch's amax.
func (t *Tensor) MaxKeep(axes ...int) *Tensor { return t.extremum("Max", loops.Max, axes) }

// Max returns the maximum over the given axes (all when none), removing them.
func (t *Tensor) Max(axes ...int) *Tensor {
	return squeezeAxes(t.MaxKeep(axes...), t.normAxes("Max", axes))
}

// MinKeep returns the minimum of t over the given axes, keeping them.
func (t *Tensor) MinKeep(axes ...int) *Tensor { return t.extremum("Min", loops.Min, axes) }

// Min returns the minimum over the given axes (all when none), removing them.
func (t *Tensor) Min(axes ...int) *Tensor {
	return squeezeAxes(t.MinKeep(axes...), t.normAxes("Min", axes))
}

func (t *Tensor) extremum(name string, rop loops.ReduceOp, axes []int) *Tensor {
	ax := t.normAxes(name, axes)
	switch {
	case t.dtype.isHalf():
		return t.To(Float32).extremum(name, rop, axes).To(t.dtype) // exact: the extremum is one of the values
	case !t.dtype.IsFloat():
		return reduceRaw(name, t, rop, ax) // not differentiable
	}
	out := reduceRaw(name, t, rop, ax)
	return record(name, out, func(g, out *Tensor, in []*Tensor) []*Tensor {
		x := in[0]
		return []*Tensor{g.BroadcastTo(x.shape...).Mul(extremumShare(name, x, out, ax))}
	}, t)
}

// extremumShare returns the constant share of an extremum's gradient that
// each element of x gets: 1/k for the k elements equal to the extremum out
// of their slice along axes, 0 for the others.
func extremumShare(name string, x, out *Tensor, axes []int) *Tensor {
	if axesBlock(axes) {
		// One pass when the reduced axes are a block: (outer, n, inner).
		xc, oc := x.contiguous(), out.contiguous()
		outer, n, inner := blockDims(x.shape, axes[0], axes[len(axes)-1])
		share := newShared(x.arena, x.dtype, append([]int(nil), x.shape...), contiguousStrides(x.shape))
		if x.dtype == Float64 {
			loops.ExtremumShare(share.f64, xc.f64[xc.offset:], oc.f64[oc.offset:], outer, n, inner)
		} else {
			loops.ExtremumShare(share.f32, xc.f32[xc.offset:], oc.f32[oc.offset:], outer, n, inner)
		}
		return share
	}
	mask := x.Detach().Equal(out.Detach()).To(x.dtype)
	return mask.Div(reduceRaw(name, mask, loops.Sum, axes))
}

// ArgMax returns the index of the first maximum along axis, with that axis
// removed, as an Int64 tensor (as in PyTorch). A NaN counts as the
// maximum. It is not differentiable.
func (t *Tensor) ArgMax(axis int) *Tensor {
	ax := t.axis("ArgMax", axis)
	return squeezeAxes(argReduce("ArgMax", t, loops.ArgMax, ax), []int{ax})
}

// ArgMaxKeep is ArgMax keeping the reduced axis with length 1.
func (t *Tensor) ArgMaxKeep(axis int) *Tensor {
	return argReduce("ArgMax", t, loops.ArgMax, t.axis("ArgMax", axis))
}

// ArgMin returns the index of the first minimum along axis, removing it, as
// an Int64 tensor.
func (t *Tensor) ArgMin(axis int) *Tensor {
	ax := t.axis("ArgMin", axis)
	return squeezeAxes(argReduce("ArgMin", t, loops.ArgMin, ax), []int{ax})
}

// ArgMinKeep is ArgMin keeping the reduced axis with length 1.
func (t *Tensor) ArgMinKeep(axis int) *Tensor {
	return argReduce("ArgMin", t, loops.ArgMin, t.axis("ArgMin", axis))
}

// argReduce runs ArgMax or ArgMin over axis and returns Int64 indices. The
// loops write the indices in the input's element type, so inputs whose
// type cannot hold every index (Uint8, Bool, half) are widened first.
func argReduce(op string, t *Tensor, rop loops.ReduceOp, ax int) *Tensor {
	t = t.Detach()
	switch {
	case t.dtype.isHalf():
		t = t.To(Float32)
	case t.dtype == Uint8 || t.dtype == Bool:
		t = t.To(Int32)
	}
	return reduceRaw(op, t, rop, []int{ax}).To(Int64)
}

// VarKeep returns the variance of t over the given axes (all when none),
// keeping them: the sum of squared deviations from the mean divided by
// N - correction. Correction 1 gives the unbiased estimate (PyTorch's
// default), 0 the population variance (as batch and layer norm use).
func (t *Tensor) VarKeep(correction int, axes ...int) *Tensor {
	ax := t.normAxes("Var", axes)
	n := 1
	for _, a := range ax {
		n *= t.shape[a]
	}
	d := t.Sub(t.MeanKeep(ax...))
	return d.Mul(d).SumKeep(ax...).MulScalar(1 / float64(n-correction))
}

// Var is VarKeep with the reduced axes removed.
func (t *Tensor) Var(correction int, axes ...int) *Tensor {
	return squeezeAxes(t.VarKeep(correction, axes...), t.normAxes("Var", axes))
}

// LogSumExpKeep returns log(sum(exp(t))) over the given axes, keeping them,
// computed stably by subtracting the maximum first.
func (t *Tensor) LogSumExpKeep(axes ...int) *Tensor {
	ax := t.normAxes("LogSumExp", axes)
	m := reduceRaw("LogSumExp", t.Detach(), loops.Max, ax)
	// A -Inf maximum (all -Inf) would give NaN from -Inf - -Inf; use 0.
	m = Where(m.Equal(FullOf(m.dtype, negInf)), ZerosLike(m), m)
	return t.Sub(m).Exp().SumKeep(ax...).Log().Add(m)
}

// LogSumExp is LogSumExpKeep with the reduced axes removed.
func (t *Tensor) LogSumExp(axes ...int) *Tensor {
	return squeezeAxes(t.LogSumExpKeep(axes...), t.normAxes("LogSumExp", axes))
}

// Softmax returns exp(t) normalised to sum to 1 along axis, computed stably
// (the maximum along axis is subtracted first) in one fused op. A slice
// along axis that holds NaN or +Inf, or only -Inf, gives NaN, as in PyTorch.
func (t *Tensor) Softmax(axis int) *Tensor {
	ax := t.axis("Softmax", axis)
	if floatKernel("Softmax", t.dtype) {
		return t.To(Float32).Softmax(axis).To(t.dtype)
	}
	return record("Softmax", softmaxRaw(t, ax, false), func(g, out *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{softmaxGrad(g, out, ax)}
	}, t)
}

// LogSoftmax returns t - logsumexp(t) along axis, computed stably in one
// fused op, with Softmax's treatment of NaN and infinities.
func (t *Tensor) LogSoftmax(axis int) *Tensor {
	ax := t.axis("LogSoftmax", axis)
	if floatKernel("LogSoftmax", t.dtype) {
		return t.To(Float32).LogSoftmax(axis).To(t.dtype)
	}
	return record("LogSoftmax", softmaxRaw(t, ax, true), func(g, out *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{logSoftmaxGrad(g, out, ax)}
	}, t)
}

// softmaxGrad returns y·(g - Σ g·y), the gradient through softmax along
// axis ax given its output y.
func softmaxGrad(g, y *Tensor, ax int) *Tensor {
	return record("SoftmaxGrad", softmaxBackwardRaw(g, y, ax, false), func(gg, _ *Tensor, in []*Tensor) []*Tensor {
		g, y := in[0], in[1]
		// d/dg is the same map applied to gg; d/dy = gg·(g - Σ g·y) - g·Σ gg·y.
		var dg, dy *Tensor
		if wantsGrad(g) {
			dg = softmaxGrad(gg, y, ax)
		}
		if wantsGrad(y) {
			dy = gg.Mul(g.Sub(g.Mul(y).SumKeep(ax))).Sub(g.Mul(gg.Mul(y).SumKeep(ax)))
		}
		return []*Tensor{dg, dy}
	}, g, y)
}

// logSoftmaxGrad returns g - exp(y)·Σ g, the gradient through log-softmax
// along axis ax given its output y.
func logSoftmaxGrad(g, y *Tensor, ax int) *Tensor {
	return record("LogSoftmaxGrad", softmaxBackwardRaw(g, y, ax, true), func(gg, _ *Tensor, in []*Tensor) []*Tensor {
		g, y := in[0], in[1]
		e := y.Exp()
		var dg, dy *Tensor
		if wantsGrad(g) {
			dg = gg.Sub(e.Mul(gg).SumKeep(ax))
		}
		if wantsGrad(y) {
			dy = gg.Mul(e).Mul(g.SumKeep(ax)).Neg()
		}
		return []*Tensor{dg, dy}
	}, g, y)
}

// axesBlock reports whether the sorted axes are consecutive (and not none).
// outerInnerAxes reports whether the sorted axes are a block at the start
// of shape and a block at its end with kept axes m[0]..m[1]-1 between.
func outerInnerAxes(shape, axes []int) (m [2]int, ok bool) {
	if len(axes) < 2 || axes[0] != 0 || axes[len(axes)-1] != len(shape)-1 || axesBlock(axes) {
		return m, false
	}
	k := 1
	for k < len(axes) && axes[k] == k {
		k++
	}
	for j := k; j < len(axes); j++ {
		if axes[j] != len(shape)-len(axes)+j {
			return m, false
		}
	}
	return [2]int{k, len(shape) - (len(axes) - k)}, true
}

func axesBlock(axes []int) bool {
	return len(axes) > 0 && axes[len(axes)-1]-axes[0] == len(axes)-1
}

// blockDims returns shape seen as (outer, n, inner) around the block of
// axes a0..a1: the sizes before, of and after it.
func blockDims(shape []int, a0, a1 int) (outer, n, inner int) {
	return numel(shape[:a0]), numel(shape[a0 : a1+1]), numel(shape[a1+1:])
}

// softmaxRaw computes softmax or log-softmax of t along ax into a new
// contiguous tensor, recording nothing.
func softmaxRaw(t *Tensor, ax int, log bool) *Tensor {
	src := t.contiguous()
	out := newShared(t.arena, t.dtype, append([]int(nil), t.shape...), contiguousStrides(t.shape))
	outer, n, inner := blockDims(t.shape, ax, ax)
	size := outer * n * inner
	if t.dtype == Float64 {
		loops.SoftmaxFwd(out.f64, src.f64[src.offset:src.offset+size], outer, n, inner, log)
	} else {
		loops.SoftmaxFwd(out.f32, src.f32[src.offset:src.offset+size], outer, n, inner, log)
	}
	return out
}

// softmaxBackwardRaw computes softmaxGrad or logSoftmaxGrad's value,
// recording nothing. g is converted to y's dtype if they differ.
func softmaxBackwardRaw(g, y *Tensor, ax int, log bool) *Tensor {
	if g.dtype != y.dtype {
		g = g.To(y.dtype)
	}
	if !slices.Equal(g.shape, y.shape) {
		panicShape("SoftmaxGrad", "gradient and output shapes differ", g.shape, y.shape)
	}
	gc, yc := g.contiguous(), y.contiguous()
	out := newShared(arenaOf(g, y), y.dtype, append([]int(nil), y.shape...), contiguousStrides(y.shape))
	outer, n, inner := blockDims(y.shape, ax, ax)
	size := outer * n * inner
	if y.dtype == Float64 {
		loops.SoftmaxBwd(out.f64, gc.f64[gc.offset:gc.offset+size], yc.f64[yc.offset:yc.offset+size], outer, n, inner, log)
	} else {
		loops.SoftmaxBwd(out.f32, gc.f32[gc.offset:gc.offset+size], yc.f32[yc.offset:yc.offset+size], outer, n, inner, log)
	}
	return out
}

var negInf = math.Inf(-1)
