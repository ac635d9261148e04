package nn_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
)

// The files in testdata/ come from bench/reference/make_nn_reference.py,
// which runs each layer and loss in PyTorch (float64) with fixed weights,
// inputs and upstream gradients. These tests set the same weights in nabla
// and compare outputs, gradients and updated buffers: in float64 to within
// 1e-5 relative, and in float32 (the default dtype) to within 1e-4.

type refTensor struct {
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

func (r refTensor) tensor(dt nabla.DType) *nabla.Tensor {
	return nabla.FromSlice(r.Data, r.Shape...).To(dt).Contiguous()
}

type refConfig struct {
	In, Out        int
	Bias           *bool
	Inc, Outc      int
	Kernel, Stride []int
	Padding        []int
	Dilation       []int
	Groups         int
	Output         []int
	Channels       int
	Shape          []int
	Affine         bool
	P              float64
	Num, Dim       int
	Start, End     int
	Slope          float64
	Tanh           bool
	Beta           float64
	Axis           int
	Reduction      string
	LabelSmoothing float64 `json:"label_smoothing"`
	Delta          float64
}

type refCase struct {
	Name          string               `json:"name"`
	Kind          string               `json:"kind"`
	Config        refConfig            `json:"config"`
	Training      bool                 `json:"training"`
	Input         refTensor            `json:"input"`
	Target        refTensor            `json:"target"`
	Upstream      refTensor            `json:"upstream"`
	Output        refTensor            `json:"output"`
	Params        map[string]refTensor `json:"params"`
	BuffersBefore map[string]refTensor `json:"buffers_before"`
	BuffersAfter  map[string]refTensor `json:"buffers_after"`
	Grads         map[string]refTensor `json:"grads"`
	Weight        *refTensor           `json:"weight"`
	PosWeight     *refTensor           `json:"pos_weight"`
	ForwardOnly   bool                 `json:"forward_only"`
}

func loadCases(t *testing.T, file string) []refCase {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Torch string    `json:"torch"`
		Cases []refCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if len(doc.Cases) == 0 {
		t.Fatalf("%s holds no cases", file)
	}
	return doc.Cases
}

func pair(v []int) [2]int {
	if len(v) != 2 {
		return [2]int{}
	}
	return [2]int{v[0], v[1]}
}

// buildLayer makes the layer a reference case describes, with throwaway
// initial weights that the case's own replace.
func buildLayer(c refCase) nn.Module {
	rng := rand.New(rand.NewPCG(1, 2))
	cfg := c.Config
	switch c.Kind {
	case "Linear":
		l := nn.NewLinear(rng, cfg.In, cfg.Out)
		if !*cfg.Bias {
			l.Bias = nil
		}
		return l
	case "Conv2d":
		l := nn.NewConv2d(rng, cfg.Inc, cfg.Outc, pair(cfg.Kernel), nabla.ConvOptions{
			Stride: pair(cfg.Stride), Padding: pair(cfg.Padding), Dilation: pair(cfg.Dilation), Groups: cfg.Groups})
		if !*cfg.Bias {
			l.Bias = nil
		}
		return l
	case "MaxPool2d":
		return nn.NewMaxPool2d(pair(cfg.Kernel), pair(cfg.Stride), pair(cfg.Padding))
	case "AvgPool2d":
		return nn.NewAvgPool2d(pair(cfg.Kernel), pair(cfg.Stride), pair(cfg.Padding))
	case "AdaptiveAvgPool2d":
		return nn.NewAdaptiveAvgPool2d(cfg.Output[0], cfg.Output[1])
	case "BatchNorm1d":
		return nn.NewBatchNorm1d(cfg.Channels)
	case "BatchNorm2d":
		return nn.NewBatchNorm2d(cfg.Channels)
	case "LayerNorm":
		l := nn.NewLayerNorm(cfg.Shape...)
		if !cfg.Affine {
			l.Weight, l.Bias = nil, nil
		}
		return l
	case "Dropout":
		return nn.NewDropout(rng, cfg.P)
	case "Embedding":
		return nn.NewEmbedding(rng, cfg.Num, cfg.Dim)
	case "Flatten":
		return &nn.Flatten{StartDim: cfg.Start, EndDim: cfg.End}
	case "ReLU":
		return nn.ReLU{}
	case "LeakyReLU":
		return nn.LeakyReLU{Slope: cfg.Slope}
	case "GELU":
		return nn.GELU{Tanh: cfg.Tanh}
	case "Sigmoid":
		return nn.Sigmoid{}
	case "Tanh":
		return nn.Tanh{}
	case "Softplus":
		return nn.Softplus{Beta: cfg.Beta}
	case "Softmax":
		return nn.Softmax{Axis: cfg.Axis}
	case "LogSoftmax":
		return nn.LogSoftmax{Axis: cfg.Axis}
	case "Identity":
		return nn.Identity{}
	}
	panic("unknown layer kind " + c.Kind)
}

var reductions = map[string]nn.Reduction{"mean": nn.Mean, "sum": nn.Sum, "none": nn.None}

// buildLoss returns the loss a reference case describes as a function.
func buildLoss(c refCase, dt nabla.DType) func(x, y *nabla.Tensor) *nabla.Tensor {
	r := reductions[c.Config.Reduction]
	var w, pw *nabla.Tensor
	if c.Weight != nil {
		w = c.Weight.tensor(dt)
	}
	if c.PosWeight != nil {
		pw = c.PosWeight.tensor(dt)
	}
	switch c.Kind {
	case "MSELoss":
		return nn.MSELoss{Reduction: r}.Forward
	case "L1Loss":
		return nn.L1Loss{Reduction: r}.Forward
	case "HuberLoss":
		return nn.HuberLoss{Delta: c.Config.Delta, Reduction: r}.Forward
	case "CrossEntropyLoss":
		return nn.CrossEntropyLoss{Weight: w, LabelSmoothing: c.Config.LabelSmoothing, Reduction: r}.Forward
	case "NLLLoss":
		return nn.NLLLoss{Weight: w, Reduction: r}.Forward
	case "BCELoss":
		return nn.BCELoss{Weight: w, Reduction: r}.Forward
	case "BCEWithLogitsLoss":
		return nn.BCEWithLogitsLoss{Weight: w, PosWeight: pw, Reduction: r}.Forward
	}
	panic("unknown loss kind " + c.Kind)
}

type tolerance struct{ rel, abs float64 }

var tolerances = map[nabla.DType]tolerance{
	nabla.Float64: {rel: 1e-5, abs: 1e-9},
	nabla.Float32: {rel: 1e-4, abs: 2e-5},
}

// compare reports the worst element of got that differs from want by more
// than the tolerance, and any difference in shape or dtype.
func compare(t *testing.T, what string, got *nabla.Tensor, want refTensor, dt nabla.DType) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got nil; want shape %v", what, want.Shape)
		return
	}
	if !slices.Equal(got.Shape(), want.Shape) {
		t.Errorf("%s: got shape %v; want %v", what, got.Shape(), want.Shape)
		return
	}
	if got.DType() != dt {
		t.Errorf("%s: got dtype %v; want %v", what, got.DType(), dt)
	}
	tol := tolerances[dt]
	g := got.Float64s()
	worst, at := 0.0, -1
	for i, w := range want.Data {
		excess := math.Abs(g[i]-w) - (tol.abs + tol.rel*math.Abs(w))
		if math.IsNaN(g[i]) || excess > worst {
			worst, at = excess, i
			if math.IsNaN(g[i]) {
				break
			}
		}
	}
	if at >= 0 {
		t.Errorf("%s: element %d: got %.10g; want %.10g", what, at, g[at], want.Data[at])
	}
}

