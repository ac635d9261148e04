package onnx

import (
	"math"
	"slices"

	"github.com/nabla-go/nabla"
)

// opFunc runs one operator. It panics (with fail, or through nabla's ops)
// on bad inputs; runNode turns the panic into an error naming the node.
type opFunc func(c *ctx, in []value) []value

// ctx gives an operator its node's attributes and opset.
type ctx struct {
	n    *node
	fold bool // the node is being folded at load time
}

// errDeferred is what an operator being folded at load time panics with
// when its result would be large: the node is then left to Run, so that
// Load stays quick and small whatever the file asks for.
var errDeferred = &opError{"too large to fold at load time"}

// alloc checks the element count of a float result an operator makes from
// sizes in the file (ConstantOfShape, Pad, Range): at most maxElements,
// and at most foldLimit when folding at load time.
func (c *ctx) alloc(shape []int) int {
	n := checkCount(shape)
	if c.fold && n > foldLimit {
		panic(errDeferred)
	}
	return n
}

// maxInts bounds the integer tensors held on the host: shapes, axes and
// indices are small, and a file asking for more is refused rather than
// computed element by element.
const maxInts = 1 << 20

// intCount returns the element count of an integer result of shape,
// failing above maxInts.
func intCount(shape []int) int {
	n := checkCount(shape)
	if n > maxInts {
		fail("an integer tensor of shape %v has more than %d elements", shape, maxInts)
	}
	return n
}

// operators maps each supported operator of the default domain to its
// implementation. Their semantics follow the ONNX operator documents for
// opsets 11 to 17, with ONNX's broadcasting and attribute defaults.
var operators map[string]opFunc

func init() {
	operators = map[string]opFunc{
		"Identity": func(c *ctx, in []value) []value { return []value{c.in(in, 0)} },
		"Dropout":  opDropout,
		"Constant": opConstant,

		"Add": binaryOp(func(a, b *nabla.Tensor) *nabla.Tensor { return a.Add(b) }, func(a, b int64) int64 { return a + b }),
		"Sub": binaryOp(func(a, b *nabla.Tensor) *nabla.Tensor { return a.Sub(b) }, func(a, b int64) int64 { return a - b }),
		"Mul": binaryOp(func(a, b *nabla.Tensor) *nabla.Tensor { return a.Mul(b) }, func(a, b int64) int64 { return a * b }),
		"Div": binaryOp(func(a, b *nabla.Tensor) *nabla.Tensor { return a.Div(b) }, func(a, b int64) int64 {
			if b == 0 {
				fail("integer division by zero")
			}
			return a / b
		}),
		"Pow":            opPow,
		"Equal":          compare(func(a, b *nabla.Tensor) *nabla.Tensor { return a.Equal(b) }, func(a, b int64) bool { return a == b }),
		"Greater":        compare(func(a, b *nabla.Tensor) *nabla.Tensor { return a.Greater(b) }, func(a, b int64) bool { return a > b }),
		"Less":           compare(func(a, b *nabla.Tensor) *nabla.Tensor { return a.Less(b) }, func(a, b int64) bool { return a < b }),
		"GreaterOrEqual": compare(func(a, b *nabla.Tensor) *nabla.Tensor { return a.GreaterEqual(b) }, func(a, b int64) bool { return a >= b }),
		"LessOrEqual":    compare(func(a, b *nabla.Tensor) *nabla.Tensor { return a.LessEqual(b) }, func(a, b int64) bool { return a <= b }),
		"Not":            opNot,
		"Where":          opWhere,
		"Max":            variadic(func(a, b *nabla.Tensor) *nabla.Tensor { return a.Maximum(b) }, func(a, b int64) int64 { return max(a, b) }),
		"Min":            variadic(func(a, b *nabla.Tensor) *nabla.Tensor { return a.Minimum(b) }, func(a, b int64) int64 { return min(a, b) }),
		"Sum":            variadic(func(a, b *nabla.Tensor) *nabla.Tensor { return a.Add(b) }, func(a, b int64) int64 { return a + b }),

		"Relu":       unary((*nabla.Tensor).Relu, func(v int64) int64 { return max(v, 0) }),
		"Neg":        unary((*nabla.Tensor).Neg, func(v int64) int64 { return -v }),
		"Abs":        unary((*nabla.Tensor).Abs, func(v int64) int64 { return max(v, -v) }),
		"Sigmoid":    unary((*nabla.Tensor).Sigmoid, nil),
		"Tanh":       unary((*nabla.Tensor).Tanh, nil),
		"Erf":        unary((*nabla.Tensor).Erf, nil),
		"Sqrt":       unary((*nabla.Tensor).Sqrt, nil),
		"Exp":        unary((*nabla.Tensor).Exp, nil),
		"Log":        unary((*nabla.Tensor).Log, nil),
		"Reciprocal": unary((*nabla.Tensor).Reciprocal, nil),
		"Sin":        unary((*nabla.Tensor).Sin, nil),
		"Cos":        unary((*nabla.Tensor).Cos, nil),
		"Softplus":   unary((*nabla.Tensor).Softplus, nil),
		"LeakyRelu": func(c *ctx, in []value) []value {
			return []value{{t: c.tensor(in, 0).LeakyRelu(c.float("alpha", 0.01))}}
		},
		"Clip":       opClip,
		"Softmax":    softmax(false),
		"LogSoftmax": softmax(true),
		"Cast":       opCast,

		"MatMul":             opMatMul,
		"Gemm":               opGemm,
		"Conv":               opConv,
		"ConvTranspose":      opConvTranspose,
		"MaxPool":            pool(true),
		"AveragePool":        pool(false),
		"GlobalAveragePool":  globalPool(false),
		"GlobalMaxPool":      globalPool(true),
		"BatchNormalization": opBatchNorm,
		"LayerNormalization": opLayerNorm,

		"ReduceMean": reduce("ReduceMean"),
		"ReduceSum":  reduce("ReduceSum"),
		"ReduceMax":  reduce("ReduceMax"),
		"ReduceMin":  reduce("ReduceMin"),

		"Shape":           opShape,
		"Size":            opSize,
		"Reshape":         opReshape,
		"Flatten":         opFlatten,
		"Transpose":       opTranspose,
		"Squeeze":         opSqueeze,
		"Unsqueeze":       opUnsqueeze,
		"Concat":          opConcat,
		"Split":           opSplit,
		"Slice":           opSlice,
		"Gather":          opGather,
		"ConstantOfShape": opConstantOfShape,
		"Expand":          opExpand,
		"Pad":             opPad,
		"Range":           opRange,
		"Resize":          opResize,
		"LSTM":            opLSTM,
		"GRU":             opGRU,
	}
}

// Attributes.

func (c *ctx) attr(name string, typ int32) *attribute {
	a, ok := c.n.attrs[name]
	if !ok {
		return nil
	}
	if a.typ != typ && a.typ != 0 {
		fail("attribute %q has type %d, want %d", name, a.typ, typ)
	}
	return a
}

func (c *ctx) int(name string, def int64) int64 {
	if a := c.attr(name, attrInt); a != nil {
		return a.i
	}
	return def
}

func (c *ctx) ints(name string, def []int64) []int64 {
	if a := c.attr(name, attrInts); a != nil {
		return a.ints
	}
	return def
}

func (c *ctx) float(name string, def float64) float64 {
	if a := c.attr(name, attrFloat); a != nil {
		return float64(a.f)
	}
	return def
}

func (c *ctx) str(name, def string) string {
	if a := c.attr(name, attrString); a != nil {
		return string(a.s)
	}
	return def
}

