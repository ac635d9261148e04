package onnx

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/internal/workload"
	"github.com/nabla-go/nabla/nn"
)

// exportModels are the nn models of the round-trip tests.
func exportModels() []struct {
	name    string
	model   nn.Module
	example *nabla.Tensor
} {
	rng := rand.New(rand.NewPCG(3, 3))
	bn := nn.NewBatchNorm2d(4)
	bn.RunningMean = nabla.Uniform(rng, -0.5, 0.5, 4)
	bn.RunningVar = nabla.Uniform(rng, 0.5, 1.5, 4)
	bn.Weight = nabla.Uniform(rng, 0.5, 1.5, 4).RequireGrad()
	bn.Training = false
	convs := nn.NewSequential(
		nn.NewConv2d(rng, 3, 4, [2]int{3, 3}, nabla.ConvOptions{Padding: [2]int{1, 1}, Stride: [2]int{2, 2}}), bn, nn.NewLeakyReLU(),
		nn.NewConv2d(rng, 4, 4, [2]int{3, 3}, nabla.ConvOptions{Padding: [2]int{2, 2}, Dilation: [2]int{2, 2}, Groups: 2}), nn.Tanh{},
		&nn.AvgPool2d{Kernel: [2]int{3, 3}, Options: nabla.PoolOptions{Stride: [2]int{1, 1}, Padding: [2]int{1, 1}}},
		nn.NewSequential(nn.NewAdaptiveAvgPool2d(1, 1), nn.NewFlatten()),
		nn.NewLinear(rng, 4, 5), nn.GELU{}, nn.NewLinear(rng, 5, 3), nn.Sigmoid{}, nn.LogSoftmax{Axis: 1},
	)
	ln := nn.NewLayerNorm(3, 4)
	ln.Weight = nabla.Uniform(rng, 0.5, 1.5, 3, 4).RequireGrad()
	seq := nn.NewSequential(nn.NewLinear(rng, 4, 4), ln, nn.Softplus{Beta: 1}, nn.NewLinear(rng, 4, 2), nn.Softmax{Axis: -1})
	// The sequence layers, time-major and batch-first, with ids.
	lstm := nn.NewSequential(nn.NewLSTM(rng, 3, 5, nn.RNNOptions{NumLayers: 2, Bidirectional: true}), nn.NewLinear(rng, 10, 2))
	gru := nn.NewSequential(nn.NewGRU(rng, 3, 4, nn.RNNOptions{NumLayers: 2, Bidirectional: true, BatchFirst: true}),
		nn.NewGRU(rng, 8, 3, nn.RNNOptions{NoBias: true, BatchFirst: true}))
	embed := nn.NewSequential(nn.NewEmbeddingPadded(rng, 10, 4, 0), nn.NewLSTM(rng, 4, 6, nn.RNNOptions{BatchFirst: true}), nn.NewLinear(rng, 6, 3))
	mha := nn.NewSequential(nn.NewMultiheadAttention(rng, 8, 2, nn.MHAConfig{BatchFirst: true}), nn.GELU{},
		nn.NewMultiheadAttention(rng, 8, 4, nn.MHAConfig{NoBias: true, BatchFirst: true}))
	mhaT := nn.NewMultiheadAttention(rng, 6, 3, nn.MHAConfig{KDim: 6, VDim: 6})
	mhaT.InProjBias = nabla.Uniform(rng, -0.5, 0.5, 18).RequireGrad() // non-zero biases
	mhaT.OutProj.Bias = nabla.Uniform(rng, -0.5, 0.5, 6).RequireGrad()
	mhaSep := nn.NewMultiheadAttention(rng, 6, 2, nn.MHAConfig{})
	mhaSep.QProjWeight, mhaSep.KProjWeight, mhaSep.VProjWeight = mhaSep.InProjWeight.Split(0, 6, 6, 6)[0].Detach().Clone().RequireGrad(),
		mhaSep.InProjWeight.Split(0, 6, 6, 6)[1].Detach().Clone().RequireGrad(), mhaSep.InProjWeight.Split(0, 6, 6, 6)[2].Detach().Clone().RequireGrad()
	mhaSep.InProjWeight = nil
	var post, pre []*nn.TransformerEncoderLayer
	for range 2 {
		post = append(post, nn.NewTransformerEncoderLayer(rng, 8, 2, nn.TransformerConfig{DimFeedforward: 16}))
		pre = append(pre, nn.NewTransformerEncoderLayer(rng, 8, 4, nn.TransformerConfig{DimFeedforward: 12, Activation: "gelu", NormFirst: true, BatchFirst: true, LayerNormEps: 1e-6}))
	}
	encoder := nn.NewSequential(nn.NewEmbedding(rng, 11, 8), nn.NewTransformerEncoder(post, nn.NewLayerNorm(8)), nn.NewLinear(rng, 8, 3))
	return []struct {
		name    string
		model   nn.Module
		example *nabla.Tensor
	}{
		{"lstm", lstm, nabla.Rand(rng, 7, 2, 3)},
		{"gru", gru, nabla.Rand(rng, 2, 6, 3)},
		{"embedding-lstm", embed, nabla.RandInt(rng, 0, 10, 2, 7)},
		{"attention", mha, nabla.Rand(rng, 2, 5, 8)},
		{"attention-time-major", nn.NewSequential(mhaT, mhaSep), nabla.Rand(rng, 5, 2, 6)},
		{"transformer-encoder", encoder, nabla.RandInt(rng, 0, 11, 6, 2)},
		{"transformer-layers", nn.NewSequential(pre[0], pre[1]), nabla.Rand(rng, 2, 5, 8)},
		{"mlp", workload.MLP(rng), nabla.Rand(rng, 2, 1, 28, 28)},
		{"lenet", workload.LeNet(rng), nabla.Rand(rng, 2, 1, 28, 28)},
		{"layers", convs, nabla.Rand(rng, 2, 3, 9, 9)},
		{"sequence", seq, nabla.Rand(rng, 2, 3, 4)},
	}
}

