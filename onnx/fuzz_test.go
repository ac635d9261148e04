package onnx

import (
	"os"
	"testing"

	"github.com/nabla-go/nabla"
)

// FuzzLoad feeds arbitrary bytes to the decoder and the graph builder
// (which runs the constant nodes): they must return a model or an error,
// never panic, and never allocate beyond what the input holds. The seeds
// are the committed models; crashers found are kept in
// testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"ops_op13", "ops_op17", "ops2", "recurrent", "encoder"} {
		b, err := os.ReadFile("testdata/" + name + ".onnx")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := LoadBytes(b, "")
		if err == nil && m == nil {
			t.Fatal("no model and no error")
		}
	})
}

// FuzzRun loads arbitrary bytes and, when they make a model whose inputs
// are small float tensors, runs it on zeros: Run must return outputs or an
// error, never panic. The element bound is lowered to 2^22 so that a
// mutated size cannot make the fuzzer allocate gigabytes.
func FuzzRun(f *testing.F) {
	for _, name := range []string{"ops_op13", "ops_op17", "ops2", "recurrent", "encoder"} {
		b, err := os.ReadFile("testdata/" + name + ".onnx")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(2))
	}
	f.Fuzz(func(t *testing.T, b []byte, batch uint8) {
		saved := maxElements
		maxElements = 1 << 22
		defer func() { maxElements = saved }()
		m, err := LoadBytes(b, "")
		if err != nil {
			return
		}
		in := map[string]*nabla.Tensor{}
		for _, v := range m.Inputs {
			shape := make([]int, len(v.Shape))
			n := 1
			for k, d := range v.Shape {
				if d < 0 {
					d = int(batch % 4)
				}
				shape[k] = d
				n *= d
				if n > 1<<14 {
					return
				}
			}
			switch v.DType {
			case "float32":
				in[v.Name] = nabla.Zeros(shape...)
			case "float64":
				in[v.Name] = nabla.Zeros(shape...).To(nabla.Float64)
			default:
				return
			}
		}
		outs, err := m.Run(in)
		if err == nil && len(outs) != len(m.Outputs) {
			t.Fatalf("%d outputs, the model has %d", len(outs), len(m.Outputs))
		}
	})
}
