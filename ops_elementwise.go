package nabla

import (
	"math"
	"slices"

	"github.com/nabla-go/nabla/internal/loops"
)

// This file holds the element-wise ops. Each op is declared once with its
// backward rule beside it, written with tensor ops so that it can be
// differentiated again.

// newZeroed is newShared for outputs that ops add into, which must start
// as zeros.
func newZeroed(ar *Arena, dt DType, shape []int, strides []int) *Tensor {
	t := newShared(ar, dt, shape, strides)
	if ar != nil {
		clear(t.f32)
		clear(t.f64)
	}
	return t
}

// newShared allocates a contiguous tensor of the given dtype and shape,
// from the arena ar if it is not nil. Memory from an arena holds old
// values: the op must write every element (or use newZeroed). The shape
// slice is shared: shapes are never mutated once a tensor holds them.
func newShared(ar *Arena, dt DType, shape []int, strides []int) *Tensor {
	n := numel(shape)
	if dt != Float32 && dt != Float64 {
		// The other dtypes come from the heap: arenas recycle the float
		// buffers of training steps.
		return &Tensor{dtype: dt, other: makeStorage(dt, n), shape: shape, strides: strides, arena: ar}
	}
	if ar != nil && n > 2 {
		t := &Tensor{dtype: dt, shape: shape, strides: strides, arena: ar}
		if dt == Float64 {
			t.f64 = ar.get64(n)
		} else {
			t.f32 = ar.get32(n)
		}
		return t
	}
	if n <= 2 {
		// Tiny tensors (scalars, mostly) carry their values in the same
		// allocation as their header: eager code on scalars is dominated
		// by allocation.
		if dt == Float64 {
			s := &small64{t: Tensor{dtype: dt, shape: shape, strides: strides}}
			s.t.f64 = s.d[:n:n]
			s.t.arena = ar
			return &s.t
		}
		s := &small32{t: Tensor{dtype: dt, shape: shape, strides: strides}}
		s.t.f32 = s.d[:n:n]
		s.t.arena = ar
		return &s.t
	}
	t := &Tensor{dtype: dt, shape: shape, strides: strides}
	if dt == Float64 {
		t.f64 = make([]float64, n)
	} else {
		t.f32 = make([]float32, n)
	}
	return t
}

type small32 struct {
	t Tensor
	d [2]float32
}

type small64 struct {
	t Tensor
	d [2]float64
}

// contiguousOut allocates the output of an element-wise op on t.
func contiguousOut(t *Tensor) *Tensor {
	if t.IsContiguous() {
		return newShared(t.arena, t.dtype, t.shape, t.strides)
	}
	return newShared(t.arena, t.dtype, t.shape, contiguousStrides(t.shape))
}

// mapUnary computes op(t) element-wise into a new contiguous tensor,
// recording nothing.
func mapUnary(t *Tensor, op loops.UnaryOp, p float64) *Tensor {
	if t.dtype != Float32 && t.dtype != Float64 {
		return mapUnaryOther(t, op, p)
	}
	src := t.contiguous()
	out := contiguousOut(t)
	n := out.Len()
	if t.dtype == Float64 {
		loops.Unary(op, out.f64, src.f64[src.offset:src.offset+n], p)
	} else {
		loops.Unary(op, out.f32, src.f32[src.offset:src.offset+n], p)
	}
	return out
}

// mapUnary of the other dtypes: half ones compute in float32 and round
// back; integers and Bool keep their dtype for the ops that stay integers
// (Neg, Abs, Sign, Relu) and compute in Float32 for the others, as PyTorch
// does (torch.exp of an int64 tensor is float32).
func mapUnaryOther(t *Tensor, op loops.UnaryOp, p float64) *Tensor {
	if t.dtype.isHalf() {
		return mapUnary(t.Detach().To(Float32), op, p).To(t.dtype)
	}
	switch op {
	case loops.Neg, loops.Abs, loops.Sign, loops.Relu:
		if t.dtype == Bool && op == loops.Neg {
			panicValue("Neg", "negation of a bool tensor is not supported; use LogicalNot")
		}
		src := t.contiguous()
		out := newShared(t.arena, t.dtype, t.shape, contiguousStrides(t.shape))
		unaryLoops.of(t.dtype)(op, out, src, p)
		return out
	}
	return mapUnary(t.Detach().To(Float32), op, p)
}