func sortedKeys(m map[string]refTensor) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func paramNames(ps []nn.Param) []string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	sort.Strings(names)
	return names
}

func TestLayersMatchPyTorch(t *testing.T) {
	cases := loadCases(t, "testdata/layers.json")
	kinds := map[string]bool{}
	for _, c := range cases {
		kinds[c.Kind] = true
		for _, dt := range []nabla.DType{nabla.Float64, nabla.Float32} {
			t.Run(fmt.Sprintf("%s/%v", c.Name, dt), func(t *testing.T) {
				m := buildLayer(c)
				nn.To(m, dt)
				if got, want := paramNames(m.Params()), sortedKeys(c.Params); !slices.Equal(got, want) {
					t.Fatalf("parameter names: got %v; want %v", got, want)
				}
				if got, want := paramNames(nn.Buffers(m)), sortedKeys(c.BuffersBefore); !slices.Equal(got, want) {
					t.Fatalf("buffer names: got %v; want %v", got, want)
				}
				for name, v := range c.Params {
					nn.SetParam(m, name, v.tensor(dt).RequireGrad())
				}
				for name, v := range c.BuffersBefore {
					nn.SetParam(m, name, v.tensor(dt))
				}
				nn.SetTraining(m, c.Training)
				x := c.Input.tensor(dt)
				_, wantInputGrad := c.Grads["input"]
				if wantInputGrad {
					x.RequireGrad()
				}
				y := m.Forward(x)
				compare(t, "output", y, c.Output, dt)
				if y.RequiresGrad() {
					y.Backward(nabla.WithUpstream(c.Upstream.tensor(dt)))
				}
				if wantInputGrad {
					compare(t, "input gradient", x.Grad(), c.Grads["input"], dt)
				}
				for _, p := range m.Params() {
					compare(t, p.Name+" gradient", p.Tensor.Grad(), c.Grads[p.Name], dt)
				}
				for _, b := range nn.Buffers(m) {
					compare(t, b.Name+" after forward", b.Tensor, c.BuffersAfter[b.Name], dt)
				}
			})
		}
	}
	for _, k := range []string{"Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm1d", "BatchNorm2d",
		"LayerNorm", "Dropout", "Embedding", "Flatten", "ReLU", "LeakyReLU", "GELU", "Sigmoid", "Tanh", "Softplus",
		"Softmax", "LogSoftmax", "Identity"} {
		if !kinds[k] {
			t.Errorf("testdata/layers.json has no case for %s", k)
		}
	}
}

func TestLossesMatchPyTorch(t *testing.T) {
	cases := loadCases(t, "testdata/losses.json")
	seen := map[string]bool{}
	for _, c := range cases {
		seen[c.Kind+"/"+c.Config.Reduction] = true
		for _, dt := range []nabla.DType{nabla.Float64, nabla.Float32} {
			t.Run(fmt.Sprintf("%s/%v", c.Name, dt), func(t *testing.T) {
				loss := buildLoss(c, dt)
				x := c.Input.tensor(dt).RequireGrad()
				y := loss(x, c.Target.tensor(dt))
				compare(t, "loss", y, c.Output, dt)
				if c.ForwardOnly {
					return
				}
				y.Backward(nabla.WithUpstream(c.Upstream.tensor(dt)))
				compare(t, "input gradient", x.Grad(), c.Grads["input"], dt)
			})
		}
	}
	for _, k := range []string{"MSELoss", "L1Loss", "HuberLoss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss"} {
		for r := range reductions {
			if !seen[k+"/"+r] {
				t.Errorf("testdata/losses.json has no case for %s with reduction %s", k, r)
			}
		}
	}
}
