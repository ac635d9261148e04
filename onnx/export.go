package onnx

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
	"google.golang.org/protobuf/encoding/protowire"
)

// ExportOpset is the opset of the files Export writes.
const ExportOpset = 17

// Export writes model as an ONNX file (IR 8, opset 17) with its
// parameters and buffers as initializers named as in nn.StateDict, a
// graph input "input" shaped and typed like example (float32, float64,
// or int64 ids for a model that starts with an Embedding) with a dynamic
// batch dimension, and a graph output "output". The batch dimension is
// the first, except for a model whose first sequence layer (LSTM, GRU,
// MultiheadAttention, Transformer encoder) is time-major, (T, B, ·): then
// the input's first two dimensions are the dynamic "seq" and "batch".
// The output's leading dimensions are named as the input's where they
// have the same sizes.
//
// The graph is built layer by layer from the model's structure: an
// nn.Sequential (nested ones too) of Linear, Conv2d, MaxPool2d,
// AvgPool2d, AdaptiveAvgPool2d to 1×1, Flatten to the end, BatchNorm1d
// and BatchNorm2d (written in inference form, with the running
// statistics), LayerNorm, ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Softplus,
// Softmax, LogSoftmax, Dropout and Identity; Embedding (as Gather, without
// MaxNorm); LSTM and GRU of 3-d inputs (as ONNX's LSTM and GRU operators,
// one node per layer, the weights reordered from PyTorch's gates i, f, g, o
// and r, z, n to ONNX's i, o, f, c and z, r, h by Gather nodes, so that the
// initializers keep PyTorch's layout and names); MultiheadAttention
// (self-attention without add_bias_kv, as MatMul, Softmax, Reshape and
// Transpose nodes), TransformerEncoderLayer and TransformerEncoder (as
// their sub-layers, without masks). Any other module is an error naming it: a model
// struct with its own Forward has a data flow that its structure does not
// show. example is run through the model once, to check it and to find
// the output's shape.
func Export(w io.Writer, model nn.Module, example *nabla.Tensor) error {
	if example == nil || example.Dim() == 0 {
		return fmt.Errorf("onnx: Export: the example input must have a batch dimension")
	}
	var y *nabla.Tensor
	if err := nabla.Maybe(func() { nn.NoGrad(model, func() { y = model.Forward(example) }) }); err != nil {
		return fmt.Errorf("onnx: Export: the model's forward pass on the example failed: %w", err)
	}
	e := &exporter{elem: typeFloat}
	if y.DType() == nabla.Float64 {
		e.elem = typeDouble
	}
	inElem := e.elem
	switch dt := example.DType(); dt {
	case nabla.Float32:
		inElem = typeFloat
	case nabla.Float64:
		inElem = typeDouble
	case nabla.Int64:
		inElem = typeInt64
	default:
		return fmt.Errorf("onnx: Export: the example input is %v; want float32, float64 or int64", dt)
	}
	out, err := e.module(model, "", "input", example)
	if err != nil {
		return fmt.Errorf("onnx: Export: %w", err)
	}
	// The last layer's output is renamed "output" by an Identity node.
	e.node("Identity", []string{out}, "output")
	var g pb
	for _, n := range e.nodes {
		g = g.bytes(1, n)
	}
	g = g.str(2, "nabla")
	for _, t := range e.inits {
		g = g.bytes(5, t)
	}
	names := dimNames(model, example.Dim())
	g = g.bytes(11, valueInfoOut("input", inElem, example.Shape(), names))
	var outNames []string
	for i := range y.Dim() {
		if i < len(names) && names[i] != "" && y.Size(i) == example.Size(i) {
			outNames = append(outNames, names[i])
		} else {
			outNames = append(outNames, "")
		}
	}
	g = g.bytes(12, valueInfoOut("output", e.elem, y.Shape(), outNames))
	m := pb{}.varint(1, 8).str(2, "nabla").bytes(7, g).bytes(8, pb{}.str(1, "").varint(2, ExportOpset))
	_, err = w.Write(m)
	return err
}

// pb appends protobuf fields.
type pb []byte