func unaryOf[T loops.Real](op loops.UnaryOp, out, src *Tensor, p float64) {
	loops.Unary(op, storage[T](out), values[T](src), p)
}

var unaryLoops = byReal[func(op loops.UnaryOp, out, src *Tensor, p float64)]{unaryOf[float32], unaryOf[float64], unaryOf[int64], unaryOf[int32], unaryOf[uint8]}

func (t *Tensor) unary(name string, op loops.UnaryOp, p float64, bw backwardFunc) *Tensor {
	return record(name, mapUnary(t, op, p), bw, t)
}

// Neg returns -t.
func (t *Tensor) Neg() *Tensor {
	return t.unary("Neg", loops.Neg, 0, func(g, _ *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{g.Neg()}
	})
}

// Reciprocal returns 1/t element-wise.
func (t *Tensor) Reciprocal() *Tensor {
	return t.unary("Reciprocal", loops.Recip, 0, func(g, out *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{g.Mul(out).Mul(out).Neg()}
	})
}

// Exp returns e^t element-wise.
func (t *Tensor) Exp() *Tensor {
	return t.unary("Exp", loops.Exp, 0, func(g, out *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{g.Mul(out)}
	})
}

// Log returns the natural logarithm of t element-wise.
func (t *Tensor) Log() *Tensor {
	return t.unary("Log", loops.Log, 0, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		return []*Tensor{g.Div(in[0])}
	})
}

// Sin returns sin(t) element-wise.
func (t *Tensor) Sin() *Tensor {
	return t.unary("Sin", loops.Sin, 0, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		return []*Tensor{g.Mul(in[0].Cos())}
	})
}

// Cos returns cos(t) element-wise.
func (t *Tensor) Cos() *Tensor {
	return t.unary("Cos", loops.Cos, 0, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		return []*Tensor{g.Mul(in[0].Sin()).Neg()}
	})
}

// Tanh returns tanh(t) element-wise.
func (t *Tensor) Tanh() *Tensor {
	return t.unary("Tanh", loops.Tanh, 0, func(g, out *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{tanhGrad(g, out)}
	})
}

// Sigmoid returns 1/(1+e^-t) element-wise, computed without overflow.
func (t *Tensor) Sigmoid() *Tensor {
	return t.unary("Sigmoid", loops.Sigmoid, 0, func(g, out *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{sigmoidGrad(g, out)}
	})
}

// Relu returns max(t, 0) element-wise. Its gradient at 0 is 0, as in PyTorch.
func (t *Tensor) Relu() *Tensor {
	return t.unary("Relu", loops.Relu, 0, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		return []*Tensor{reluGrad(g, in[0])}
	})
}

// LeakyRelu returns t where t > 0 and slope*t elsewhere. Its gradient at 0
// is slope, as in PyTorch.
func (t *Tensor) LeakyRelu(slope float64) *Tensor {
	return t.unary("LeakyRelu", loops.LeakyRelu, slope, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		return []*Tensor{g.Mul(mapUnary(in[0], loops.LeakyStep, slope))}
	})
}

// The fused gradient ops below compute an activation's backward in one pass
// instead of three or four, as PyTorch's tanh_backward does. They are ops
// themselves, with backward rules, so higher-order gradients still work.

// tanhGrad returns g·(1-y²), the gradient through tanh given its output y.
func tanhGrad(g, y *Tensor) *Tensor {
	return binary("TanhGrad", loops.TanhGrad, g, y, func(gg, _ *Tensor, in []*Tensor) []*Tensor {
		g, y := in[0], in[1]
		return []*Tensor{tanhGrad(gg, y), gg.Mul(g).Mul(y).MulScalar(-2)}
	})
}

// sigmoidGrad returns g·y·(1-y), the gradient through the sigmoid given its
// output y.
func sigmoidGrad(g, y *Tensor) *Tensor {
	return binary("SigmoidGrad", loops.SigmoidGrad, g, y, func(gg, _ *Tensor, in []*Tensor) []*Tensor {
		g, y := in[0], in[1]
		return []*Tensor{sigmoidGrad(gg, y), gg.Mul(g).Mul(y.MulScalar(-2).AddScalar(1))}
	})
}

