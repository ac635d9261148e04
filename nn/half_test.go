package nn_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/internal/half"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/safetensors"
)

// The checkpoints in testdata/half_*.safetensors are PyTorch 1.13 models
// converted with model.to(torch.bfloat16) and model.to(torch.float16), and
// their float32 originals, written byte by byte in the safetensors layout
// by bench/reference/make_half_reference.py; half_reference.json holds the
// inputs and PyTorch's logits.

type halfCase struct {
	Input      refTensor `json:"input"`
	LogitsF32  refTensor `json:"logits_f32"`
	LogitsBF16 refTensor `json:"logits_bf16"`
	LogitsF16  refTensor `json:"logits_f16"`
	PredF32    []int     `json:"pred_f32"`
	PredBF16   []int     `json:"pred_bf16"`
	PredF16    []int     `json:"pred_f16"`
}

func readHalfReference(t *testing.T) map[string]halfCase {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "half_reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref map[string]halfCase
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	return ref
}

// halfModels builds nabla models with the reference models' architectures
// (and unrelated random weights, which Load replaces).
var halfModels = map[string]func(rng *rand.Rand) nn.Module{
	"mlp": func(rng *rand.Rand) nn.Module {
		return nn.NewSequential(nn.NewLinear(rng, 6, 16), nn.ReLU{}, nn.NewLinear(rng, 16, 4))
	},
	"cnn": func(rng *rand.Rand) nn.Module {
		return nn.NewSequential(
			nn.NewConv2d(rng, 2, 4, [2]int{3, 3}, nabla.ConvOptions{Padding: [2]int{1, 1}}),
			nn.NewBatchNorm2d(4), nn.ReLU{}, nn.NewMaxPool2d([2]int{2, 2}, [2]int{}, [2]int{}),
			nn.NewFlatten(), nn.NewLinear(rng, 36, 3))
	},
}

func argmaxRows(t *nabla.Tensor) []int {
	v := t.Float64s()
	n := t.Shape()[1]
	out := make([]int, t.Shape()[0])
	for i := range out {
		row := v[i*n : (i+1)*n]
		for j := range row {
			if row[j] > row[out[i]] {
				out[i] = j
			}
		}
	}
	return out
}

// TestLoadHalfCheckpoints loads the bfloat16 and float16 checkpoints into
// float32 models and checks their predictions against PyTorch's: exactly
// (to float32 rounding) against the half model computed in float32, and
// within the format's rounding against the float32 model.
func TestLoadHalfCheckpoints(t *testing.T) {
	ref := readHalfReference(t)
	tests := []struct {
		model, tag string
		dtype      safetensors.DType
		// how far the rounded weights may move the logits from the
		// float32 model's (PyTorch's differences are 0.026 and 0.0012)
		tol float64
	}{
		{"mlp", "bf16", safetensors.BF16, 0.05},
		{"mlp", "f16", safetensors.F16, 0.005},
		{"mlp", "f32", safetensors.F32, 1e-5},
		{"cnn", "bf16", safetensors.BF16, 0.05},
		{"cnn", "f16", safetensors.F16, 0.005},
		{"cnn", "f32", safetensors.F32, 1e-5},
	}
	for _, tc := range tests {
		t.Run(tc.model+"/"+tc.tag, func(t *testing.T) {
			c := ref[tc.model]
			path := filepath.Join("testdata", "half_"+tc.model+"_"+tc.tag+".safetensors")
			m := halfModels[tc.model](rand.New(rand.NewPCG(7, 7)))
			if tc.dtype != safetensors.F32 {
				// Without ConvertDType the dtype mismatch is an error
				// that names both dtypes and the option.
				_, err := nn.Load(path, m)
				want := `dtype ` + string(tc.dtype) + ` in file, F32 in model (nn.ConvertDType() converts)`
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("Load without ConvertDType: %v; want an error containing %q", err, want)
				}
			}
			meta, err := nn.Load(path, m, nn.ConvertDType())
			if err != nil {
				t.Fatal(err)
			}
			if meta["format"] != "pt" {
				t.Errorf("metadata = %v", meta)
			}
			nn.SetTraining(m, false)
			got := m.Forward(c.Input.tensor(nabla.Float32))
			rounded, pred := c.LogitsF32, c.PredF32
			switch tc.tag {
			case "bf16":
				rounded, pred = c.LogitsBF16, c.PredBF16
			case "f16":
				rounded, pred = c.LogitsF16, c.PredF16
			}
			if !slices.Equal(got.Shape(), rounded.Shape) {
				t.Fatalf("logits shape %v, want %v", got.Shape(), rounded.Shape)
			}
			worst := 0.0
			for i, v := range got.Float64s() {
				if d := math.Abs(v - rounded.Data[i]); d > 1e-5*(1+math.Abs(v)) {
					t.Errorf("logit %d = %v, PyTorch's half model in float32 gives %v", i, v, rounded.Data[i])
				}
				worst = max(worst, math.Abs(v-c.LogitsF32.Data[i]))
			}
			if worst > tc.tol {
				t.Errorf("logits differ from the float32 model's by up to %v, more than %v", worst, tc.tol)
			}
			if p := argmaxRows(got); !slices.Equal(p, pred) || !slices.Equal(p, c.PredF32) {
				t.Errorf("predictions %v, PyTorch's %v (float32 model %v)", p, pred, c.PredF32)
			}
		})
	}
}

