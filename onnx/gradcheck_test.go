package onnx

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/gradcheck"
)

// doubleInfo is a float64 graph input or output of a fixed shape.
func doubleInfo(name string, dims ...int) pb {
	var shape pb
	for _, d := range dims {
		shape = shape.bytes(1, pb{}.varint(1, int64(d)))
	}
	tt := pb{}.varint(1, typeDouble).bytes(2, shape)
	return pb{}.str(1, name).bytes(2, pb{}.bytes(1, tt))
}

// ints64Init is a 1-d int64 initializer.
func ints64Init(name string, v ...int64) pb { return intsTensor(name, []int64{int64(len(v))}, v...) }

func intsTensor(name string, dims []int64, v ...int64) pb {
	var raw []byte
	for _, x := range v {
		raw = binary.LittleEndian.AppendUint64(raw, uint64(x))
	}
	return tensorPB(name, typeInt64, dims, raw)
}

// TestGradcheckOperators checks, first and second order in float64, the
// gradients of the operators that are composed here from nabla's ops
// (ConvTranspose, Pad, asymmetric Conv and MaxPool pads, BatchNormalization,
// LayerNormalization, Gemm, negative-step Slice and Gather) with respect to
// every float input, weights included (given as graph inputs).
func TestGradcheckOperators(t *testing.T) {
	attrs := func(a ...pb) []pb { return a }
	cases := []struct {
		name   string
		op     string
		shapes [][]int // the float inputs
		inits  []pb    // integer inputs, after the float ones
		attrs  []pb
		out    []int
		pos    []int // inputs that must be positive (variances)
	}{
		{"ConvTranspose", "ConvTranspose", [][]int{{1, 4, 3, 3}, {4, 3, 3, 2}, {6}}, nil,
			attrs(intAttr("group", 2), intsAttr("strides", 2, 1), intsAttr("pads", 1, 0, 0, 1),
				intsAttr("output_padding", 1, 0), intsAttr("dilations", 2, 1)), []int{1, 6, 9, 3}, nil},
		{"Conv SAME_UPPER", "Conv", [][]int{{1, 2, 5, 6}, {3, 2, 3, 2}}, nil,
			attrs(pb{}.str(1, "auto_pad").varint(20, attrString).str(4, "SAME_UPPER"), intsAttr("strides", 2, 2)), []int{1, 3, 3, 3}, nil},
		{"MaxPool asymmetric pads", "MaxPool", [][]int{{1, 2, 4, 4}}, nil,
			attrs(intsAttr("kernel_shape", 2, 2), intsAttr("pads", 0, 1, 1, 0)), []int{1, 2, 4, 4}, nil},
		{"Pad reflect", "Pad", [][]int{{1, 2, 4, 5}}, []pb{ints64Init("pads", 0, 0, 1, 2, 0, 0, 2, 1)},
			attrs(pb{}.str(1, "mode").varint(20, attrString).str(4, "reflect")), []int{1, 2, 7, 8}, nil},
		{"Pad edge", "Pad", [][]int{{1, 2, 3, 3}}, []pb{ints64Init("pads", 0, 0, 2, 0, 0, 0, 0, 3)},
			attrs(pb{}.str(1, "mode").varint(20, attrString).str(4, "edge")), []int{1, 2, 5, 6}, nil},
		{"Pad crop", "Pad", [][]int{{2, 5}}, []pb{ints64Init("pads", 0, -2, 1, 1)}, nil, []int{3, 4}, nil},
		{"BatchNormalization", "BatchNormalization", [][]int{{2, 3, 2, 2}, {3}, {3}, {3}, {3}}, nil,
			attrs(floatAttr("epsilon", 1e-3)), []int{2, 3, 2, 2}, []int{4}},
		{"LayerNormalization", "LayerNormalization", [][]int{{3, 2, 4}, {2, 4}, {2, 4}}, nil,
			attrs(intAttr("axis", -2)), []int{3, 2, 4}, nil},
		{"Gemm", "Gemm", [][]int{{3, 2}, {4, 3}, {4}}, nil,
			attrs(intAttr("transA", 1), intAttr("transB", 1), floatAttr("alpha", 0.5), floatAttr("beta", 2)), []int{2, 4}, nil},
		{"Slice negative step", "Slice", [][]int{{3, 6}}, []pb{ints64Init("starts", -1), ints64Init("ends", 0), ints64Init("axes", 1), ints64Init("steps", -2)},
			nil, []int{3, 3}, nil},
		{"Gather", "Gather", [][]int{{3, 4}}, []pb{intsTensor("idx", []int64{2, 2}, 3, -1, 0, 3)}, attrs(intAttr("axis", 1)), []int{3, 2, 2}, nil},
		{"LSTM reverse with peepholes", "LSTM", [][]int{{3, 2, 2}, {1, 12, 2}, {1, 12, 3}, {1, 24}, {1, 2, 3}, {1, 2, 3}, {1, 9}}, nil,
			attrs(intAttr("hidden_size", 3), pb{}.str(1, "direction").varint(20, attrString).str(4, "reverse")), []int{3, 1, 2, 3}, nil},
		{"GRU bidirectional", "GRU", [][]int{{2, 1, 3}, {2, 6, 3}, {2, 6, 2}, {2, 12}, {2, 1, 2}}, nil,
			attrs(intAttr("hidden_size", 2), pb{}.str(1, "direction").varint(20, attrString).str(4, "bidirectional")), []int{2, 2, 1, 2}, nil},
		{"Resize nearest", "Resize", [][]int{{1, 2, 3, 4}}, []pb{ints64Init("sizes", 1, 2, 5, 3)}, nil, []int{1, 2, 5, 3}, nil},
	}
	rng := rand.New(rand.NewPCG(8, 8))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var names []string
			var inputs []pb
			for k, s := range c.shapes {
				name := string(rune('a' + k))
				names = append(names, name)
				inputs = append(inputs, doubleInfo(name, s...))
			}
			var initNames []string
			for _, in := range c.inits {
				tp, err := decodeTensor(in)
				if err != nil {
					t.Fatal(err)
				}
				initNames = append(initNames, tp.name)
			}
			nodeInputs := append(names, initNames...)
			switch c.op { // optional inputs left out
			case "Resize": // no roi, no scales
				nodeInputs = []string{"a", "", "", "sizes"}
			case "LSTM", "GRU": // no sequence_lens
				nodeInputs = slices.Insert(slices.Clone(names), 4, "")
			}
			m, err := LoadBytes(modelPB(8, 17, graphSpec{
				nodes:   []pb{nodePB(c.op, "n", nodeInputs, []string{"y"}, c.attrs...)},
				inits:   c.inits,
				inputs:  inputs,
				outputs: []pb{doubleInfo("y", c.out...)},
			}), "")
			if err != nil {
				t.Fatal(err)
			}
			xs := make([]*nabla.Tensor, len(c.shapes))
			for k, s := range c.shapes {
				xs[k] = nabla.Uniform(rng, -1, 1, s...).To(nabla.Float64)
				for _, p := range c.pos {
					if p == k {
						xs[k] = nabla.Uniform(rng, 0.5, 1.5, s...).To(nabla.Float64)
					}
				}
			}
			f := func(in []*nabla.Tensor) *nabla.Tensor {
				feed := map[string]*nabla.Tensor{}
				for k, x := range in {
					feed[names[k]] = x
				}
				outs, err := m.Run(feed)
				if err != nil {
					t.Fatal(err)
				}
				if !sameInts(outs["y"].Shape(), c.out) {
					t.Fatalf("output shape %v, want %v", outs["y"].Shape(), c.out)
				}
				return outs["y"]
			}
			order := 2
			if raceEnabled {
				order = 1 // ten times slower under the race detector
			}
			if err := gradcheck.Check(f, xs, gradcheck.Options{Order: order}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestGradcheckModel converts the operator-coverage models to float64 and
// checks the gradient of their whole graphs with respect to the input, and
// that they still give PyTorch's outputs.
func TestGradcheckModel(t *testing.T) {
	names := []string{"ops_op13", "ops_op17", "ops2"}
	if raceEnabled {
		names = names[1:2] // ten times slower under the race detector
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			m, err := Load("testdata/" + name + ".onnx")
			if err != nil {
				t.Fatal(err)
			}
			m.To(nabla.Float64)
			if m.Inputs[0].DType != "float64" || m.Params()[0].Tensor.DType() != nabla.Float64 || !m.Params()[0].Tensor.RequiresGrad() {
				t.Fatalf("not converted: %v, %v", m.Inputs[0], m.Params()[0].Tensor.DType())
			}
			ref := readRef(t, "testdata/"+name+".json")
			x := nabla.FromSlice(ref.Inputs["input"].Data, ref.Inputs["input"].Shape...).To(nabla.Float64)
			if k, ok := closeTo(m.Forward(x).Float32s(), ref.Outputs["output"].Data, 1e-4, 1e-5); !ok {
				t.Fatalf("float64 output[%d] differs from PyTorch's", k)
			}
			x1 := x.Slice(0, 0, 1, 1).Contiguous().Detach()
			f := func(in []*nabla.Tensor) *nabla.Tensor { return m.Forward(in[0]) }
			if err := gradcheck.Check(f, []*nabla.Tensor{x1}, gradcheck.Options{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