// TestExportRoundTrip exports nn models, loads them back and compares the
// outputs at another batch size than the example's; with Debian's
// python3-onnx present, onnx.checker checks the files too.
func TestExportRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	dir := t.TempDir()
	for _, c := range exportModels() {
		t.Run(c.name, func(t *testing.T) {
			nn.SetTraining(c.model, false)
			var buf bytes.Buffer
			if err := Export(&buf, c.model, c.example); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, c.name+".onnx")
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			// Other sizes of the dynamic dimensions than the example's.
			shape := c.example.Shape()
			for i := range dimNames(c.model, len(shape)) {
				shape[i] = 5 - i
			}
			x := nabla.Rand(rng, shape...)
			if c.example.DType() == nabla.Int64 {
				x = nabla.RandInt(rng, 0, int64(c.model.Params()[0].Tensor.Size(0)), shape...)
			}
			var want *nabla.Tensor
			nn.NoGrad(c.model, func() { want = c.model.Forward(x) })
			got := m.Forward(x)
			if !sameInts(got.Shape(), want.Shape()) {
				t.Fatalf("shape %v, nabla's %v", got.Shape(), want.Shape())
			}
			if k, ok := closeTo(got.Float32s(), want.Float32s(), 1e-6, 1e-7); !ok {
				t.Fatalf("output[%d] = %v, nabla's %v", k, got.Float32s()[k], want.Float32s()[k])
			}
			// Initializers keep nn's names.
			names := map[string]bool{}
			for _, p := range append(m.Params(), m.Buffers()...) {
				names[p.Name] = true
			}
			for _, p := range c.model.Params() {
				if !names[p.Name] {
					t.Errorf("parameter %q is not in the exported file", p.Name)
				}
			}
			checkWithONNX(t, path)
		})
	}
}

// checkWithONNX runs onnx.checker.check_model on path when Python has onnx
// (Debian's /usr/bin/python3 with python3-onnx, or python3 on PATH).
func checkWithONNX(t *testing.T, path string) {
	py, err := "/usr/bin/python3", error(nil)
	if _, serr := os.Stat(py); serr != nil {
		py, err = exec.LookPath("python3")
	}
	if err != nil {
		t.Log("python3 not found: onnx.checker not run")
		return
	}
	if exec.Command(py, "-c", "import onnx").Run() != nil {
		t.Log("python3 has no onnx module: onnx.checker not run")
		return
	}
	out, err := exec.Command(py, "-c", "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)", path).CombinedOutput()
	if err != nil {
		t.Fatalf("onnx.checker rejects %s: %v\n%s", path, err, out)
	}
}

func TestExportErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	cases := []struct {
		name  string
		model nn.Module
		x     *nabla.Tensor
		want  string
	}{
		{"adaptive pool", nn.NewSequential(nn.NewAdaptiveAvgPool2d(2, 2)), nabla.Rand(rng, 1, 1, 4, 4), "only 1×1"},
		{"unknown layer", nn.NewSequential(nn.NewRNN(rng, 3, 2, nn.RNNOptions{})), nabla.Zeros(2, 1, 3), "*nn.RNN is not supported"},
		{"max norm", nn.NewSequential(&nn.Embedding{Weight: nabla.Zeros(3, 2), MaxNorm: 1}), nabla.ZerosOf(nabla.Int64, 1, 2), "MaxNorm"},
		{"unbatched lstm", nn.NewLSTM(rng, 3, 2, nn.RNNOptions{}), nabla.Zeros(4, 3), "only batched (3-d) inputs"},
		{"bias kv", nn.NewMultiheadAttention(rng, 4, 2, nn.MHAConfig{AddBiasKV: true}), nabla.Zeros(3, 1, 4), "add_bias_kv"},
		{"bad example", nn.NewSequential(nn.NewLinear(rng, 3, 2)), nabla.Zeros(1, 4), "forward pass on the example failed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Export(&bytes.Buffer{}, c.model, c.x)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v does not say %q", err, c.want)
			}
		})
	}
}

// torchCheck builds the PyTorch 1.13 modules of some round-trip models,
// loads their state dicts from the exported file's initializers (strict:
// the names must be PyTorch's) and prints their output for the input in
// the JSON file argv[3].
const torchCheck = `
import json, sys
import onnx, torch
from onnx import numpy_helper
case, path, xpath = sys.argv[1:4]
sd = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in onnx.load(path).graph.initializer}
def load(m, prefix):
    m.load_state_dict({k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}, strict=True)
    return m.eval()
inp = json.load(open(xpath))
x = torch.tensor(inp["x"], dtype=torch.float32).reshape(inp["shape"])
with torch.no_grad():
    if case == "lstm":
        l, lin = load(torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True), "0."), load(torch.nn.Linear(10, 2), "1.")
        y = lin(l(x)[0])
    elif case == "gru":
        g0 = load(torch.nn.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True), "0.")
        g1 = load(torch.nn.GRU(8, 3, bias=False, batch_first=True), "1.")
        y = g1(g0(x)[0])[0]
    elif case == "transformer-layers":
        ls = [load(torch.nn.TransformerEncoderLayer(8, 4, dim_feedforward=12, dropout=0.0, activation="gelu",
              layer_norm_eps=1e-6, batch_first=True, norm_first=True), "%d." % i) for i in range(2)]
        y = ls[1](ls[0](x))
print(json.dumps(y.flatten().tolist()))
`

// TestExportMatchesTorch runs exported sequence models, loaded back, and
// compares them with the PyTorch modules of the file's weights, when /usr/bin/python3 has
// torch and onnx (the Go round trip needs neither).
func TestExportMatchesTorch(t *testing.T) {
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import torch, onnx").Run() != nil {
		t.Skip("no /usr/bin/python3 with torch and onnx: the PyTorch comparison is not run")
	}
	dir := t.TempDir()
	for _, c := range exportModels() {
		if c.name != "lstm" && c.name != "gru" && c.name != "transformer-layers" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			nn.SetTraining(c.model, false)
			var buf bytes.Buffer
			if err := Export(&buf, c.model, c.example); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, c.name+".onnx")
			in, _ := json.Marshal(map[string]any{"x": c.example.Float32s(), "shape": c.example.Shape()})
			xpath := filepath.Join(dir, c.name+".json")
			if err := errors.Join(os.WriteFile(path, buf.Bytes(), 0o644), os.WriteFile(xpath, in, 0o644)); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(py, "-c", torchCheck, c.name, path, xpath).Output()
			if err != nil {
				t.Fatalf("python: %v", err)
			}
			var want []float32
			if err := json.Unmarshal(out, &want); err != nil {
				t.Fatalf("python printed %q: %v", out, err)
			}
			// The file run here against PyTorch with the file's weights.
			m, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			var got *nabla.Tensor
			nn.NoGrad(m, func() { got = m.Forward(c.example) })
			if got.Len() != len(want) {
				t.Fatalf("%d outputs, PyTorch's %d", got.Len(), len(want))
			}
			if k, ok := closeTo(got.Float32s(), want, 1e-5, 1e-6); !ok {
				t.Fatalf("output[%d] = %v, PyTorch's %v", k, got.Float32s()[k], want[k])
			}
		})
	}
}