// Inputs.

// in returns input k, which must be present.
func (c *ctx) in(in []value, k int) value {
	if k >= len(in) || !in[k].ok() {
		fail("input %d is missing", k)
	}
	return in[k]
}

// has reports whether the optional input k is present.
func has(in []value, k int) bool { return k < len(in) && in[k].ok() }

// tensor returns input k as a float tensor.
func (c *ctx) tensor(in []value, k int) *nabla.Tensor { return c.in(in, k).tensorOf(nabla.Float32) }

// intList returns input k, a 0-d or 1-d integer tensor, as a list.
func (c *ctx) intList(in []value, k int) []int64 {
	v := c.in(in, k)
	if len(v.shape()) > 1 {
		fail("input %d must be 0-d or 1-d, has shape %v", k, v.shape())
	}
	return v.intsOf().v
}

// axis normalizes an axis of a tensor of rank r.
func axis(a int64, r int) int {
	if a < -int64(r) || a >= int64(r) {
		fail("axis %d is out of range for rank %d", a, r)
	}
	if a < 0 {
		a += int64(r)
	}
	return int(a)
}

// Element-wise operators.

// pair returns two operands as tensors of one dtype.
func pair(a, b value) (*nabla.Tensor, *nabla.Tensor) {
	dt := nabla.Float32
	if a.t != nil && a.t.DType() == nabla.Float64 || b.t != nil && b.t.DType() == nabla.Float64 {
		dt = nabla.Float64
	}
	return a.tensorOf(dt), b.tensorOf(dt)
}

func binaryOp(f func(a, b *nabla.Tensor) *nabla.Tensor, fi func(a, b int64) int64) opFunc {
	return func(c *ctx, in []value) []value {
		a, b := c.in(in, 0), c.in(in, 1)
		if a.i != nil && b.i != nil {
			return []value{{i: broadcastInts(a.i, b.i, fi)}}
		}
		checkCount(broadcastShape(a.shape(), b.shape()))
		x, y := pair(a, b)
		return []value{{t: f(x, y)}}
	}
}

func variadic(f func(a, b *nabla.Tensor) *nabla.Tensor, fi func(a, b int64) int64) opFunc {
	bin := binaryOp(f, fi)
	return func(c *ctx, in []value) []value {
		acc := c.in(in, 0)
		for k := 1; k < len(in); k++ {
			acc = bin(c, []value{acc, c.in(in, k)})[0]
		}
		return []value{acc}
	}
}

func compare(f func(a, b *nabla.Tensor) *nabla.Tensor, fi func(a, b int64) bool) opFunc {
	return func(c *ctx, in []value) []value {
		a, b := c.in(in, 0), c.in(in, 1)
		if a.i != nil && b.i != nil {
			r := broadcastInts(a.i, b.i, func(x, y int64) int64 {
				if fi(x, y) {
					return 1
				}
				return 0
			})
			r.isBool, r.dtype = true, typeBool
			return []value{{i: r}}
		}
		checkCount(broadcastShape(a.shape(), b.shape()))
		x, y := pair(a, b)
		return []value{{t: f(x, y)}} // 0/1 floats stand for bools
	}
}

func opNot(c *ctx, in []value) []value {
	v := c.in(in, 0)
	if v.t != nil {
		return []value{{t: v.t.Equal(nabla.FullOf(v.t.DType(), 0))}}
	}
	out := &ints{shape: v.i.shape, v: make([]int64, len(v.i.v)), isBool: true, dtype: typeBool}
	for k, x := range v.i.v {
		if x == 0 {
			out.v[k] = 1
		}
	}
	return []value{{i: out}}
}

func unary(f func(*nabla.Tensor) *nabla.Tensor, fi func(int64) int64) opFunc {
	return func(c *ctx, in []value) []value {
		v := c.in(in, 0)
		if v.i != nil && fi != nil {
			out := newInts(v.i.shape, make([]int64, len(v.i.v)))
			out.dtype = v.i.dtype
			for k, x := range v.i.v {
				out.v[k] = fi(x)
			}
			return []value{{i: out}}
		}
		return []value{{t: f(v.tensorOf(nabla.Float32))}}
	}
}

