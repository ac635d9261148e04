package onnx

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nabla-go/nabla"
)

// ONNX messages written with export.go's pb, so that the tests can build
// the hostile files they need.

// tensorPB is a TensorProto with raw data.
func tensorPB(name string, dtype int64, dims []int64, raw []byte) pb {
	var b pb
	for _, d := range dims {
		b = b.varint(1, d)
	}
	b = b.varint(2, dtype).str(8, name)
	if raw != nil {
		b = b.bytes(9, raw)
	}
	return b
}

func floatsRaw(v ...float32) []byte {
	out := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
	}
	return out
}

// externalPB is a float TensorProto whose data is in a file.
func externalPB(name string, dims []int64, kv ...string) pb {
	b := tensorPB(name, typeFloat, dims, nil)
	for i := 0; i < len(kv); i += 2 {
		b = b.bytes(13, pb{}.str(1, kv[i]).str(2, kv[i+1]))
	}
	return b.varint(14, 1)
}

func nodePB(op, name string, ins, outs []string, attrs ...pb) pb {
	var b pb
	for _, in := range ins {
		b = b.str(1, in)
	}
	for _, out := range outs {
		b = b.str(2, out)
	}
	b = b.str(3, name).str(4, op)
	for _, a := range attrs {
		b = b.bytes(5, a)
	}
	return b
}

// valueInfoPB is a float tensor of the given dims (-1: the symbolic "N",
// -2: "M").
func valueInfoPB(name string, dims ...int64) pb {
	var shape pb
	for _, d := range dims {
		if d < 0 {
			shape = shape.bytes(1, pb{}.str(2, map[int64]string{-1: "N", -2: "M"}[d]))
		} else {
			shape = shape.bytes(1, pb{}.varint(1, d))
		}
	}
	tt := pb{}.varint(1, typeFloat).bytes(2, shape)
	return pb{}.str(1, name).bytes(2, pb{}.bytes(1, tt))
}

type graphSpec struct {
	nodes, inits, inputs, outputs []pb
}

func modelPB(ir, opset int64, g graphSpec) []byte {
	var gb pb
	for _, n := range g.nodes {
		gb = gb.bytes(1, n)
	}
	gb = gb.str(2, "test")
	for _, t := range g.inits {
		gb = gb.bytes(5, t)
	}
	for _, v := range g.inputs {
		gb = gb.bytes(11, v)
	}
	for _, v := range g.outputs {
		gb = gb.bytes(12, v)
	}
	return pb{}.varint(1, ir).str(2, "test").bytes(7, gb).bytes(8, pb{}.str(1, "").varint(2, opset))
}

// relu is x (N, 2) -> Relu(x + b) with b an initializer.
func relu(b pb) graphSpec {
	return graphSpec{
		nodes:   []pb{nodePB("Add", "add", []string{"x", "b"}, []string{"s"}), nodePB("Relu", "relu", []string{"s"}, []string{"y"})},
		inits:   []pb{b},
		inputs:  []pb{valueInfoPB("x", -1, 2)},
		outputs: []pb{valueInfoPB("y", -1, 2)},
	}
}

func goodBias() pb { return tensorPB("b", typeFloat, []int64{2}, floatsRaw(1, -1)) }