// reluGrad returns g where x > 0 and 0 elsewhere, the gradient through relu
// given its input x. Its derivative in x is zero almost everywhere.
func reluGrad(g, x *Tensor) *Tensor {
	return binary("ReluGrad", loops.ReluGrad, g, x, func(gg, _ *Tensor, in []*Tensor) []*Tensor {
		return []*Tensor{reluGrad(gg, in[1]), nil}
	})
}

// Sqrt returns the square root of t element-wise.
func (t *Tensor) Sqrt() *Tensor {
	return t.unary("Sqrt", loops.Sqrt, 0, func(g, out *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{g.Div(out.MulScalar(2))}
	})
}

// Abs returns |t| element-wise. Its gradient at 0 is 0, as in PyTorch.
func (t *Tensor) Abs() *Tensor {
	return t.unary("Abs", loops.Abs, 0, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		return []*Tensor{g.Mul(in[0].Sign())}
	})
}

// Sign returns -1, 0 or 1 by the sign of each element. It is not
// differentiable (its gradient is zero) and records nothing.
func (t *Tensor) Sign() *Tensor { return mapUnary(t, loops.Sign, 0) }

// Erf returns the error function of t element-wise.
func (t *Tensor) Erf() *Tensor {
	return t.unary("Erf", loops.Erf, 0, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		x := in[0]
		return []*Tensor{g.Mul(x.Mul(x).Neg().Exp().MulScalar(2 / math.Sqrt(math.Pi)))}
	})
}

// Softplus returns log(1+e^t) element-wise, computed without overflow.
func (t *Tensor) Softplus() *Tensor {
	return t.unary("Softplus", loops.Softplus, 0, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		return []*Tensor{g.Mul(in[0].Sigmoid())}
	})
}

// PowScalar returns t^p element-wise.
func (t *Tensor) PowScalar(p float64) *Tensor {
	return t.unary("PowScalar", loops.PowConst, p, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		if p == 0 {
			return []*Tensor{nil}
		}
		return []*Tensor{g.Mul(in[0].PowScalar(p - 1).MulScalar(p))}
	})
}

// Square returns t*t element-wise.
func (t *Tensor) Square() *Tensor { return t.PowScalar(2) }

// Gelu returns the Gaussian error linear unit t·Φ(t), with Φ the standard
// normal CDF (the exact form, PyTorch's default), in one fused op. float32
// values are within one ulp of the exact result; Gelu(-Inf) is NaN, as in
// PyTorch.
func (t *Tensor) Gelu() *Tensor {
	return t.unary("Gelu", loops.Gelu, 0, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		return []*Tensor{geluGrad(g, in[0])}
	})
}

// geluGrad returns g·(Φ(x) + x·φ(x)), the gradient through Gelu given its
// input x, in one fused op.
func geluGrad(g, x *Tensor) *Tensor {
	return binary("GeluGrad", loops.GeluGrad, g, x, func(gg, _ *Tensor, in []*Tensor) []*Tensor {
		g, x := in[0], in[1]
		var dg, dx *Tensor
		if wantsGrad(g) {
			dg = geluGrad(gg, x)
		}
		if wantsGrad(x) {
			// Gelu''(x) = φ(x)·(2 - x²), φ(x) = e^(-x²/2)/√(2π).
			x2 := x.Square()
			phi := x2.MulScalar(-0.5).Exp().MulScalar(1 / math.Sqrt(2*math.Pi))
			dx = gg.Mul(g).Mul(phi.Mul(x2.Neg().AddScalar(2)))
		}
		return []*Tensor{dg, dx}
	})
}

// Clamp limits t to [lo, hi] element-wise. The gradient passes where
// lo <= t <= hi (boundaries included) and is zero elsewhere, as in PyTorch.
// Use math.Inf for a one-sided clamp.
func (t *Tensor) Clamp(lo, hi float64) *Tensor {
	if lo > hi {
		panicValue("Clamp", "lo %v > hi %v", lo, hi)
	}
	switch {
	case t.dtype.isHalf():
		return t.To(Float32).Clamp(lo, hi).To(t.dtype)
	case !t.dtype.IsFloat():
		whole := func(v float64) bool { return v == math.Trunc(v) || math.IsInf(v, 0) }
		if !whole(lo) || !whole(hi) {
			return t.To(Float32).Clamp(lo, hi) // a fractional bound is a float scalar: Float32
		}
		src := t.contiguous()
		out := newShared(t.arena, t.dtype, t.shape, contiguousStrides(t.shape))
		clampIntLoops.of(t.dtype)(out, src, lo, hi)
		return out // integers record nothing
	}
	src := t.contiguous()
	out := contiguousOut(t)
	n := out.Len()
	if t.dtype == Float64 {
		clampLoop(out.f64, src.f64[src.offset:src.offset+n], lo, hi)
	} else {
		clampLoop(out.f32, src.f32[src.offset:src.offset+n], lo, hi)
	}
	return record("Clamp", out, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		x := in[0]
		inside := x.GreaterEqual(FullOf(x.dtype, lo)).Mul(x.LessEqual(FullOf(x.dtype, hi)))
		return []*Tensor{g.Mul(inside)}
	}, t)
}

