package onnx

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/nabla-go/nabla"
)

// refTensor is a tensor as make_onnx_reference.py writes it.
type refTensor struct {
	Shape []int     `json:"shape"`
	Data  []float32 `json:"data"`
}

type refCase struct {
	Inputs  map[string]refTensor `json:"inputs"`
	Outputs map[string]refTensor `json:"outputs"`
}

func readRef(t *testing.T, path string) refCase {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c refCase
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// closeTo reports the first element where got and want differ by more
// than rtol·|want| + atol, as torch.allclose.
func closeTo(got []float32, want []float32, rtol, atol float64) (int, bool) {
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) || math.Abs(g-w) > rtol*math.Abs(w)+atol {
			return i, false
		}
	}
	return 0, true
}

// checkReference runs the model dir/name.onnx on the inputs of
// dir/name.json and compares with PyTorch's outputs.
func checkReference(t *testing.T, dir, name string) {
	m, err := Load(filepath.Join(dir, name+".onnx"))
	if err != nil {
		t.Fatal(err)
	}
	ref := readRef(t, filepath.Join(dir, name+".json"))
	in := map[string]*nabla.Tensor{}
	for k, v := range ref.Inputs {
		in[k] = nabla.FromSlice(v.Data, v.Shape...)
	}
	// Twice: the second run takes the shape arithmetic from the cache.
	for run := range 2 {
		if run == 1 {
			checkFirstSample(t, m, ref)
		}
		outs, err := m.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		for k, want := range ref.Outputs {
			got := outs[k]
			if got == nil {
				t.Fatalf("no output %q", k)
			}
			if !sameInts(got.Shape(), want.Shape) {
				t.Fatalf("output %q has shape %v, PyTorch's %v", k, got.Shape(), want.Shape)
			}
			g := got.Float32s()
			if i, ok := closeTo(g, want.Data, 1e-4, 1e-5); !ok {
				t.Fatalf("run %d: output %q[%d] = %v, PyTorch %v", run, k, i, g[i], want.Data[i])
			}
		}
	}
}

// checkFirstSample runs the model on the first sample alone, a batch size
// other than the export's, and compares with PyTorch's first row: the
// samples of these eval-mode models are independent.
func checkFirstSample(t *testing.T, m *Model, ref refCase) {
	t.Helper()
	in := map[string]*nabla.Tensor{}
	for k, v := range ref.Inputs {
		in[k] = nabla.FromSlice(v.Data, v.Shape...).Slice(0, 0, 1, 1)
	}
	outs, err := m.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range ref.Outputs {
		got := outs[k]
		row := len(want.Data) / want.Shape[0]
		if got.Shape()[0] != 1 || got.Len() != row {
			t.Fatalf("batch of 1: output %q has shape %v", k, got.Shape())
		}
		if i, ok := closeTo(got.Float32s(), want.Data[:row], 1e-4, 1e-5); !ok {
			t.Fatalf("batch of 1: output %q[%d] = %v, PyTorch %v", k, i, got.Float32s()[i], want.Data[i])
		}
	}
}

func sameInts(a, b []int) bool {
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

func TestReferenceSmall(t *testing.T) {
	for _, name := range []string{"mlp", "lenet", "lenet_op17", "ops_op13", "ops_op17", "ops2", "recurrent", "encoder"} {
		t.Run(name, func(t *testing.T) { checkReference(t, "testdata", name) })
	}
}

// TestReferenceLarge runs torchvision's resnet18 and mobilenet_v2, which
// are too big to commit: make_onnx_reference.py --large writes them into
// the folder that NABLA_ONNX_MODELS names (.ci/run does).
func TestReferenceLarge(t *testing.T) {
	dir := os.Getenv("NABLA_ONNX_MODELS")
	if dir == "" {
		t.Skip("NABLA_ONNX_MODELS is not set: run bench/reference/make_onnx_reference.py --large DIR and set it to DIR")
	}
	for _, name := range []string{"resnet18", "mobilenet_v2"} {
		t.Run(name, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(dir, name+".onnx")); err != nil {
				t.Skipf("%s.onnx is not in %s", name, dir)
			}
			checkReference(t, dir, name)
		})
	}
}

// TestConcurrentRun runs one model from several goroutines (with -race,
// this checks that Run shares nothing mutable but its locked cache).
func TestConcurrentRun(t *testing.T) {
	m, err := Load("testdata/ops_op13.onnx")
	if err != nil {
		t.Fatal(err)
	}
	ref := readRef(t, "testdata/ops_op13.json")
	x := nabla.FromSlice(ref.Inputs["input"].Data, ref.Inputs["input"].Shape...)
	want, err := m.Run(map[string]*nabla.Tensor{"input": x})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			// Other batch sizes too, so that the shape cache is written concurrently.
			in := x
			if g%2 == 1 {
				in = x.Slice(0, 0, 1+g/2, 1)
			}
			outs, err := m.Run(map[string]*nabla.Tensor{"input": in})
			if err == nil && g%2 == 0 && !sameFloats(outs["output"].Float32s(), want["output"].Float32s()) {
				err = errors.New("outputs differ")
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