func TestBuilderModelRuns(t *testing.T) {
	m, err := LoadBytes(modelPB(8, 17, relu(goodBias())), "")
	if err != nil {
		t.Fatal(err)
	}
	outs, err := m.Run(map[string]*nabla.Tensor{"x": nabla.FromSlice([]float32{1, 2, -3, 0.5}, 2, 2)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := outs["y"].Float32s(), []float32{2, 1, 0, 0}; !sameFloats(got, want) {
		t.Fatalf("y = %v, want %v", got, want)
	}
}

func sameFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestHostileFiles: each malformed or hostile model is an error that says
// what is wrong, never a panic or a large allocation.
func TestHostileFiles(t *testing.T) {
	lenet, err := os.ReadFile("testdata/lenet.onnx")
	if err != nil {
		t.Fatal(err)
	}
	cycle := relu(goodBias())
	cycle.nodes = []pb{
		nodePB("Add", "a", []string{"x", "r"}, []string{"s"}),
		nodePB("Relu", "r", []string{"s"}, []string{"r"}),
		nodePB("Relu", "out", []string{"s"}, []string{"y"}),
	}
	unknown := relu(goodBias())
	unknown.nodes[1] = nodePB("Relu", "relu", []string{"nowhere"}, []string{"y"})
	unsupported := relu(goodBias())
	unsupported.nodes = []pb{
		nodePB("FancyOp", "f1", []string{"x"}, []string{"s"}),
		nodePB("OtherOp", "f2", []string{"s"}, []string{"y"}),
	}
	dupOut := relu(goodBias())
	dupOut.nodes[1] = nodePB("Relu", "relu", []string{"s"}, []string{"s"})
	noOutput := relu(goodBias())
	noOutput.outputs = []pb{valueInfoPB("missing", -1, 2)}
	hugeShape := relu(pb{}.str(1, "x"))
	hugeShape.nodes = []pb{
		nodePB("Constant", "c", nil, []string{"shape"}, pb{}.str(1, "value").varint(20, attrTensor).bytes(5,
			tensorPB("", typeInt64, []int64{1}, binary.LittleEndian.AppendUint64(nil, 1<<40)))),
		nodePB("ConstantOfShape", "big", []string{"shape"}, []string{"z"}),
		nodePB("Add", "add", []string{"x", "z"}, []string{"y"}),
	}
	hugeShape.inits = nil

	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "IR version 0"},
		{"garbage", []byte{0xff, 0xff, 0xff}, "malformed"},
		{"truncated", lenet[:len(lenet)/2], "malformed"},
		{"tensor claims 2^40 elements", modelPB(8, 17, relu(tensorPB("b", typeFloat, []int64{1 << 20, 1 << 20}, floatsRaw(1)))), "more than"},
		{"dims lie about the data", modelPB(8, 17, relu(tensorPB("b", typeFloat, []int64{1 << 20}, floatsRaw(1, 2)))), "raw data has 8 bytes"},
		{"negative dimension", modelPB(8, 17, relu(tensorPB("b", typeFloat, []int64{-2}, floatsRaw(1, 2)))), "negative dimension"},
		{"no data", modelPB(8, 17, relu(tensorPB("b", typeFloat, []int64{2}, nil))), "holds 0"},
		{"cycle", modelPB(8, 17, cycle), "cycle"},
		{"unknown input", modelPB(8, 17, unknown), `input "nowhere" is not defined`},
		{"output defined twice", modelPB(8, 17, dupOut), `output "s" is already defined`},
		{"graph output not defined", modelPB(8, 17, noOutput), `graph output "missing"`},
		{"unsupported operators", modelPB(8, 17, unsupported), `2 unsupported operator(s): FancyOp (FancyOp node "f1", opset 17); OtherOp (OtherOp node "f2", opset 17)`},
		{"opset too new", modelPB(8, 18, relu(goodBias())), "opset 18 is not supported"},
		{"opset too old", modelPB(8, 9, relu(goodBias())), "opset 9 is not supported"},
		{"IR too new", modelPB(42, 17, relu(goodBias())), "IR version 42"},
		{"external data without a folder", modelPB(8, 17, relu(externalPB("b", []int64{2}, "location", "b.bin"))), "not loaded from a file"},
		{"ConstantOfShape of 2^40", modelPB(8, 17, hugeShape), "bad dimension 1099511627776"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := LoadBytes(c.file, "")
			if err == nil && c.name == "ConstantOfShape of 2^40" {
				// Too big to fold: the error comes from Run.
				_, err = m.Run(map[string]*nabla.Tensor{"x": nabla.Zeros(1, 2)})
			}
			if err == nil {
				t.Fatalf("no error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
}

// TestTruncatedFiles: every prefix of a model (at a few hundred cut
// points) is an error, not a panic.
func TestTruncatedFiles(t *testing.T) {
	b, err := os.ReadFile("testdata/ops_op13.onnx")
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(b); n += 1 + len(b)/300 {
		if _, err := LoadBytes(b[:n], ""); err == nil {
			t.Fatalf("a prefix of %d of %d bytes loaded without an error", n, len(b))
		}
	}
}

func TestExternalData(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "models")
	if err := os.Mkdir(model, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(path string, b []byte) {
		t.Helper()
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data := append(floatsRaw(9, 9), floatsRaw(1, -1)...) // the bias is at offset 8
	write(filepath.Join(model, "weights.bin"), data)
	write(filepath.Join(dir, "secret.bin"), data)
	if err := os.Symlink(filepath.Join(dir, "secret.bin"), filepath.Join(model, "link.bin")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		kv   []string
		want string // "" for success
	}{
		{"inside the folder", []string{"location", "weights.bin", "offset", "8", "length", "8"}, ""},
		{"parent folder", []string{"location", "../secret.bin"}, "inside the model's folder"},
		{"absolute path", []string{"location", filepath.Join(dir, "secret.bin")}, "inside the model's folder"},
		{"symlink out of the folder", []string{"location", "link.bin"}, "inside the model's folder"},
		{"missing file", []string{"location", "nope.bin"}, "inside the model's folder"},
		{"offset past the end", []string{"location", "weights.bin", "offset", "100"}, "outside the file"},
		{"length past the end", []string{"location", "weights.bin", "offset", "12"}, "run past the end"},
		{"length does not match", []string{"location", "weights.bin", "length", "4"}, "does not match"},
		{"bad offset", []string{"location", "weights.bin", "offset", "x"}, "bad offset"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(model, "m.onnx")
			write(path, modelPB(8, 17, relu(externalPB("b", []int64{2}, c.kv...))))
			m, err := Load(path)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				outs, err := m.Run(map[string]*nabla.Tensor{"x": nabla.FromSlice([]float32{1, 2}, 1, 2)})
				if err != nil {
					t.Fatal(err)
				}
				if got := outs["y"].Float32s(); !sameFloats(got, []float32{2, 1}) {
					t.Fatalf("y = %v, want [2 1]", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v does not say %q", err, c.want)
			}
		})
	}
}

// TestRunErrors: Run reports bad inputs and failing nodes as errors.
func TestRunErrors(t *testing.T) {
	m, err := Load("testdata/lenet.onnx")
	if err != nil {
		t.Fatal(err)
	}
	mm, err := LoadBytes(modelPB(8, 17, graphSpec{
		nodes:   []pb{nodePB("MatMul", "mm", []string{"x", "w"}, []string{"y"})},
		inits:   []pb{tensorPB("w", typeFloat, []int64{3, 1}, floatsRaw(1, 2, 3))},
		inputs:  []pb{valueInfoPB("x", -1, -2)},
		outputs: []pb{valueInfoPB("y", -1, 1)},
	}), "")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		m    *Model
		in   map[string]*nabla.Tensor
		want string
	}{
		{"missing input", m, map[string]*nabla.Tensor{}, `input "input" (input float32 [batch 1 28 28]) is missing`},
		{"unknown input", m, map[string]*nabla.Tensor{"input": nabla.Zeros(1, 1, 28, 28), "extra": nabla.Zeros(1)}, `no input "extra"`},
		{"wrong rank", m, map[string]*nabla.Tensor{"input": nabla.Zeros(1, 28, 28)}, "has shape [1 28 28]"},
		{"wrong size", m, map[string]*nabla.Tensor{"input": nabla.Zeros(1, 1, 28, 29)}, "(dimension 3)"},
		{"wrong dtype", m, map[string]*nabla.Tensor{"input": nabla.Zeros(1, 1, 28, 28).To(nabla.Float64)}, "is float64, the model wants float32"},
		{"node fails", mm, map[string]*nabla.Tensor{"x": nabla.Zeros(2, 4)}, `MatMul node "mm": nabla: MatMul`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.m.Run(c.in)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v does not say %q", err, c.want)
			}
		})
	}
}

// TestIntegerOutputs checks that integer and bool outputs come back as
// nabla tensors of the matching dtype, not as floats.
func TestIntegerOutputs(t *testing.T) {
	to := func(dt int64) pb { return pb{}.str(1, "to").varint(3, dt).varint(20, 2) } // AttributeProto: INT
	g := graphSpec{
		nodes: []pb{
			nodePB("Shape", "shape", []string{"x"}, []string{"s"}),
			nodePB("Greater", "gt", []string{"x", "b"}, []string{"m"}),
			nodePB("Cast", "i32", []string{"x"}, []string{"c32"}, to(6)),
			nodePB("Cast", "u8", []string{"m"}, []string{"c8"}, to(2)),
		},
		inits:   []pb{goodBias()},
		inputs:  []pb{valueInfoPB("x", -1, 2)},
		outputs: []pb{valueInfoPB("s"), valueInfoPB("m"), valueInfoPB("c32"), valueInfoPB("c8")},
	}
	m, err := LoadBytes(modelPB(8, 17, g), "")
	if err != nil {
		t.Fatal(err)
	}
	outs, err := m.Run(map[string]*nabla.Tensor{"x": nabla.FromSlice([]float32{1.5, 2, -3.7, -2}, 2, 2)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		dt   nabla.DType
		want []int64
	}{
		{"s", nabla.Int64, []int64{2, 2}},
		{"m", nabla.Bool, []int64{1, 1, 0, 0}}, // x > (1, -1)
		{"c32", nabla.Int32, []int64{1, 2, -3, -2}},
		{"c8", nabla.Uint8, []int64{1, 1, 0, 0}},
	} {
		got := outs[tc.name]
		if got.DType() != tc.dt {
			t.Errorf("%s: dtype %v, want %v", tc.name, got.DType(), tc.dt)
			continue
		}
		if v := got.Int64s(); !slices.Equal(v, tc.want) {
			t.Errorf("%s = %v, want %v", tc.name, v, tc.want)
		}
	}
}