// TestLoadHalfRounding checks that the weights a half checkpoint loads are
// the float32 weights rounded as PyTorch rounds them, and the BatchNorm
// counter the I64 PyTorch wrote.
func TestLoadHalfRounding(t *testing.T) {
	for _, model := range []string{"mlp", "cnn"} {
		full := halfModels[model](rand.New(rand.NewPCG(1, 2)))
		if _, err := nn.Load(filepath.Join("testdata", "half_"+model+"_f32.safetensors"), full); err != nil {
			t.Fatal(err)
		}
		for _, tag := range []string{"bf16", "f16"} {
			m := halfModels[model](rand.New(rand.NewPCG(3, 4)))
			if _, err := nn.Load(filepath.Join("testdata", "half_"+model+"_"+tag+".safetensors"), m, nn.ConvertDType()); err != nil {
				t.Fatal(err)
			}
			want := nn.StateDict(full)
			for i, p := range nn.StateDict(m) {
				w := want[i].Tensor.Float32s()
				for j, v := range p.Tensor.Float32s() {
					r := w[j]
					switch {
					case strings.HasSuffix(p.Name, "num_batches_tracked"):
						// an integer, not rounded
					case tag == "bf16":
						r = half.BFloat16FromFloat32(r).Float32()
					default:
						r = half.Float16FromFloat32(r).Float32()
					}
					if v != r {
						t.Errorf("%s %s %s[%d] = %v, want %v rounded to %v", model, tag, p.Name, j, v, w[j], r)
						break
					}
				}
			}
			if model == "cnn" {
				if n := nn.StateDict(m)[len(nn.StateDict(m))-1]; n.Name != "1.num_batches_tracked" || n.Tensor.Item() != 3 {
					t.Errorf("%s: %s = %v, want 1.num_batches_tracked = 3", tag, n.Name, n.Tensor.Item())
				}
			}
		}
	}
}

// TestSaveBatchCountI64 checks that a saved num_batches_tracked is the I64
// scalar PyTorch writes, and that it loads back.
func TestSaveBatchCountI64(t *testing.T) {
	m := halfModels["cnn"](rand.New(rand.NewPCG(5, 6)))
	if _, err := nn.Load(filepath.Join("testdata", "half_cnn_f32.safetensors"), m); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := nn.Save(path, m); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := f.Get("1.num_batches_tracked")
	if v, err := safetensors.Int64s(c); c.DType != safetensors.I64 || len(c.Shape) != 0 || err != nil || !slices.Equal(v, []int64{3}) {
		t.Errorf("num_batches_tracked saved as %s %v %v (%v); want I64 [] [3]", c.DType, c.Shape, v, err)
	}
	// The file PyTorch wrote and the one nabla writes hold the same
	// tensors with the same bytes.
	ref, err := safetensors.ReadFile(filepath.Join("testdata", "half_cnn_f32.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range ref.Tensors {
		got, ok := f.Get(want.Name)
		if !ok || got.DType != want.DType || !slices.Equal(got.Data, want.Data) {
			t.Errorf("%s: nabla wrote %s %d bytes, PyTorch %s %d bytes", want.Name, got.DType, len(got.Data), want.DType, len(want.Data))
		}
	}
	// With the same metadata the whole file is byte for byte the one
	// assembled in PyTorch's layout.
	if err := nn.Save(path, m, nn.WithMetadata(map[string]string{"format": "pt"})); err != nil {
		t.Fatal(err)
	}
	mine, _ := os.ReadFile(path)
	theirs, _ := os.ReadFile(filepath.Join("testdata", "half_cnn_f32.safetensors"))
	if !slices.Equal(mine, theirs) {
		t.Errorf("nabla's file (%d bytes) differs from PyTorch's (%d bytes)", len(mine), len(theirs))
	}
	again := halfModels["cnn"](rand.New(rand.NewPCG(8, 9)))
	if _, err := nn.Load(path, again); err != nil {
		t.Fatal(err)
	}
	sd := nn.StateDict(again)
	if n := sd[len(sd)-1]; n.Tensor.Item() != 3 {
		t.Errorf("reloaded num_batches_tracked = %v, want 3", n.Tensor.Item())
	}
}