// broadcastInts applies f element-wise with NumPy broadcasting.
func broadcastInts(a, b *ints, f func(x, y int64) int64) *ints {
	shape := broadcastShape(a.shape, b.shape)
	n := intCount(shape)
	out := newInts(shape, make([]int64, n))
	sa, sb := bstrides(a.shape, shape), bstrides(b.shape, shape)
	idx := make([]int, len(shape))
	for k := range n {
		oa, ob := 0, 0
		for d := range shape {
			oa += idx[d] * sa[d]
			ob += idx[d] * sb[d]
		}
		out.v[k] = f(a.v[oa], b.v[ob])
		for d := len(shape) - 1; d >= 0; d-- {
			if idx[d]++; idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out
}

// bstrides returns the strides of a row-major array of shape s broadcast
// to shape to (0 along broadcast axes).
func bstrides(s, to []int) []int {
	st := make([]int, len(to))
	acc := 1
	for d := len(s) - 1; d >= 0; d-- {
		o := d + len(to) - len(s)
		if s[d] != 1 {
			st[o] = acc
		}
		acc *= s[d]
	}
	return st
}

func broadcastShape(a, b []int) []int {
	r := max(len(a), len(b))
	out := make([]int, r)
	for d := range r {
		x, y := 1, 1
		if i := d - r + len(a); i >= 0 {
			x = a[i]
		}
		if i := d - r + len(b); i >= 0 {
			y = b[i]
		}
		switch {
		case x == y || y == 1:
			out[d] = x
		case x == 1:
			out[d] = y
		default:
			fail("shapes %v and %v do not broadcast", a, b)
		}
	}
	return out
}

// checkCount returns the element count of shape, failing above maxElements.
func checkCount(shape []int) int {
	s := make([]int64, len(shape))
	for i, d := range shape {
		s[i] = int64(d)
	}
	n, err := count(s)
	if err != nil {
		fail("%v", err)
	}
	return n
}

func opPow(c *ctx, in []value) []value {
	x, e := c.in(in, 0), c.in(in, 1)
	// A scalar exponent (x², the decomposed layer norm's) is PowScalar,
	// whose gradient needs no log of x: exporters store such constants as
	// initializers too, and Pow's gradient with respect to the exponent
	// would be NaN for a negative x. The exponent is then not trained.
	if checkCount(e.shape()) == 1 && len(e.shape()) <= 1 {
		p := scalarOf(e)
		t := x.tensorOf(nabla.Float32)
		shape := broadcastShape(t.Shape(), e.shape())
		if p == 2 {
			return []value{{t: t.Square().Reshape(shape...)}}
		}
		return []value{{t: t.PowScalar(p).Reshape(shape...)}}
	}
	a, b := pair(x, e)
	return []value{{t: a.Pow(b)}}
}

func opWhere(c *ctx, in []value) []value {
	cond, a, b := c.in(in, 0), c.in(in, 1), c.in(in, 2)
	if cond.i != nil && a.i != nil && b.i != nil {
		shape := broadcastShape(broadcastShape(cond.i.shape, a.i.shape), b.i.shape)
		n := intCount(shape)
		out := newInts(shape, make([]int64, n))
		out.dtype = a.i.dtype
		sc, sa, sb := bstrides(cond.i.shape, shape), bstrides(a.i.shape, shape), bstrides(b.i.shape, shape)
		idx := make([]int, len(shape))
		for k := range n {
			oc, oa, ob := 0, 0, 0
			for d := range shape {
				oc += idx[d] * sc[d]
				oa += idx[d] * sa[d]
				ob += idx[d] * sb[d]
			}
			if cond.i.v[oc] != 0 {
				out.v[k] = a.i.v[oa]
			} else {
				out.v[k] = b.i.v[ob]
			}
			for d := len(shape) - 1; d >= 0; d-- {
				if idx[d]++; idx[d] < shape[d] {
					break
				}
				idx[d] = 0
			}
		}
		return []value{{i: out}}
	}
	checkCount(broadcastShape(broadcastShape(cond.shape(), a.shape()), b.shape()))
	x, y := pair(a, b)
	// A condition compared with zero is a valid one whatever it holds
	// (0/1 floats, or bool tensors where nabla has them).
	cb := cond.tensorOf(x.DType())
	return []value{{t: nabla.Where(cb.NotEqual(nabla.FullOf(cb.DType(), 0)), x, y)}}
}

func opClip(c *ctx, in []value) []value {
	x := c.in(in, 0)
	lo, hi := math.Inf(-1), math.Inf(1)
	if c.n.opset < 11 {
		lo, hi = c.float("min", lo), c.float("max", hi)
	}
	if has(in, 1) {
		lo = scalarOf(in[1])
	}
	if has(in, 2) {
		hi = scalarOf(in[2])
	}
	if x.i != nil {
		out := newInts(x.i.shape, make([]int64, len(x.i.v)))
		for k, v := range x.i.v {
			out.v[k] = int64(math.Min(math.Max(float64(v), lo), hi))
		}
		return []value{{i: out}}
	}
	return []value{{t: x.t.Clamp(lo, hi)}}
}

// scalarOf reads a one-element input as a float.
func scalarOf(v value) float64 {
	if n := checkCount(v.shape()); n != 1 {
		fail("want a scalar, got shape %v", v.shape())
	}
	if v.i != nil {
		return float64(v.i.v[0])
	}
	return v.t.Float64s()[0]
}

func softmax(log bool) opFunc {
	return func(c *ctx, in []value) []value {
		x := c.tensor(in, 0)
		r := x.Dim()
		if c.n.opset >= 13 {
			ax := axis(c.int("axis", -1), r)
			if log {
				return []value{{t: x.LogSoftmax(ax)}}
			}
			return []value{{t: x.Softmax(ax)}}
		}
		// Before opset 13 the input is coerced to 2-d at axis.
		ax := axis(c.int("axis", 1), max(r, 1))
		shape := x.Shape()
		x2 := x.Reshape(prod(shape[:ax]), prod(shape[ax:]))
		var y *nabla.Tensor
		if log {
			y = x2.LogSoftmax(1)
		} else {
			y = x2.Softmax(1)
		}
		return []value{{t: y.Reshape(shape...)}}
	}
}

func prod(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

func opCast(c *ctx, in []value) []value {
	v := c.in(in, 0)
	to := int32(c.int("to", 0))
	switch to {
	case typeFloat:
		if v.t != nil {
			return []value{{t: v.t.To(nabla.Float32)}}
		}
		return []value{{t: v.tensorOf(nabla.Float32)}}
	case typeDouble:
		if v.t != nil {
			return []value{{t: v.t.To(nabla.Float64)}}
		}
		return []value{{t: v.tensorOf(nabla.Float64)}}
	case typeInt64, typeInt32, typeInt8, typeUint8, typeBool:
		src := v.intsOf()
		out := &ints{shape: src.shape, v: make([]int64, len(src.v)), dtype: to, isBool: to == typeBool}
		for k, x := range src.v {
			switch to {
			case typeBool:
				if x != 0 {
					x = 1
				}
			case typeInt32:
				x = int64(int32(x))
			case typeInt8:
				x = int64(int8(x))
			case typeUint8:
				x = int64(uint8(x))
			}
			out.v[k] = x
		}
		if v.t != nil && to == typeBool { // a float like 0.5 is true
			for k, f := range v.t.Float64s() {
				if f != 0 {
					out.v[k] = 1
				}
			}
		}
		return []value{{i: out}}
	}
	fail("Cast to %s is not supported", typeName(to))
	return nil
}

func opConstant(c *ctx, _ []value) []value {
	for name, a := range c.n.attrs {
		switch name {
		case "value":
			if a.t == nil {
				fail("attribute value holds no tensor")
			}
			v, err := decodeTensorValue(a.t, &externalReader{})
			if err != nil {
				fail("attribute value: %v", err)
			}
			return []value{v}
		case "value_float":
			return []value{{t: nabla.FromSlice([]float32{a.f})}}
		case "value_floats":
			return []value{{t: nabla.FromSlice(slices.Clone(a.floats), len(a.floats))}}
		case "value_int":
			return []value{{i: scalarInts(a.i)}}
		case "value_ints":
			return []value{{i: newInts([]int{len(a.ints)}, slices.Clone(a.ints))}}
		default:
			fail("attribute %s is not supported", name)
		}
	}
	fail("no value attribute")
	return nil
}

func opDropout(c *ctx, in []value) []value {
	x := c.in(in, 0)
	if has(in, 2) && scalarOf(in[2]) != 0 {
		fail("training_mode is not supported: the model runs in inference mode")
	}
	if len(c.n.outputs) < 2 || c.n.outputs[1] == "" {
		return []value{x}
	}
	mask := &ints{shape: x.shape(), v: make([]int64, intCount(x.shape())), isBool: true, dtype: typeBool}
	for k := range mask.v {
		mask.v[k] = 1
	}
	return []value{x, {i: mask}}
}

// Linear algebra, convolution, pooling, normalization.

func opMatMul(c *ctx, in []value) []value {
	a, b := pair(c.in(in, 0), c.in(in, 1))
	checkMatMul(a.Shape(), b.Shape())
	return []value{{t: a.MatMul(b)}}
}

// checkMatMul bounds the size of a matrix product before it is made.
func checkMatMul(a, b []int) {
	if len(a) == 0 || len(b) == 0 {
		fail("MatMul of shapes %v and %v: both need a dimension", a, b)
	}
	rows, cols := 1, 1
	if len(a) >= 2 {
		rows = a[len(a)-2]
	}
	if len(b) >= 2 {
		cols = b[len(b)-1]
	}
	batch := broadcastShape(a[:max(len(a)-2, 0)], b[:max(len(b)-2, 0)])
	checkCount(append(batch, rows, cols))
}

func opGemm(c *ctx, in []value) []value {
	a, b := pair(c.in(in, 0), c.in(in, 1))
	if a.Dim() != 2 || b.Dim() != 2 {
		fail("A and B must be 2-d, have shapes %v and %v", a.Shape(), b.Shape())
	}
	if c.int("transA", 0) != 0 {
		a = a.T()
	}
	if c.int("transB", 0) != 0 {
		b = b.T()
	}
	checkMatMul(a.Shape(), b.Shape())
	y := a.MatMul(b)
	if alpha := c.float("alpha", 1); alpha != 1 {
		y = y.MulScalar(alpha)
	}
	if has(in, 2) {
		bias := in[2].tensorOf(y.DType())
		if beta := c.float("beta", 1); beta != 1 {
			bias = bias.MulScalar(beta)
		}
		y = y.Add(bias)
	}
	return []value{{t: y}}
}

// spatial reads the attributes of a 2-d window op (1-d ones are made 2-d
// by the callers): strides, dilations, and pads as (top, left, bottom,
// right), resolved from auto_pad for input size (h, w) and kernel (kh, kw).
type spatial struct {
	stride, dilation [2]int
	pads             [4]int
}

func (c *ctx) spatial(rank int, in, kernel [2]int) spatial {
	get := func(name string, def int64) []int64 {
		v := c.ints(name, nil)
		if v == nil {
			v = make([]int64, rank)
			for i := range v {
				v[i] = def
			}
		}
		return v
	}
	st, dl, pd := get("strides", 1), get("dilations", 1), c.ints("pads", make([]int64, 2*rank))
	if len(st) != rank || len(dl) != rank || len(pd) != 2*rank {
		fail("strides %v, dilations %v and pads %v do not fit %d spatial dimensions", st, dl, pd, rank)
	}
	var s spatial
	lift := func(v []int64, k int) int { // 1-d ops run as 2-d with a height of 1
		if rank == 1 {
			if k == 0 {
				return -1
			}
			return int(v[0])
		}
		return int(v[k])
	}
	for k := range 2 {
		s.stride[k], s.dilation[k] = lift(st, k), lift(dl, k)
		if s.stride[k] == -1 {
			s.stride[k], s.dilation[k] = 1, 1
		}
		if s.stride[k] <= 0 || s.dilation[k] <= 0 || s.stride[k] > 1<<20 || s.dilation[k] > 1<<20 {
			fail("strides %v and dilations %v must be positive", st, dl)
		}
	}
	for _, p := range pd {
		if p < 0 || p > 1<<20 {
			fail("pads %v out of range", pd)
		}
	}
	if rank == 1 {
		s.pads = [4]int{0, int(pd[0]), 0, int(pd[1])}
	} else {
		s.pads = [4]int{int(pd[0]), int(pd[1]), int(pd[2]), int(pd[3])}
	}
	switch ap := c.str("auto_pad", "NOTSET"); ap {
	case "NOTSET":
	case "VALID":
		s.pads = [4]int{}
	case "SAME_UPPER", "SAME_LOWER":
		for k := range 2 {
			out := (in[k] + s.stride[k] - 1) / s.stride[k]
			total := max(0, (out-1)*s.stride[k]+(kernel[k]-1)*s.dilation[k]+1-in[k])
			lo := total / 2
			if ap == "SAME_LOWER" {
				lo = total - total/2
			}
			s.pads[k], s.pads[k+2] = lo, total-lo
		}
	default:
		fail("auto_pad %q is not supported", ap)
	}
	return s
}

func (s spatial) symmetric() bool { return s.pads[0] == s.pads[2] && s.pads[1] == s.pads[3] }

// to4d makes the input of a 1-d window op 2-d: (N, C, L) -> (N, C, 1, L).
func to4d(x *nabla.Tensor, op string) (*nabla.Tensor, int) {
	switch x.Dim() {
	case 3:
		return x.Unsqueeze(2), 1
	case 4:
		return x, 2
	}
	fail("%s: only 1-d and 2-d inputs (N, C, L) and (N, C, H, W) are supported, got shape %v", op, x.Shape())
	return nil, 0
}

func hw(x *nabla.Tensor) [2]int { s := x.Shape(); return [2]int{s[2], s[3]} }

func opConv(c *ctx, in []value) []value { return convChain(c, in, nil, false) }

// convChain runs a Conv node, then adds res to its output when res is not
// nil and applies Relu when relu is set: the chain Conv → (Add) → Relu
// that Load fuses (see fuseConvs). A 2-d one runs as one
// nabla.Conv2dReLU, whose results are the three ops'.
func convChain(c *ctx, in []value, res *nabla.Tensor, relu bool) []value {
	x, w := pair(c.in(in, 0), c.in(in, 1))
	x, rank := to4d(x, "Conv")
	if w.Dim() != rank+2 {
		fail("weight has shape %v, want rank %d", w.Shape(), rank+2)
	}
	if rank == 1 {
		w = w.Unsqueeze(2)
	}
	ws := w.Shape()
	s := c.spatial(rank, hw(x), [2]int{ws[2], ws[3]})
	var b *nabla.Tensor
	if has(in, 2) {
		b = in[2].tensorOf(x.DType())
	}
	opt := nabla.ConvOptions{Stride: s.stride, Dilation: s.dilation, Groups: int(c.int("group", 1))}
	xs := x.Shape()
	var out [2]int
	for a := range 2 {
		out[a] = (xs[2+a]+s.pads[a]+s.pads[a+2]-s.dilation[a]*(ws[2+a]-1)-1)/s.stride[a] + 1
	}
	checkCount([]int{xs[0], ws[0], max(out[0], 0), max(out[1], 0)})
	if s.symmetric() {
		opt.Padding = [2]int{s.pads[0], s.pads[1]}
	} else {
		x = pad2d(c, x, s.pads, 0)
	}
	if relu && rank == 2 {
		return []value{{t: nabla.Conv2dReLU(x, w, b, res, opt)}}
	}
	y := nabla.Conv2d(x, w, b, opt)
	if rank == 1 {
		y = y.Squeeze(2)
	}
	if res != nil {
		checkCount(broadcastShape(y.Shape(), res.Shape()))
		y = y.Add(res)
	}
	if relu {
		y = y.Relu()
	}
	return []value{{t: y}}
}

// pad2d pads (negative: crops) the last two axes of x with the value v:
// pads are (top, left, bottom, right).
func pad2d(c *ctx, x *nabla.Tensor, pads [4]int, v float64) *nabla.Tensor {
	r := x.Dim()
	return padAxes(c, x, map[int][2]int{r - 2: {pads[0], pads[2]}, r - 1: {pads[1], pads[3]}}, v)
}

// padAxes pads each axis a of x by p[a] = (before, after) elements of v;
// a negative amount crops. It is built from Concat and Slice, so it is
// differentiable.
func padAxes(c *ctx, x *nabla.Tensor, p map[int][2]int, v float64) *nabla.Tensor {
	for a := range x.Dim() {
		pa, ok := p[a]
		if !ok {
			continue
		}
		n := x.Shape()[a]
		lo, hi := pa[0], pa[1]
		if lo < 0 || hi < 0 {
			start, end := max(-lo, 0), n-max(-hi, 0)
			if end < start {
				fail("pads %v crop more than the %d elements of axis %d", pa, n, a)
			}
			x = x.Slice(a, start, end, 1)
			lo, hi = max(lo, 0), max(hi, 0)
		}
		parts := []*nabla.Tensor{}
		block := func(k int) *nabla.Tensor {
			s := x.Shape()
			s[a] = k
			c.alloc(s)
			return nabla.FullOf(x.DType(), v, s...)
		}
		if lo > 0 {
			parts = append(parts, block(lo))
		}
		parts = append(parts, x)
		if hi > 0 {
			parts = append(parts, block(hi))
		}
		if len(parts) > 1 {
			x = nabla.Concat(parts, a)
		}
	}
	return x
}

// opConvTranspose computes a transposed convolution as the convolution it
// is the adjoint of: the input with stride-1 zeros between its elements,
// padded by dilation·(k-1) less the pads, convolved with the flipped
// kernel whose in and out channels are swapped, group by group.
func opConvTranspose(c *ctx, in []value) []value {
	x, w := pair(c.in(in, 0), c.in(in, 1))
	x, rank := to4d(x, "ConvTranspose")
	if w.Dim() != rank+2 {
		fail("weight has shape %v, want rank %d", w.Shape(), rank+2)
	}
	if rank == 1 {
		w = w.Unsqueeze(2)
	}
	g := int(c.int("group", 1))
	ws, xs := w.Shape(), x.Shape()
	if g <= 0 || ws[0] != xs[1] || ws[0]%g != 0 {
		fail("weight %v does not fit input %v in %d groups", ws, xs, g)
	}
	k := [2]int{ws[2], ws[3]}
	if c.str("auto_pad", "NOTSET") != "NOTSET" && c.str("auto_pad", "") != "VALID" {
		fail("auto_pad %q is not supported", c.str("auto_pad", ""))
	}
	s := c.spatial(rank, hw(x), k)
	op := c.ints("output_padding", make([]int64, rank))
	if len(op) != rank {
		fail("output_padding %v does not fit %d spatial dimensions", op, rank)
	}
	outPad := [2]int{0, int(op[0])}
	if rank == 2 {
		outPad = [2]int{int(op[0]), int(op[1])}
	}
	if os := c.ints("output_shape", nil); os != nil {
		if len(os) != rank {
			fail("output_shape %v does not fit %d spatial dimensions", os, rank)
		}
		want := [2]int{1, int(os[0])}
		if rank == 2 {
			want = [2]int{int(os[0]), int(os[1])}
		}
		for a := range 2 {
			total := s.stride[a]*(xs[2+a]-1) + outPad[a] + (k[a]-1)*s.dilation[a] + 1 - want[a]
			s.pads[a] = total / 2
			s.pads[a+2] = total - total/2
		}
	}
	// Zeros between the elements: (N, C, H, W) -> (N, C, (H-1)·sh+1, (W-1)·sw+1).
	// The zero-stuffed, padded input bounds every tensor made below.
	var padded [2]int
	for a := range 2 {
		padded[a] = s.stride[a]*xs[2+a] + outPad[a] + 2*(k[a]-1)*s.dilation[a] + 1
	}
	checkCount([]int{xs[0], max(xs[1], ws[1]*g), padded[0], padded[1]})
	if s.stride != [2]int{1, 1} {
		n, ch, h, wd := xs[0], xs[1], xs[2], xs[3]
		y := x.Reshape(n, ch, h, 1, wd, 1)
		if s.stride[0] > 1 {
			y = nabla.Concat([]*nabla.Tensor{y, nabla.FullOf(x.DType(), 0, n, ch, h, s.stride[0]-1, wd, 1)}, 3)
		}
		if s.stride[1] > 1 {
			y = nabla.Concat([]*nabla.Tensor{y, nabla.FullOf(x.DType(), 0, n, ch, h, s.stride[0], wd, s.stride[1]-1)}, 5)
		}
		x = y.Reshape(n, ch, h*s.stride[0], wd*s.stride[1])
		x = x.Slice(2, 0, (h-1)*s.stride[0]+1, 1).Slice(3, 0, (wd-1)*s.stride[1]+1, 1)
	}
	var pads [4]int
	for a := range 2 {
		span := (k[a] - 1) * s.dilation[a]
		pads[a] = span - s.pads[a]
		pads[a+2] = span - s.pads[a+2] + outPad[a]
	}
	x = pad2d(c, x, pads, 0)
	// (Cin, Cout/g, kh, kw) -> (Cout, Cin/g, kh, kw), flipped.
	cin, coutg := ws[0], ws[1]
	wt := w.Reshape(g, cin/g, coutg, k[0], k[1]).Permute(0, 2, 1, 3, 4).Reshape(g*coutg, cin/g, k[0], k[1])
	wt = wt.IndexSelect(2, reversed(k[0])).IndexSelect(3, reversed(k[1]))
	var b *nabla.Tensor
	if has(in, 2) {
		b = in[2].tensorOf(x.DType())
	}
	y := nabla.Conv2d(x, wt, b, nabla.ConvOptions{Dilation: s.dilation, Groups: g})
	if rank == 1 {
		y = y.Squeeze(2)
	}
	return []value{{t: y}}
}

func reversed(n int) *nabla.Tensor {
	v := make([]int64, n)
	for i := range v {
		v[i] = int64(n - 1 - i)
	}
	return nabla.FromSlice(v, n)
}

func pool(isMax bool) opFunc {
	return func(c *ctx, in []value) []value {
		name := "AveragePool"
		if isMax {
			name = "MaxPool"
		}
		if len(c.n.outputs) > 1 && c.n.outputs[1] != "" {
			fail("the Indices output is not supported")
		}
		x, rank := to4d(c.tensor(in, 0), name)
		ks := c.ints("kernel_shape", nil)
		if len(ks) != rank {
			fail("kernel_shape %v does not fit %d spatial dimensions", ks, rank)
		}
		k := [2]int{1, int(ks[0])}
		if rank == 2 {
			k = [2]int{int(ks[0]), int(ks[1])}
		}
		if k[0] <= 0 || k[1] <= 0 || k[0] > 1<<20 || k[1] > 1<<20 {
			fail("kernel_shape %v must be positive", ks)
		}
		s := c.spatial(rank, hw(x), k)
		opt := nabla.PoolOptions{Stride: s.stride, CeilMode: c.int("ceil_mode", 0) != 0}
		if isMax {
			opt.Dilation = s.dilation
		} else if s.dilation != [2]int{1, 1} {
			fail("dilations are not supported in average pooling")
		}
		include := c.int("count_include_pad", 0) != 0
		if !isMax {
			opt.ExcludePad = !include
		}
		if s.symmetric() && s.pads[0] <= k[0]/2 && s.pads[1] <= k[1]/2 {
			opt.Padding = [2]int{s.pads[0], s.pads[1]}
		} else if s.pads != [4]int{} {
			if !isMax && !include {
				fail("asymmetric or large pads %v are not supported with count_include_pad=0", s.pads)
			}
			fill := 0.0
			if isMax {
				fill = math.Inf(-1)
			}
			x = pad2d(c, x, s.pads, fill)
		}
		var y *nabla.Tensor
		if isMax {
			y = nabla.MaxPool2d(x, k, opt)
		} else {
			y = nabla.AvgPool2d(x, k, opt)
		}
		if rank == 1 {
			y = y.Squeeze(2)
		}
		return []value{{t: y}}
	}
}

func globalPool(isMax bool) opFunc {
	return func(c *ctx, in []value) []value {
		x := c.tensor(in, 0)
		if x.Dim() < 3 {
			fail("input must have spatial dimensions, has shape %v", x.Shape())
		}
		axes := make([]int, 0, x.Dim()-2)
		for a := 2; a < x.Dim(); a++ {
			axes = append(axes, a)
		}
		if isMax {
			return []value{{t: x.MaxKeep(axes...)}}
		}
		return []value{{t: x.MeanKeep(axes...)}}
	}
}

// channelShape is the shape that broadcasts a (C) vector over the channel
// axis of a rank-r input: (1, C, 1, ...).
func channelShape(c, r int) []int {
	s := make([]int, max(r, 2))
	for i := range s {
		s[i] = 1
	}
	s[1] = c
	return s
}

// opBatchNorm is inference-mode batch normalization, as an affine map per
// channel: y = x·s + (B - mean·s) with s = scale/√(var + ε).
func opBatchNorm(c *ctx, in []value) []value {
	x := c.tensor(in, 0)
	if c.int("training_mode", 0) != 0 {
		fail("training_mode is not supported: the model runs in inference mode")
	}
	if len(c.n.outputs) > 1 {
		for _, o := range c.n.outputs[1:] {
			if o != "" {
				fail("the running-statistics outputs of training mode are not supported")
			}
		}
	}
	if x.Dim() < 2 {
		fail("input must be at least 2-d, has shape %v", x.Shape())
	}
	ch := x.Shape()[1]
	vec := func(k int) *nabla.Tensor {
		t := c.in(in, k).tensorOf(x.DType())
		if t.Dim() != 1 || t.Shape()[0] != ch {
			fail("input %d has shape %v, want [%d]", k, t.Shape(), ch)
		}
		return t
	}
	scale, bias, mean, vr := vec(1), vec(2), vec(3), vec(4)
	s := scale.Div(vr.AddScalar(c.float("epsilon", 1e-5)).Sqrt())
	shift := bias.Sub(mean.Mul(s))
	shape := channelShape(ch, x.Dim())
	return []value{{t: x.Mul(s.Reshape(shape...)).Add(shift.Reshape(shape...))}}
}

func opLayerNorm(c *ctx, in []value) []value {
	x := c.tensor(in, 0)
	if len(c.n.outputs) > 1 {
		for _, o := range c.n.outputs[1:] {
			if o != "" {
				fail("the Mean and InvStdDev outputs are not supported")
			}
		}
	}
	if c.int("stash_type", 1) != 1 {
		fail("stash_type %d is not supported", c.int("stash_type", 1))
	}
	ax := axis(c.int("axis", -1), x.Dim())
	norm := x.Shape()[ax:]
	y := nabla.LayerNorm(x, norm, c.float("epsilon", 1e-5))
	y = y.Mul(c.in(in, 1).tensorOf(x.DType()))
	if has(in, 2) {
		y = y.Add(in[2].tensorOf(x.DType()))
	}
	return []value{{t: y}}
}

func reduce(op string) opFunc {
	return func(c *ctx, in []value) []value {
		x := c.tensor(in, 0)
		var axes []int64
		fromInput := op == "ReduceSum" && c.n.opset >= 13
		if fromInput {
			if has(in, 1) {
				axes = c.intList(in, 1)
			}
		} else {
			axes = c.ints("axes", nil)
		}
		keep := c.int("keepdims", 1) != 0
		if len(axes) == 0 && fromInput && c.int("noop_with_empty_axes", 0) != 0 {
			return []value{{t: x}}
		}
		ax := make([]int, len(axes))
		for i, a := range axes {
			ax[i] = axis(a, x.Dim())
		}
		if len(ax) == 0 {
			for a := range x.Dim() {
				ax = append(ax, a)
			}
		}
		var y *nabla.Tensor
		switch op {
		case "ReduceMean":
			y = x.MeanKeep(ax...)
		case "ReduceSum":
			y = x.SumKeep(ax...)
		case "ReduceMax":
			y = x.MaxKeep(ax...)
		case "ReduceMin":
			y = x.MinKeep(ax...)
		}
		if !keep && len(ax) > 0 {
			y = y.Squeeze(ax...)
		}
		return []value{{t: y}}
	}
}

// Shape operators.

func opShape(c *ctx, in []value) []value {
	s := c.in(in, 0).shape()
	r := int64(len(s))
	clamp := func(v int64) int64 {
		if v < 0 {
			v += r
		}
		return min(max(v, 0), r)
	}
	start, end := clamp(c.int("start", 0)), clamp(c.int("end", r))
	out := []int64{}
	for _, d := range s[start:max(start, end)] {
		out = append(out, int64(d))
	}
	return []value{{i: newInts([]int{len(out)}, out)}}
}

func opSize(c *ctx, in []value) []value {
	return []value{{i: scalarInts(int64(checkCount(c.in(in, 0).shape())))}}
}

// reshapeTo applies a new shape to v, a float tensor or ints.
func reshapeTo(v value, shape []int) value {
	if v.t != nil {
		return value{t: v.t.Reshape(shape...)}
	}
	if checkCount(shape) != len(v.i.v) {
		fail("cannot reshape %v to %v", v.i.shape, shape)
	}
	out := *v.i
	out.shape = shape
	return value{i: &out}
}

func opReshape(c *ctx, in []value) []value {
	x := c.in(in, 0)
	spec := c.intList(in, 1)
	allowZero := c.int("allowzero", 0) != 0
	old := x.shape()
	shape := make([]int, len(spec))
	infer := -1
	for i, d := range spec {
		switch {
		case d == 0 && !allowZero:
			if i >= len(old) {
				fail("shape %v copies dimension %d of %v, which has no such dimension", spec, i, old)
			}
			shape[i] = old[i]
		case d == -1 && infer < 0:
			infer, shape[i] = i, 1
		case d < 0 || d > maxElements:
			fail("bad dimension %d in shape %v", d, spec)
		default:
			shape[i] = int(d)
		}
	}
	if infer >= 0 {
		n, total := checkCount(shape), checkCount(old)
		if n == 0 || total%n != 0 {
			fail("cannot reshape %v to %v", old, spec)
		}
		shape[infer] = total / n
	}
	return []value{reshapeTo(x, shape)}
}

func opFlatten(c *ctx, in []value) []value {
	x := c.in(in, 0)
	s := x.shape()
	a := c.int("axis", 1)
	if a < -int64(len(s)) || a > int64(len(s)) {
		fail("axis %d is out of range for rank %d", a, len(s))
	}
	if a < 0 {
		a += int64(len(s))
	}
	return []value{reshapeTo(x, []int{prod(s[:a]), prod(s[a:])})}
}

func opTranspose(c *ctx, in []value) []value {
	x := c.in(in, 0)
	r := len(x.shape())
	perm := c.ints("perm", nil)
	if perm == nil {
		for a := r - 1; a >= 0; a-- {
			perm = append(perm, int64(a))
		}
	}
	if len(perm) != r {
		fail("perm %v does not fit rank %d", perm, r)
	}
	p := make([]int, r)
	seen := make([]bool, r)
	for i, a := range perm {
		p[i] = axis(a, r)
		if seen[p[i]] {
			fail("perm %v repeats an axis", perm)
		}
		seen[p[i]] = true
	}
	if x.t != nil {
		return []value{{t: x.t.Permute(p...)}}
	}
	// Integers: gather by the permuted strides.
	s := x.i.shape
	shape := make([]int, r)
	for i, a := range p {
		shape[i] = s[a]
	}
	st := bstrides(s, s)
	out := &ints{shape: shape, v: make([]int64, len(x.i.v)), dtype: x.i.dtype, isBool: x.i.isBool}
	idx := make([]int, r)
	for k := range out.v {
		o := 0
		for i, a := range p {
			o += idx[i] * st[a]
		}
		out.v[k] = x.i.v[o]
		for d := r - 1; d >= 0; d-- {
			if idx[d]++; idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return []value{{i: out}}
}

// axesOf reads the axes of Squeeze and Unsqueeze: an attribute before
// opset 13, an input from 13 on.
func (c *ctx) axesOf(in []value) ([]int64, bool) {
	if c.n.opset >= 13 {
		if has(in, 1) {
			return c.intList(in, 1), true
		}
		return nil, false
	}
	a := c.ints("axes", nil)
	return a, a != nil
}

func opSqueeze(c *ctx, in []value) []value {
	x := c.in(in, 0)
	s := x.shape()
	axes, ok := c.axesOf(in)
	drop := make([]bool, len(s))
	for _, a := range axes {
		ax := axis(a, len(s))
		if s[ax] != 1 {
			fail("axis %d has length %d, not 1", a, s[ax])
		}
		drop[ax] = true
	}
	var shape []int
	for i, d := range s {
		if ok && !drop[i] || !ok && d != 1 {
			shape = append(shape, d)
		}
	}
	return []value{reshapeTo(x, append([]int{}, shape...))}
}

func opUnsqueeze(c *ctx, in []value) []value {
	x := c.in(in, 0)
	s := x.shape()
	axes, ok := c.axesOf(in)
	if !ok {
		fail("axes are missing")
	}
	r := len(s) + len(axes)
	add := make([]bool, r)
	for _, a := range axes {
		ax := axis(a, r)
		if add[ax] {
			fail("axes %v repeat an axis", axes)
		}
		add[ax] = true
	}
	shape := make([]int, r)
	j := 0
	for i := range shape {
		if add[i] {
			shape[i] = 1
		} else {
			shape[i] = s[j]
			j++
		}
	}
	return []value{reshapeTo(x, shape)}
}

func opConcat(c *ctx, in []value) []value {
	if len(in) == 0 {
		fail("no inputs")
	}
	allInts := true
	dt := nabla.Float32
	for k := range in {
		v := c.in(in, k)
		if v.t != nil {
			allInts = false
			if v.t.DType() == nabla.Float64 {
				dt = nabla.Float64
			}
		}
	}
	r := len(in[0].shape())
	ax := axis(c.int("axis", 0), r)
	if !allInts {
		ts := make([]*nabla.Tensor, len(in))
		for k, v := range in {
			ts[k] = v.tensorOf(dt)
		}
		return []value{{t: nabla.Concat(ts, ax)}}
	}
	shape := slices.Clone(in[0].shape())
	shape[ax] = 0
	for _, v := range in {
		s := v.i.shape
		if len(s) != r {
			fail("inputs of ranks %d and %d", r, len(s))
		}
		for d := range s {
			if d != ax && s[d] != shape[d] {
				fail("input shapes %v and %v differ outside axis %d", in[0].shape(), s, ax)
			}
		}
		shape[ax] += s[ax]
	}
	out := &ints{shape: shape, v: make([]int64, 0, intCount(shape)), dtype: in[0].i.dtype, isBool: in[0].i.isBool}
	outer := prod(shape[:ax])
	for o := range outer {
		for _, v := range in {
			blk := prod(v.i.shape[ax:])
			out.v = append(out.v, v.i.v[o*blk:(o+1)*blk]...)
		}
	}
	return []value{{i: out}}
}

func opSplit(c *ctx, in []value) []value {
	x := c.tensor(in, 0)
	ax := axis(c.int("axis", 0), x.Dim())
	var split []int64
	if c.n.opset >= 13 {
		if has(in, 1) {
			split = c.intList(in, 1)
		}
	} else {
		split = c.ints("split", nil)
	}
	n := x.Shape()[ax]
	sizes := make([]int, 0, len(c.n.outputs))
	if split == nil {
		k := len(c.n.outputs)
		if k == 0 || n%k != 0 {
			fail("axis %d of length %d does not split into %d equal parts", ax, n, k)
		}
		for range k {
			sizes = append(sizes, n/k)
		}
	} else {
		if len(split) != len(c.n.outputs) {
			fail("split %v has %d parts, the node %d outputs", split, len(split), len(c.n.outputs))
		}
		for _, s := range split {
			if s < 0 || s > int64(n) {
				fail("split %v does not fit axis %d of length %d", split, ax, n)
			}
			sizes = append(sizes, int(s))
		}
	}
	parts := x.Split(ax, sizes...)
	out := make([]value, len(parts))
	for k, p := range parts {
		out[k] = value{t: p}
	}
	return out
}

// sliceIndices resolves ONNX Slice's start, end and step for an axis of
// length n into the selected indices' start, count and step.
func sliceIndices(start, end, step int64, n int) (int, int, int) {
	if step == 0 {
		fail("step 0")
	}
	dim := int64(n)
	if start < 0 {
		start += dim
	}
	if end < 0 {
		end += dim
	}
	var cnt int64
	if step > 0 {
		start, end = min(max(start, 0), dim), min(max(end, 0), dim)
		if end > start {
			cnt = (end - start + step - 1) / step
		}
	} else {
		start, end = min(max(start, 0), dim-1), min(max(end, -1), dim-1)
		if start > end {
			cnt = (start - end - step - 1) / -step
		}
	}
	return int(start), int(cnt), int(max(min(step, dim), -dim))
}

func opSlice(c *ctx, in []value) []value {
	x := c.in(in, 0)
	s := x.shape()
	starts, ends := c.intList(in, 1), c.intList(in, 2)
	var axes, steps []int64
	if has(in, 3) {
		axes = c.intList(in, 3)
	} else {
		for a := range starts {
			axes = append(axes, int64(a))
		}
	}
	if has(in, 4) {
		steps = c.intList(in, 4)
	} else {
		for range starts {
			steps = append(steps, 1)
		}
	}
	if len(ends) != len(starts) || len(axes) != len(starts) || len(steps) != len(starts) {
		fail("starts %v, ends %v, axes %v and steps %v differ in length", starts, ends, axes, steps)
	}
	for k := range starts {
		ax := axis(axes[k], len(s))
		n := x.shape()[ax]
		st, cnt, step := sliceIndices(starts[k], ends[k], steps[k], n)
		if x.t != nil && step > 0 {
			x = value{t: x.t.Slice(ax, st, st+cnt*step, step)}
			continue
		}
		idx := make([]int64, cnt)
		for i := range idx {
			idx[i] = int64(st + i*step)
		}
		x = gatherAxis(x, ax, newInts([]int{cnt}, idx))
	}
	return []value{x}
}

// gatherAxis selects the entries of x at idx (any shape, values already
// in range) along axis ax: the result's shape is x's with that axis
// replaced by idx's shape.
func gatherAxis(x value, ax int, idx *ints) value {
	s := x.shape()
	shape := slices.Concat(s[:ax], idx.shape, s[ax+1:])
	checkCount(shape)
	if x.t != nil {
		return value{t: x.t.IndexSelect(ax, nabla.FromSlice(slices.Clone(idx.v), len(idx.v))).Reshape(shape...)}
	}
	outer, inner := prod(s[:ax]), prod(s[ax+1:])
	checkCount(shape)
	out := &ints{shape: shape, v: make([]int64, 0, intCount(shape)), dtype: x.i.dtype, isBool: x.i.isBool}
	for o := range outer {
		for _, k := range idx.v {
			base := (o*s[ax] + int(k)) * inner
			out.v = append(out.v, x.i.v[base:base+inner]...)
		}
	}
	return value{i: out}
}

func opGather(c *ctx, in []value) []value {
	x := c.in(in, 0)
	s := x.shape()
	ax := axis(c.int("axis", 0), len(s))
	iv := c.in(in, 1).intsOf()
	idx := &ints{shape: iv.shape, v: make([]int64, len(iv.v)), dtype: typeInt64}
	for k, v := range iv.v {
		if v < -int64(s[ax]) || v >= int64(s[ax]) {
			fail("index %d is out of range for axis %d of length %d", v, ax, s[ax])
		}
		if v < 0 {
			v += int64(s[ax])
		}
		idx.v[k] = v
	}
	return []value{gatherAxis(x, ax, idx)}
}

// shapeInput reads an input that is a shape: a 1-d list of sizes.
func (c *ctx) shapeInput(in []value, k int) []int {
	v := c.in(in, k)
	if len(v.shape()) != 1 {
		fail("the shape input must be 1-d, has shape %v", v.shape())
	}
	l := v.intsOf().v
	shape := make([]int, len(l))
	for i, d := range l {
		if d < 0 || d > maxElements {
			fail("bad dimension %d in shape %v", d, l)
		}
		shape[i] = int(d)
	}
	checkCount(shape)
	return shape
}

func opConstantOfShape(c *ctx, in []value) []value {
	shape := c.shapeInput(in, 0)
	fill := value{t: nabla.FromSlice([]float32{0})}
	if a := c.attr("value", attrTensor); a != nil && a.t != nil {
		v, err := decodeTensorValue(a.t, &externalReader{})
		if err != nil {
			fail("attribute value: %v", err)
		}
		if checkCount(v.shape()) != 1 {
			fail("attribute value must hold one element, has shape %v", v.shape())
		}
		fill = v
	}
	if fill.i != nil {
		n := intCount(shape)
		out := &ints{shape: shape, v: make([]int64, n), dtype: fill.i.dtype, isBool: fill.i.isBool}
		for k := range out.v {
			out.v[k] = fill.i.v[0]
		}
		return []value{{i: out}}
	}
	c.alloc(shape)
	return []value{{t: nabla.FullOf(fill.t.DType(), fill.t.Float64s()[0], shape...)}}
}

func opExpand(c *ctx, in []value) []value {
	x := c.in(in, 0)
	shape := broadcastShape(x.shape(), c.shapeInput(in, 1))
	checkCount(shape)
	if x.t != nil {
		return []value{{t: x.t.BroadcastTo(shape...)}}
	}
	zero := newInts(shape, make([]int64, intCount(shape)))
	out := broadcastInts(x.i, zero, func(a, _ int64) int64 { return a })
	out.dtype, out.isBool = x.i.dtype, x.i.isBool
	return []value{{i: out}}
}

func opPad(c *ctx, in []value) []value {
	x := c.tensor(in, 0)
	r := x.Dim()
	var pads []int64
	if c.n.opset >= 11 {
		pads = c.intList(in, 1)
	} else {
		pads = c.ints("pads", nil)
	}
	if len(pads) != 2*r {
		fail("pads %v do not fit rank %d", pads, r)
	}
	fill := 0.0
	if has(in, 2) {
		fill = scalarOf(in[2])
	}
	p := map[int][2]int{}
	for a := range r {
		lo, hi := pads[a], pads[a+r]
		if lo < -maxElements || lo > maxElements || hi < -maxElements || hi > maxElements {
			fail("pads %v out of range", pads)
		}
		if lo != 0 || hi != 0 {
			p[a] = [2]int{int(lo), int(hi)}
		}
	}
	switch mode := c.str("mode", "constant"); mode {
	case "constant":
		return []value{{t: padAxes(c, x, p, fill)}}
	case "reflect", "edge":
		// Gather the source index of every output position, axis by axis.
		for a := range r {
			pa, ok := p[a]
			if !ok {
				continue
			}
			n := x.Shape()[a]
			m := n + pa[0] + pa[1]
			if m < 0 || n == 0 || mode == "reflect" && n == 1 && m != n {
				fail("%s padding of %v on an axis of length %d", mode, pa, n)
			}
			idx := make([]int64, m)
			for i := range idx {
				j := i - pa[0]
				if mode == "edge" {
					j = min(max(j, 0), n-1)
				} else {
					period := 2 * (n - 1)
					j = ((j % period) + period) % period
					if j >= n {
						j = period - j
					}
				}
				idx[i] = int64(j)
			}
			x = gatherAxis(value{t: x}, a, newInts([]int{m}, idx)).t
		}
		return []value{{t: x}}
	default:
		fail("mode %q is not supported", mode)
	}
	return nil
}

func opRange(c *ctx, in []value) []value {
	a, b, d := c.in(in, 0), c.in(in, 1), c.in(in, 2)
	if a.i != nil && b.i != nil && d.i != nil {
		start, limit, delta := scalarOf(a), scalarOf(b), scalarOf(d)
		if delta == 0 {
			fail("delta 0")
		}
		n := max(int64(math.Ceil((limit-start)/delta)), 0)
		if n > maxInts {
			fail("%d elements", n)
		}
		out := newInts([]int{int(n)}, make([]int64, n))
		for k := range out.v {
			out.v[k] = int64(start) + int64(k)*int64(delta)
		}
		return []value{{i: out}}
	}
	start, limit, delta := scalarOf(a), scalarOf(b), scalarOf(d)
	if delta == 0 {
		fail("delta 0")
	}
	n := max(int64(math.Ceil((limit-start)/delta)), 0)
	if n > maxElements {
		fail("%d elements", n)
	}
	c.alloc([]int{int(n)})
	f := make([]float32, n)
	for k := range f {
		f[k] = float32(start + float64(k)*delta)
	}
	return []value{{t: nabla.FromSlice(f, int(n))}}
}

// opResize is Resize in mode "nearest" (the others are not supported): a
// gather along each resized axis of the source index of every output
// position, by the coordinate_transformation_mode and nearest_mode
// attributes.
func opResize(c *ctx, in []value) []value {
	x := c.tensor(in, 0)
	if mode := c.str("mode", "nearest"); mode != "nearest" {
		fail("mode %q is not supported (only nearest)", mode)
	}
	r := x.Dim()
	src := x.Shape()
	out := slices.Clone(src)
	scales := make([]float64, r)
	switch {
	case has(in, 3) && checkCount(in[3].shape()) > 0:
		sz := c.intList(in, 3)
		if len(sz) != r {
			fail("sizes %v do not fit rank %d", sz, r)
		}
		for a, d := range sz {
			if d < 0 || d > maxElements {
				fail("bad size %d", d)
			}
			out[a] = int(d)
			scales[a] = float64(d) / float64(src[a])
		}
	case has(in, 2) && checkCount(in[2].shape()) > 0:
		v := in[2]
		if v.t == nil || len(v.shape()) != 1 || v.shape()[0] != r {
			fail("scales must be %d floats, have shape %v", r, v.shape())
		}
		for a, sc := range v.t.Float64s() {
			if !(sc > 0) || sc > 1<<20 {
				fail("bad scale %v", sc)
			}
			scales[a] = sc
			out[a] = int(math.Floor(float64(src[a]) * sc))
		}
	default:
		fail("neither scales nor sizes is given")
	}
	c.alloc(out)
	coord := c.str("coordinate_transformation_mode", "half_pixel")
	nearest := c.str("nearest_mode", "round_prefer_floor")
	for a := range r {
		if out[a] == src[a] && scales[a] == 1 {
			continue
		}
		n, m := src[a], out[a]
		if n == 0 {
			fail("cannot resize an empty axis %d", a)
		}
		idx := make([]int64, m)
		for i := range idx {
			var f float64
			s := scales[a]
			switch coord {
			case "half_pixel":
				f = (float64(i)+0.5)/s - 0.5
			case "pytorch_half_pixel":
				if m > 1 {
					f = (float64(i)+0.5)/s - 0.5
				}
			case "align_corners":
				if m > 1 {
					f = float64(i) * float64(n-1) / float64(m-1)
				}
			case "asymmetric":
				f = float64(i) / s
			case "tf_half_pixel_for_nn":
				f = (float64(i) + 0.5) / s
			default:
				fail("coordinate_transformation_mode %q is not supported", coord)
			}
			var k float64
			switch nearest {
			case "round_prefer_floor":
				k = math.Ceil(f - 0.5)
			case "round_prefer_ceil":
				k = math.Floor(f + 0.5)
			case "floor":
				k = math.Floor(f)
			case "ceil":
				k = math.Ceil(f)
			default:
				fail("nearest_mode %q is not supported", nearest)
			}
			idx[i] = int64(min(max(k, 0), float64(n-1)))
		}
		x = gatherAxis(value{t: x}, a, newInts([]int{m}, idx)).t
	}
	return []value{{t: x}}
}