// clampInt clamps an integer (or Bool) tensor with whole bounds, compared
// in int64 so that bounds beyond the dtype's range clamp nothing.
func clampInt[T loops.Real](out, src *Tensor, lo, hi float64) {
	l := floatToInt(max(lo, math.MinInt64), math.MinInt64, math.MaxInt64)
	h := floatToInt(min(hi, math.MaxInt64/2), math.MinInt64, math.MaxInt64)
	d := storage[T](out)
	for i, v := range values[T](src) {
		d[i] = T(min(max(int64(v), l), h))
	}
}

var clampIntLoops = byReal[func(out, src *Tensor, lo, hi float64)]{clampInt[float32], clampInt[float64], clampInt[int64], clampInt[int32], clampInt[uint8]}

func clampLoop[T float32 | float64](dst, src []T, lo, hi float64) {
	l, h := T(lo), T(hi)
	if math.IsInf(lo, -1) {
		l = T(math.Inf(-1))
	}
	for i, v := range src {
		switch {
		case v < l:
			dst[i] = l
		case v > h:
			dst[i] = h
		default:
			dst[i] = v
		}
	}
}

// binaryOp computes op(a, b) with NumPy broadcasting into a new contiguous
// tensor, in the dtype PyTorch's type promotion gives (see resultType). It
// records nothing; the returned a and b are the promoted operands.
func binaryOp(name string, op loops.BinaryOp, a, b *Tensor) (out, pa, pb *Tensor) {
	if a.dtype != b.dtype || a.dtype > Float64 {
		dt := resultType(a, b)
		a, b = a.To(dt), b.To(dt)
		if dt > Float64 {
			return binaryOther(name, op, a, b), a, b
		}
	}
	shape := broadcastShapes(name, a.shape, b.shape)
	pa, pb = a, b
	a, b = unstrided(a), unstrided(b)
	var strides []int
	switch {
	case sameShape(shape, a.shape) && a.IsContiguous():
		strides = a.strides
	case sameShape(shape, b.shape) && b.IsContiguous():
		strides = b.strides
	default:
		strides = contiguousStrides(shape)
	}
	out = newShared(arenaOf(a, b), a.dtype, shape, strides)
	n := out.Len()
	switch {
	case n == 0:
	case sameShape(a.shape, b.shape) && a.IsContiguous() && b.IsContiguous():
		one := []int{n}
		if a.dtype == Float64 {
			loops.Binary(op, out.f64, one, a.f64, a.offset, oneStride, b.f64, b.offset, oneStride)
		} else {
			loops.Binary(op, out.f32, one, a.f32, a.offset, oneStride, b.f32, b.offset, oneStride)
		}
	default:
		as, bs := a.broadcastStrides(shape), b.broadcastStrides(shape)
		if a.dtype == Float64 {
			loops.Binary(op, out.f64, shape, a.f64, a.offset, as, b.f64, b.offset, bs)
		} else {
			loops.Binary(op, out.f32, shape, a.f32, a.offset, as, b.f32, b.offset, bs)
		}
	}
	return out, pa, pb
}

// unstrided returns t, or a contiguous copy of it when t is a large
// transposed view (its last axis strided, another axis contiguous): the
// element-wise loops would read it one cache line per element, while the
// copy goes by cache-sized tiles (loops.Copy).
func unstrided(t *Tensor) *Tensor {
	r := len(t.shape)
	if r < 2 || t.strides[r-1] <= 1 || t.Len() < 1<<12 {
		return t
	}
	for ax := 0; ax < r-1; ax++ {
		if t.strides[ax] == 1 && t.shape[ax] > 1 {
			return t.copyContiguous()
		}
	}
	return t
}