func (b pb) bytes(num protowire.Number, v []byte) pb {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func (b pb) str(num protowire.Number, s string) pb { return b.bytes(num, []byte(s)) }

func (b pb) varint(num protowire.Number, v int64) pb {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

func intsAttr(name string, v ...int) pb {
	a := pb{}.str(1, name).varint(20, attrInts)
	for _, x := range v {
		a = a.varint(8, int64(x))
	}
	return a
}

func intAttr(name string, v int) pb { return pb{}.str(1, name).varint(20, attrInt).varint(3, int64(v)) }

func floatAttr(name string, v float64) pb {
	a := pb{}.str(1, name).varint(20, attrFloat)
	a = protowire.AppendTag(a, 2, protowire.Fixed32Type)
	return protowire.AppendFixed32(a, math.Float32bits(float32(v)))
}

// valueInfoOut describes a tensor of the given shape whose dimension i is
// the dynamic one dims[i] where that is not "".
func valueInfoOut(name string, elem int32, shape []int, dims []string) pb {
	var s pb
	for i, d := range shape {
		if i < len(dims) && dims[i] != "" {
			s = s.bytes(1, pb{}.str(2, dims[i]))
		} else {
			s = s.bytes(1, pb{}.varint(1, int64(d)))
		}
	}
	tt := pb{}.varint(1, int64(elem)).bytes(2, s)
	return pb{}.str(1, name).bytes(2, pb{}.bytes(1, tt))
}

type exporter struct {
	elem  int32
	nodes []pb
	inits []pb
	count int
}

// node appends a node and returns its output's name; an empty out makes
// a fresh name.
func (e *exporter) node(op string, in []string, out string, attrs ...pb) string {
	if out == "" {
		e.count++
		out = op + "_" + strconv.Itoa(e.count)
	}
	var b pb
	for _, s := range in {
		b = b.str(1, s)
	}
	b = b.str(2, out).str(3, out).str(4, op)
	for _, a := range attrs {
		b = b.bytes(5, a)
	}
	e.nodes = append(e.nodes, b)
	return out
}

// init adds t as an initializer called name.
func (e *exporter) init(name string, t *nabla.Tensor) string {
	var b pb
	for _, d := range t.Shape() {
		b = b.varint(1, int64(d))
	}
	var raw []byte
	if t.DType() == nabla.Int64 {
		b = b.varint(2, typeInt64)
		for _, v := range t.Int64s() {
			raw = binary.LittleEndian.AppendUint64(raw, uint64(v))
		}
	} else if t.DType() == nabla.Float64 {
		b = b.varint(2, typeDouble)
		for _, v := range t.Float64s() {
			raw = binary.LittleEndian.AppendUint64(raw, math.Float64bits(v))
		}
	} else {
		b = b.varint(2, typeFloat)
		for _, v := range t.Float32s() {
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
		}
	}
	e.inits = append(e.inits, b.str(8, name).bytes(9, raw))
	return name
}

// constant adds a float scalar initializer of the model's dtype.
func (e *exporter) constant(v float64) string {
	e.count++
	t := nabla.Full(v)
	if e.elem == typeDouble {
		t = t.To(nabla.Float64)
	}
	return e.init("const_"+strconv.Itoa(e.count), t)
}

// ints adds a 1-d int64 initializer (shapes, axes, indices).
func (e *exporter) ints(v ...int64) string {
	e.count++
	return e.init("ints_"+strconv.Itoa(e.count), nabla.FromSlice(v, len(v)))
}

// module appends the nodes of layer m, named prefix, reading value in of
// example value x, and returns its output's name.
func (e *exporter) module(m nn.Module, prefix, in string, x *nabla.Tensor) (string, error) {
	p := func(name string) string { return prefix + name }
	switch l := m.(type) {
	case *nn.Sequential:
		for i, c := range l.Layers {
			var err error
			if in, err = e.module(c, p(strconv.Itoa(i)+"."), in, x); err != nil {
				return "", err
			}
			nn.NoGrad(c, func() { x = c.Forward(x) })
		}
		return in, nil
	case *nn.Linear:
		w := e.init(p("weight"), l.Weight)
		if x.Dim() == 2 {
			ins := []string{in, w}
			if l.Bias != nil {
				ins = append(ins, e.init(p("bias"), l.Bias))
			}
			return e.node("Gemm", ins, "", intAttr("transB", 1)), nil
		}
		y := e.node("MatMul", []string{in, e.node("Transpose", []string{w}, "")}, "")
		if l.Bias != nil {
			y = e.node("Add", []string{y, e.init(p("bias"), l.Bias)}, "")
		}
		return y, nil
	case *nn.Conv2d:
		o := l.Options
		ws := l.Weight.Shape()
		ins := []string{in, e.init(p("weight"), l.Weight)}
		if l.Bias != nil {
			ins = append(ins, e.init(p("bias"), l.Bias))
		}
		return e.node("Conv", ins, "", intsAttr("kernel_shape", ws[2], ws[3]),
			intsAttr("strides", max(o.Stride[0], 1), max(o.Stride[1], 1)),
			intsAttr("dilations", max(o.Dilation[0], 1), max(o.Dilation[1], 1)),
			intsAttr("pads", o.Padding[0], o.Padding[1], o.Padding[0], o.Padding[1]),
			intAttr("group", max(o.Groups, 1))), nil
	case *nn.MaxPool2d, *nn.AvgPool2d:
		var k [2]int
		var o nabla.PoolOptions
		op := "MaxPool"
		if mp, ok := l.(*nn.MaxPool2d); ok {
			k, o = mp.Kernel, mp.Options
		} else {
			ap := l.(*nn.AvgPool2d)
			k, o, op = ap.Kernel, ap.Options, "AveragePool"
			if o.DivisorOverride != 0 {
				return "", fmt.Errorf("%s: AvgPool2d with a DivisorOverride has no ONNX form", prefix)
			}
		}
		s := o.Stride
		if s == [2]int{} {
			s = k
		}
		attrs := []pb{intsAttr("kernel_shape", k[0], k[1]), intsAttr("strides", s[0], s[1]),
			intsAttr("pads", o.Padding[0], o.Padding[1], o.Padding[0], o.Padding[1])}
		if o.CeilMode {
			attrs = append(attrs, intAttr("ceil_mode", 1))
		}
		if op == "MaxPool" && o.Dilation != [2]int{} {
			attrs = append(attrs, intsAttr("dilations", o.Dilation[0], o.Dilation[1]))
		}
		if op == "AveragePool" && !o.ExcludePad {
			attrs = append(attrs, intAttr("count_include_pad", 1))
		}
		return e.node(op, []string{in}, "", attrs...), nil
	case *nn.AdaptiveAvgPool2d:
		if l.Output != [2]int{1, 1} {
			return "", fmt.Errorf("%s: AdaptiveAvgPool2d to %v: only 1×1 (GlobalAveragePool) is exported", prefix, l.Output)
		}
		return e.node("GlobalAveragePool", []string{in}, ""), nil
	case *nn.Flatten:
		r := x.Dim()
		start, end := l.StartDim, l.EndDim
		if start < 0 {
			start += r
		}
		if end < 0 {
			end += r
		}
		if end != r-1 {
			return "", fmt.Errorf("%s: Flatten(%d, %d): only flattening to the last dimension is exported", prefix, l.StartDim, l.EndDim)
		}
		if r == start+1 {
			return in, nil
		}
		if start != 1 {
			return "", fmt.Errorf("%s: Flatten(%d, %d): only flattening from dimension 1 keeps the batch dimension", prefix, l.StartDim, l.EndDim)
		}
		return e.node("Flatten", []string{in}, "", intAttr("axis", 1)), nil
	case *nn.BatchNorm1d, *nn.BatchNorm2d:
		bn, ok := l.(nn.Buffered)
		var params, bufs []nn.Param
		if ok {
			params, bufs = l.Params(), bn.Buffers()
		}
		if len(params) != 2 || len(bufs) < 2 {
			return "", fmt.Errorf("%s: batch norm without affine weights or running statistics is not exported", prefix)
		}
		eps := 1e-5
		switch b := l.(type) {
		case *nn.BatchNorm1d:
			eps = b.Eps
		case *nn.BatchNorm2d:
			eps = b.Eps
		}
		ins := []string{in}
		for _, t := range append(params, bufs[:2]...) {
			ins = append(ins, e.init(p(t.Name), t.Tensor))
		}
		return e.node("BatchNormalization", ins, "", floatAttr("epsilon", eps)), nil
	case *nn.LayerNorm:
		w, b := l.Weight, l.Bias
		if w == nil { // no affine transform: scale 1
			w = nabla.FullOf(x.DType(), 1, l.Shape...)
		}
		ins := []string{in, e.init(p("weight"), w)}
		if b != nil {
			ins = append(ins, e.init(p("bias"), b))
		}
		return e.node("LayerNormalization", ins, "", intAttr("axis", -len(l.Shape)), floatAttr("epsilon", l.Eps)), nil
	case nn.Softplus:
		if l.Beta != 1 {
			return "", fmt.Errorf("%s: Softplus with beta %v: only beta 1 is exported", prefix, l.Beta)
		}
		return e.node("Softplus", []string{in}, ""), nil
	case nn.ReLU:
		return e.node("Relu", []string{in}, ""), nil
	case nn.LeakyReLU:
		return e.node("LeakyRelu", []string{in}, "", floatAttr("alpha", l.Slope)), nil
	case nn.Sigmoid:
		return e.node("Sigmoid", []string{in}, ""), nil
	case nn.Tanh:
		return e.node("Tanh", []string{in}, ""), nil
	case nn.GELU:
		if l.Tanh {
			return "", fmt.Errorf("%s: the tanh approximation of GELU is not exported", prefix)
		}
		// x·(1 + erf(x/√2))/2, as torch.onnx.export writes it for opset 17.
		erf := e.node("Erf", []string{e.node("Div", []string{in, e.constant(math.Sqrt2)}, "")}, "")
		one := e.node("Add", []string{erf, e.constant(1)}, "")
		return e.node("Mul", []string{e.node("Mul", []string{in, one}, ""), e.constant(0.5)}, ""), nil
	case nn.Softmax:
		return e.node("Softmax", []string{in}, "", intAttr("axis", l.Axis)), nil
	case nn.LogSoftmax:
		return e.node("LogSoftmax", []string{in}, "", intAttr("axis", l.Axis)), nil
	case nn.Identity, *nn.Dropout:
		return in, nil
	case *nn.Embedding:
		if l.MaxNorm != 0 {
			return "", fmt.Errorf("%s: Embedding with MaxNorm renormalises its rows at lookup, which has no ONNX form", prefix)
		}
		return e.node("Gather", []string{e.init(p("weight"), l.Weight), in}, ""), nil
	case *nn.LSTM:
		return e.recurrent(l, "LSTM", []int64{0, 3, 1, 2}, prefix, in, x)
	case *nn.GRU:
		return e.recurrent(l, "GRU", []int64{1, 0, 2}, prefix, in, x)
	case *nn.MultiheadAttention:
		return e.attention(l, prefix, in, x)
	case *nn.TransformerEncoderLayer:
		return e.encoderLayer(l, prefix, in, x)
	case *nn.TransformerEncoder:
		for i, c := range l.Layers {
			var err error
			if in, err = e.encoderLayer(c, p("layers."+strconv.Itoa(i)+"."), in, x); err != nil {
				return "", err
			}
		}
		if l.Norm != nil {
			return e.module(l.Norm, p("norm."), in, x)
		}
		return in, nil
	}
	return "", fmt.Errorf("%slayer %T is not supported by Export", prefix, m)
}

// dimNames names the dynamic dimensions of a model's input of rank r:
// "batch" first, or "seq" and "batch" when the first sequence layer that
// the input reaches through Embedding and layers that keep the leading
// dimensions (Linear, LayerNorm, activations, Dropout) is time-major.
func dimNames(m nn.Module, r int) []string {
	batchFirst := []string{"batch"}
	var walk func(m nn.Module) ([]string, bool)
	walk = func(m nn.Module) ([]string, bool) {
		var bf bool
		switch l := m.(type) {
		case *nn.Sequential:
			for _, c := range l.Layers {
				if names, done := walk(c); done {
					return names, true
				}
			}
			return nil, false
		case *nn.Embedding, *nn.Linear, *nn.LayerNorm, *nn.Dropout, nn.Identity, nn.ReLU, nn.LeakyReLU,
			nn.Sigmoid, nn.Tanh, nn.GELU, nn.Softplus:
			return nil, false
		case *nn.LSTM:
			bf = l.Options().BatchFirst
		case *nn.GRU:
			bf = l.Options().BatchFirst
		case *nn.MultiheadAttention:
			bf = l.BatchFirst
		case *nn.TransformerEncoderLayer:
			bf = l.SelfAttn.BatchFirst
		case *nn.TransformerEncoder:
			if len(l.Layers) == 0 {
				return nil, false
			}
			bf = l.Layers[0].SelfAttn.BatchFirst
		default:
			return batchFirst, true
		}
		if bf {
			return []string{"batch", "seq"}, true
		}
		return []string{"seq", "batch"}, true
	}
	names, _ := walk(m)
	if names == nil {
		names = batchFirst
	}
	return names[:min(len(names), r)]
}

// rnnLayer is what LSTM and GRU tell of themselves.
type rnnLayer interface {
	nn.Module
	HiddenSize() int
	NumLayers() int
	Options() nn.RNNOptions
}

// recurrent appends an ONNX LSTM or GRU node per layer. perm lists
// PyTorch's gates in ONNX's order: the weights are reordered by Gather
// nodes from the initializers, which keep PyTorch's layout and names.
func (e *exporter) recurrent(l rnnLayer, op string, perm []int64, prefix, in string, x *nabla.Tensor) (string, error) {
	if x.Dim() != 3 {
		return "", fmt.Errorf("%s: %s of a %d-d input: only batched (3-d) inputs are exported", prefix, op, x.Dim())
	}
	o := l.Options()
	h := l.HiddenSize()
	ps := map[string]*nabla.Tensor{}
	for _, q := range l.Params() {
		ps[q.Name] = q.Tensor
	}
	rows := make([]int64, 0, len(perm)*h)
	for _, g := range perm {
		for k := range int64(h) {
			rows = append(rows, g*int64(h)+k)
		}
	}
	idx := e.ints(rows...)
	zero := e.ints(0)
	// reorder returns PyTorch's tensor name as ONNX wants it, with a
	// leading direction axis of 1.
	reorder := func(name string) string {
		g := e.node("Gather", []string{e.init(prefix+name, ps[name]), idx}, "")
		return g
	}
	dirs := []string{""}
	direction := "forward"
	if o.Bidirectional {
		dirs, direction = []string{"", "_reverse"}, "bidirectional"
	}
	if o.BatchFirst {
		in = e.node("Transpose", []string{in}, "", intsAttr("perm", 1, 0, 2))
	}
	for layer := range l.NumLayers() {
		var ws, rs, bs []string
		for _, d := range dirs {
			suffix := "_l" + strconv.Itoa(layer) + d
			ws = append(ws, e.node("Unsqueeze", []string{reorder("weight_ih" + suffix), zero}, ""))
			rs = append(rs, e.node("Unsqueeze", []string{reorder("weight_hh" + suffix), zero}, ""))
			if !o.NoBias {
				b := e.node("Concat", []string{reorder("bias_ih" + suffix), reorder("bias_hh" + suffix)}, "", intAttr("axis", 0))
				bs = append(bs, e.node("Unsqueeze", []string{b, zero}, ""))
			}
		}
		cat := func(v []string) string {
			if len(v) == 1 {
				return v[0]
			}
			return e.node("Concat", v, "", intAttr("axis", 0))
		}
		ins := []string{in, cat(ws), cat(rs)}
		if bs != nil {
			ins = append(ins, cat(bs))
		}
		attrs := []pb{intAttr("hidden_size", h), pb{}.str(1, "direction").varint(20, attrString).str(4, direction)}
		if op == "GRU" {
			// PyTorch's GRU applies the reset gate after the recurrent
			// product: r·(W_hn·h + b_hn).
			attrs = append(attrs, intAttr("linear_before_reset", 1))
		}
		y := e.node(op, ins, "", attrs...) // [S, D, B, H]
		if len(dirs) == 1 {
			in = e.node("Squeeze", []string{y, e.ints(1)}, "")
		} else {
			t := e.node("Transpose", []string{y}, "", intsAttr("perm", 0, 2, 1, 3))
			in = e.node("Reshape", []string{t, e.ints(0, 0, -1)}, "")
		}
	}
	if o.BatchFirst {
		in = e.node("Transpose", []string{in}, "", intsAttr("perm", 1, 0, 2))
	}
	return in, nil
}

// attention appends the self-attention of m as MatMul, Softmax, Reshape
// and Transpose nodes, in the (N, L, E) layout inside.
func (e *exporter) attention(m *nn.MultiheadAttention, prefix, in string, x *nabla.Tensor) (string, error) {
	p := func(name string) string { return prefix + name }
	if x.Dim() != 3 {
		return "", fmt.Errorf("%s: MultiheadAttention of a %d-d input: only batched (3-d) inputs are exported", prefix, x.Dim())
	}
	if m.BiasK != nil {
		return "", fmt.Errorf("%s: MultiheadAttention with add_bias_kv is not exported", prefix)
	}
	E, H := m.EmbedDim, m.NumHeads
	D := E / H
	if !m.BatchFirst {
		in = e.node("Transpose", []string{in}, "", intsAttr("perm", 1, 0, 2))
	}
	var w string
	if m.InProjWeight != nil {
		w = e.init(p("in_proj_weight"), m.InProjWeight)
	} else {
		w = e.node("Concat", []string{e.init(p("q_proj_weight"), m.QProjWeight), e.init(p("k_proj_weight"), m.KProjWeight),
			e.init(p("v_proj_weight"), m.VProjWeight)}, "", intAttr("axis", 0))
	}
	qkv := e.node("MatMul", []string{in, e.node("Transpose", []string{w}, "")}, "") // (N, L, 3E)
	if m.InProjBias != nil {
		qkv = e.node("Add", []string{qkv, e.init(p("in_proj_bias"), m.InProjBias)}, "")
	}
	qkv = e.node("Reshape", []string{qkv, e.ints(0, 0, 3, int64(H), int64(D))}, "")
	qkv = e.node("Transpose", []string{qkv}, "", intsAttr("perm", 2, 0, 3, 1, 4)) // (3, N, H, L, D)
	part := func(k int64) string {
		e.count++
		i := e.init("index_"+strconv.Itoa(e.count), nabla.FromSlice([]int64{k}).Reshape())
		return e.node("Gather", []string{qkv, i}, "", intAttr("axis", 0))
	}
	q, k, v := part(0), part(1), part(2)
	kt := e.node("Transpose", []string{k}, "", intsAttr("perm", 0, 1, 3, 2))
	s := e.node("Mul", []string{e.node("MatMul", []string{q, kt}, ""), e.constant(1 / math.Sqrt(float64(D)))}, "")
	a := e.node("Softmax", []string{s}, "", intAttr("axis", -1))
	ctx := e.node("Transpose", []string{e.node("MatMul", []string{a, v}, "")}, "", intsAttr("perm", 0, 2, 1, 3))
	ctx = e.node("Reshape", []string{ctx, e.ints(0, 0, int64(E))}, "")
	if !m.BatchFirst {
		ctx = e.node("Transpose", []string{ctx}, "", intsAttr("perm", 1, 0, 2))
	}
	return e.module(m.OutProj, p("out_proj."), ctx, x)
}

// encoderLayer appends a Transformer encoder layer: self-attention and
// the feed-forward block, each with its residual connection and layer
// norm, after (or before, with NormFirst) as in PyTorch.
func (e *exporter) encoderLayer(l *nn.TransformerEncoderLayer, prefix, in string, x *nabla.Tensor) (string, error) {
	p := func(name string) string { return prefix + name }
	var err error
	sub := func(m nn.Module, name, in string) string {
		if err != nil {
			return ""
		}
		var out string
		out, err = e.module(m, p(name), in, x)
		return out
	}
	sa := func(in string) string { return sub(l.SelfAttn, "self_attn.", in) }
	ff := func(in string) string {
		h := sub(l.Linear1, "linear1.", in)
		if l.Activation == "gelu" {
			h = sub(nn.GELU{}, "", h)
		} else {
			h = sub(nn.ReLU{}, "", h)
		}
		return sub(l.Linear2, "linear2.", h)
	}
	add := func(a, b string) string {
		if err != nil {
			return ""
		}
		return e.node("Add", []string{a, b}, "")
	}
	var y string
	if l.NormFirst {
		y = add(in, sa(sub(l.Norm1, "norm1.", in)))
		y = add(y, ff(sub(l.Norm2, "norm2.", y)))
	} else {
		y = sub(l.Norm1, "norm1.", add(in, sa(in)))
		y = sub(l.Norm2, "norm2.", add(y, ff(y)))
	}
	return y, err
}
