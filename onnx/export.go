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
// graph input "input" shaped like example with a dynamic first (batch)
// dimension, and a graph output "output".
//
// The graph is built layer by layer from the model's structure: an
// nn.Sequential (nested ones too) of Linear, Conv2d, MaxPool2d,
// AvgPool2d, AdaptiveAvgPool2d to 1×1, Flatten to the end, BatchNorm1d
// and BatchNorm2d (written in inference form, with the running
// statistics), LayerNorm, ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Softplus,
// Softmax, LogSoftmax, Dropout and Identity. Any other module is an error naming it: a model
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
	if example.DType() == nabla.Float64 {
		e.elem = typeDouble
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
	g = g.bytes(11, valueInfoOut("input", e.elem, example.Shape()))
	g = g.bytes(12, valueInfoOut("output", e.elem, y.Shape()))
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

// valueInfoOut describes a tensor whose first dimension is "batch".
func valueInfoOut(name string, elem int32, shape []int) pb {
	var s pb
	for i, d := range shape {
		if i == 0 {
			s = s.bytes(1, pb{}.str(2, "batch"))
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
	if t.DType() == nabla.Float64 {
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
	}
	return "", fmt.Errorf("%slayer %T is not supported by Export", prefix, m)
}