var oneStride = []int{1}

// binaryOther is binaryOp on two operands of one dtype that is not Float32
// or Float64. Half ones compute in float32 and round back; integers and Bool
// compute in their own dtype (Bool sums as a logical or and multiplies as a
// logical and, as in PyTorch).
func binaryOther(name string, op loops.BinaryOp, a, b *Tensor) *Tensor {
	dt := a.dtype
	if dt.isHalf() {
		out, _, _ := binaryOp(name, op, a.Detach().To(Float32), b.Detach().To(Float32))
		return out.To(dt)
	}
	switch op {
	case loops.FloorDiv, loops.Remainder, loops.Fmod:
		if dt == Bool {
			panicValue(name, "not supported on bool tensors")
		}
		if anyZero(b) {
			panicValue(name, "integer division by zero")
		}
	case loops.Pow:
		if dt != Bool && hasNegative(b) {
			panicValue(name, "integers to negative integer powers are not allowed")
		}
	}
	if dt == Bool {
		switch op {
		case loops.Add:
			op = loops.LogicalOr
		case loops.Mul:
			op = loops.LogicalAnd
		case loops.Sub:
			panicValue(name, "subtraction of bool tensors is not supported; use LogicalXor")
		}
	}
	shape := broadcastShapes(name, a.shape, b.shape)
	out := newShared(arenaOf(a, b), dt, shape, contiguousStrides(shape))
	if out.Len() > 0 {
		binaryLoops.of(dt)(op, out, a, a.broadcastStrides(shape), b, b.broadcastStrides(shape))
	}
	return out
}

func binaryOf[T loops.Real](op loops.BinaryOp, out, a *Tensor, as []int, b *Tensor, bs []int) {
	loops.Binary(op, storage[T](out), out.shape, storage[T](a), a.offset, as, storage[T](b), b.offset, bs)
}

var binaryLoops = byReal[func(op loops.BinaryOp, out, a *Tensor, as []int, b *Tensor, bs []int)]{binaryOf[float32], binaryOf[float64], binaryOf[int64], binaryOf[int32], binaryOf[uint8]}

// anyZero reports whether the numeric tensor t holds a zero.
func anyZero(t *Tensor) bool {
	c := t.contiguous()
	return anyZeroLoops.of(c.dtype)(c)
}

func anyZeroOf[T loops.Real](t *Tensor) bool { return loops.AnyZero(values[T](t)) }

var anyZeroLoops = byReal[func(t *Tensor) bool]{anyZeroOf[float32], anyZeroOf[float64], anyZeroOf[int64], anyZeroOf[int32], anyZeroOf[uint8]}

// hasNegative reports whether any element of t is negative.
func hasNegative(t *Tensor) bool {
	return slices.Contains(t.Less(ZerosOf(t.dtype)).Bools(), true)
}

// compare computes the comparison or logical op on a and b with
// broadcasting into a new Bool tensor, in the dtype the operands promote
// to. It records nothing: comparisons are not differentiable.
func compare(name string, op loops.BinaryOp, a, b *Tensor) *Tensor {
	dt := resultType(a, b)
	if dt.isHalf() {
		dt = Float32 // exact: every half value is a float32
	}
	a, b = a.Detach().To(dt), b.Detach().To(dt)
	shape := broadcastShapes(name, a.shape, b.shape)
	out := newShared(arenaOf(a, b), Bool, shape, contiguousStrides(shape))
	if out.Len() > 0 {
		compareLoops.of(dt)(op, out, a, a.broadcastStrides(shape), b, b.broadcastStrides(shape))
	}
	return out
}

func compareOf[T loops.Real](op loops.BinaryOp, out, a *Tensor, as []int, b *Tensor, bs []int) {
	loops.Compare(op, storage[uint8](out), out.shape, storage[T](a), a.offset, as, storage[T](b), b.offset, bs)
}

var compareLoops = byReal[func(op loops.BinaryOp, out, a *Tensor, as []int, b *Tensor, bs []int)]{compareOf[float32], compareOf[float64], compareOf[int64], compareOf[int32], compareOf[uint8]}

func binary(name string, op loops.BinaryOp, a, b *Tensor, bw backwardFunc) *Tensor {
	out, a, b := binaryOp(name, op, a, b)
	return record(name, out, bw, a, b)
}

// Add returns t+u element-wise, broadcasting as NumPy does. It panics with a
// *ShapeError if the shapes do not broadcast. Mixed dtypes compute in float64.
func (t *Tensor) Add(u *Tensor) *Tensor {
	return binary("Add", loops.Add, t, u, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		var ga, gb *Tensor
		if wantsGrad(in[0]) {
			ga = g.SumTo(in[0].shape...)
		}
		if wantsGrad(in[1]) {
			gb = g.SumTo(in[1].shape...)
		}
		return []*Tensor{ga, gb}
	})
}

// Sub returns t-u element-wise, broadcasting.
func (t *Tensor) Sub(u *Tensor) *Tensor {
	return binary("Sub", loops.Sub, t, u, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		var ga, gb *Tensor
		if wantsGrad(in[0]) {
			ga = g.SumTo(in[0].shape...)
		}
		if wantsGrad(in[1]) {
			gb = g.Neg().SumTo(in[1].shape...)
		}
		return []*Tensor{ga, gb}
	})
}

// Mul returns t*u element-wise, broadcasting.
func (t *Tensor) Mul(u *Tensor) *Tensor {
	return binary("Mul", loops.Mul, t, u, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		var ga, gb *Tensor
		if wantsGrad(in[0]) {
			ga = g.Mul(in[1]).SumTo(in[0].shape...)
		}
		if wantsGrad(in[1]) {
			gb = g.Mul(in[0]).SumTo(in[1].shape...)
		}
		return []*Tensor{ga, gb}
	})
}

// Div returns t/u element-wise, broadcasting. It is true division: integer
// and Bool operands compute in Float32, as in PyTorch.
func (t *Tensor) Div(u *Tensor) *Tensor {
	if !resultType(t, u).IsFloat() {
		t, u = t.To(Float32), u.To(Float32)
	}
	return binary("Div", loops.Div, t, u, func(g, out *Tensor, in []*Tensor) []*Tensor {
		q := g.Div(in[1])
		var ga, gb *Tensor
		if wantsGrad(in[0]) {
			ga = q.SumTo(in[0].shape...)
		}
		if wantsGrad(in[1]) {
			gb = q.Mul(out).Neg().SumTo(in[1].shape...)
		}
		return []*Tensor{ga, gb}
	})
}

// Pow returns t^u element-wise, broadcasting. The gradient with respect to
// the exponent is taken as 0 where t <= 0, where log t is undefined.
func (t *Tensor) Pow(u *Tensor) *Tensor {
	return binary("Pow", loops.Pow, t, u, func(g, out *Tensor, in []*Tensor) []*Tensor {
		a, b := in[0], in[1]
		var ga, gb *Tensor
		if wantsGrad(a) {
			ga = g.Mul(b).Mul(a.Pow(b.AddScalar(-1))).SumTo(a.shape...)
		}
		if wantsGrad(b) {
			pos := a.Greater(ZerosLike(a))
			safeA := Where(pos, a, OnesLike(a))
			gb = g.Mul(out).Mul(safeA.Log()).Mul(pos).SumTo(b.shape...)
		}
		return []*Tensor{ga, gb}
	})
}

// Maximum returns the element-wise maximum of t and u, broadcasting. Where
// they tie, each receives half the gradient, as in PyTorch.
func (t *Tensor) Maximum(u *Tensor) *Tensor {
	return binary("Maximum", loops.Maximum, t, u, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		return splitTie(g, in[0], in[1], loops.Greater)
	})
}

// Minimum returns the element-wise minimum of t and u, broadcasting. Where
// they tie, each receives half the gradient.
func (t *Tensor) Minimum(u *Tensor) *Tensor {
	return binary("Minimum", loops.Minimum, t, u, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		return splitTie(g, in[0], in[1], loops.Less)
	})
}

// splitTie routes g to a where a wins (by win), to b where b wins, and half
// to each where they are equal.
func splitTie(g, a, b *Tensor, win loops.BinaryOp) []*Tensor {
	wins, _, _ := binaryOp("", win, a, b)
	ties, _, _ := binaryOp("", loops.Equal, a, b)
	wa := wins.Add(ties.MulScalar(0.5)) // constant masks: no graph
	ga := g.Mul(wa)
	var da, db *Tensor
	if wantsGrad(a) {
		da = ga.SumTo(a.shape...)
	}
	if wantsGrad(b) {
		db = g.Sub(ga).SumTo(b.shape...)
	}
	return []*Tensor{da, db}
}

// Equal returns a Bool tensor, true where t == u, broadcasting; the
// operands are compared in the dtype they promote to (see [Tensor.Add]).
// Comparisons are not differentiable and record nothing.
func (t *Tensor) Equal(u *Tensor) *Tensor { return compare("Equal", loops.Equal, t, u) }

// NotEqual returns a Bool tensor, true where t != u.
func (t *Tensor) NotEqual(u *Tensor) *Tensor { return compare("NotEqual", loops.NotEqual, t, u) }

// Less returns a Bool tensor, true where t < u.
func (t *Tensor) Less(u *Tensor) *Tensor { return compare("Less", loops.Less, t, u) }

// LessEqual returns a Bool tensor, true where t <= u.
func (t *Tensor) LessEqual(u *Tensor) *Tensor { return compare("LessEqual", loops.LessEqual, t, u) }

// Greater returns a Bool tensor, true where t > u.
func (t *Tensor) Greater(u *Tensor) *Tensor { return compare("Greater", loops.Greater, t, u) }

// GreaterEqual returns a Bool tensor, true where t >= u.
func (t *Tensor) GreaterEqual(u *Tensor) *Tensor {
	return compare("GreaterEqual", loops.GreaterEqual, t, u)
}

// LogicalAnd returns a Bool tensor, true where both t and u are non-zero
// (true), broadcasting; any dtypes are accepted, as in PyTorch.
func (t *Tensor) LogicalAnd(u *Tensor) *Tensor { return compare("LogicalAnd", loops.LogicalAnd, t, u) }

// LogicalOr returns a Bool tensor, true where t or u is non-zero.
func (t *Tensor) LogicalOr(u *Tensor) *Tensor { return compare("LogicalOr", loops.LogicalOr, t, u) }

// LogicalXor returns a Bool tensor, true where exactly one of t and u is
// non-zero.
func (t *Tensor) LogicalXor(u *Tensor) *Tensor { return compare("LogicalXor", loops.LogicalXor, t, u) }

// LogicalNot returns a Bool tensor, true where t is zero (false).
func (t *Tensor) LogicalNot() *Tensor {
	return compare("LogicalNot", loops.Equal, t, ScalarBool(false))
}

// FloorDivide returns t/u rounded toward -Inf element-wise, broadcasting,
// as torch.floor_divide (and Python's //): -7 // 2 is -4. Integers compute
// exactly; integer division by zero panics with a *ValueError. It is not
// differentiable and records nothing.
func (t *Tensor) FloorDivide(u *Tensor) *Tensor {
	out, _, _ := binaryOp("FloorDivide", loops.FloorDiv, t.Detach(), u.Detach())
	return out
}

// Remainder returns t - FloorDivide(t, u)·u element-wise, broadcasting, as
// torch.remainder (and Python's %): the result has the sign of u, so
// Remainder(-7, 2) is 1. Integer division by zero panics with a
// *ValueError. It records nothing.
func (t *Tensor) Remainder(u *Tensor) *Tensor {
	out, _, _ := binaryOp("Remainder", loops.Remainder, t.Detach(), u.Detach())
	return out
}

// Fmod returns the remainder of t/u truncated toward zero, element-wise,
// as torch.fmod (and C's fmod): the result has the sign of t, so Fmod(-7,
// 2) is -1. Integer division by zero panics with a *ValueError. It records
// nothing.
func (t *Tensor) Fmod(u *Tensor) *Tensor {
	out, _, _ := binaryOp("Fmod", loops.Fmod, t.Detach(), u.Detach())
	return out
}

// AddScalar returns t+c. c is a Go float, which counts as a Python float
// does in PyTorch: a float tensor keeps its dtype, an integer or Bool one
// gives Float32. Use t.Add(ScalarInt(c)) to stay in an integer dtype.
func (t *Tensor) AddScalar(c float64) *Tensor {
	return t.unary("AddScalar", loops.Shift, c, func(g, _ *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{g}
	})
}

// MulScalar returns t*c, with the dtype rule of AddScalar.
func (t *Tensor) MulScalar(c float64) *Tensor {
	var bw backwardFunc
	if t.requiresGrad { // build the closure only when it will be recorded
		bw = func(g, _ *Tensor, _ []*Tensor) []*Tensor { return []*Tensor{g.MulScalar(c)} }
	}
	return t.unary("MulScalar", loops.Scale, c, bw)
}

// DivScalar returns t/c, with the dtype rule of AddScalar.
func (t *Tensor) DivScalar(c float64) *Tensor { return t.MulScalar(1 / c) }

// Where returns elements of a where cond is true and of b elsewhere,
// broadcasting all three, in the dtype a and b promote to. cond must be a
// Bool tensor (as in PyTorch 1.13; a float mask panics with a *ValueError:
// compare it, e.g. mask.NotEqual(Scalar(0))). The gradient flows to a and b;
// cond is not differentiated.
func Where(cond, a, b *Tensor) *Tensor {
	if cond.dtype != Bool {
		panicValue("Where", "condition is %v, want bool (compare it first, e.g. cond.NotEqual(nabla.Scalar(0)))", cond.dtype)
	}
	if a.dtype != b.dtype {
		dt := resultType(a, b)
		a, b = a.To(dt), b.To(dt)
	}
	shape := broadcastShapes("Where", broadcastShapes("Where", cond.shape, a.shape), b.shape)
	out := newShared(arenaOf(a, b), a.dtype, shape, contiguousStrides(shape))
	if out.Len() > 0 {
		cs, as, bs := cond.broadcastStrides(shape), a.broadcastStrides(shape), b.broadcastStrides(shape)
		c := storage[uint8](cond)
		switch a.dtype {
		case Float32:
			loops.Where(out.f32, shape, c, cond.offset, cs, a.f32, a.offset, as, b.f32, b.offset, bs)
		case Float64:
			loops.Where(out.f64, shape, c, cond.offset, cs, a.f64, a.offset, as, b.f64, b.offset, bs)
		default:
			whereLoops.of(a.dtype)(out, cond, cs, a, as, b, bs)
		}
	}
	return record("Where", out, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		z := ZerosLike(g)
		var ga, gb *Tensor
		if wantsGrad(in[1]) {
			ga = Where(in[0], g, z).SumTo(in[1].shape...)
		}
		if wantsGrad(in[2]) {
			gb = Where(in[0], z, g).SumTo(in[2].shape...)
		}
		return []*Tensor{nil, ga, gb}
	}, cond.Detach(), a, b)
}

func whereOf[T elem](out, cond *Tensor, cs []int, a *Tensor, as []int, b *Tensor, bs []int) {
	loops.Where(storage[T](out), out.shape, storage[uint8](cond), cond.offset, cs, storage[T](a), a.offset, as, storage[T](b), b.offset, bs)
}

var whereLoops = byElem[func(out, cond *Tensor, cs []int, a *Tensor, as []int, b *Tensor, bs []int)]{whereOf[float32], whereOf[float64], whereOf[int64], whereOf[int32], whereOf[uint8], whereOf[uint16]}

// To returns t converted to dtype dt, or t itself if it already has that
// dtype, with PyTorch's rules: float to integer truncates toward zero (NaN,
// ±Inf and out-of-range values give the integer's smallest value, as x86
// hardware does; Uint8 takes the low 8 bits of the Int64 conversion);
// integers narrow by keeping their low bits; any dtype to Bool is x != 0
// (NaN is true); Float32 to Float16 or BFloat16 rounds to nearest even,
// Float64 to them goes through Float32, as in PyTorch. The conversion is
// differentiable between float dtypes; a conversion to an integer or Bool
// dtype records nothing.
func (t *Tensor) To(dt DType) *Tensor {
	if t.dtype == dt {
		return t
	}
	if dt >= numDTypes {
		panicValue("To", "invalid dtype %d", dt)
	}
	src := t.contiguous()
	out := newShared(t.arena, dt, t.shape, contiguousStrides(t.shape))
	n := out.Len()
	switch {
	case dt == Float64 && t.dtype == Float32:
		for i, v := range src.f32[src.offset : src.offset+n] {
			out.f64[i] = float64(v)
		}
	case dt == Float32 && t.dtype == Float64:
		for i, v := range src.f64[src.offset : src.offset+n] {
			out.f32[i] = float32(v)
		}
	default:
		convert(out, src)
	}
	if !dt.IsFloat() {
		return out
	}
	from := t.dtype
	return record("To", out, func(g, _ *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{g.To(from)}
	}, t)
}
