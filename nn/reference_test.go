package nn_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
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
	Shape []int   `json:"shape"`
	Data  refData `json:"data"`
}

// refData is a tensor's values; JSON has no NaN or infinity, so the
// generator writes those as the strings "nan", "inf" and "-inf".
type refData []float64

func (d *refData) UnmarshalJSON(b []byte) error {
	var vs []any
	if err := json.Unmarshal(b, &vs); err != nil {
		return err
	}
	out := make([]float64, len(vs))
	for i, v := range vs {
		switch v := v.(type) {
		case float64:
			out[i] = v
		case string:
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || !(math.IsNaN(f) || math.IsInf(f, 0)) {
				return fmt.Errorf("value %d: %q is neither a number nor nan, inf or -inf", i, v)
			}
			out[i] = f
		default:
			return fmt.Errorf("value %d: %v is not a number", i, v)
		}
	}
	*d = out
	return nil
}

func (r refTensor) tensor(dt nabla.DType) *nabla.Tensor {
	return nabla.FromSlice([]float64(r.Data), r.Shape...).To(dt).Contiguous()
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
	Affine         *bool // LayerNorm, BatchNorm (absent: true)
	P              float64
	Num, Dim       int
	PaddingIdx     *int    `json:"padding_idx"`
	MaxNorm        float64 `json:"max_norm"`
	NormType       float64 `json:"norm_type"`
	TrackStats     *bool   `json:"track_running_stats"` // absent: true
	Cumulative     bool    // BatchNorm with momentum=None
	IgnoreIndex    *int    `json:"ignore_index"` // absent: PyTorch's default, -100
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
	ParamsAfter   map[string]refTensor `json:"params_after"`
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
		l := nn.NewBatchNorm1d(cfg.Channels)
		l.CumulativeAverage = cfg.Cumulative
		if cfg.TrackStats != nil && !*cfg.TrackStats {
			l.RunningMean, l.RunningVar, l.NumBatchesTracked = nil, nil, nil
		}
		if cfg.Affine != nil && !*cfg.Affine {
			l.Weight, l.Bias = nil, nil
		}
		return l
	case "BatchNorm2d":
		l := nn.NewBatchNorm2d(cfg.Channels)
		l.CumulativeAverage = cfg.Cumulative
		if cfg.TrackStats != nil && !*cfg.TrackStats {
			l.RunningMean, l.RunningVar, l.NumBatchesTracked = nil, nil, nil
		}
		if cfg.Affine != nil && !*cfg.Affine {
			l.Weight, l.Bias = nil, nil
		}
		return l
	case "LayerNorm":
		l := nn.NewLayerNorm(cfg.Shape...)
		if !*cfg.Affine {
			l.Weight, l.Bias = nil, nil
		}
		return l
	case "Dropout":
		return nn.NewDropout(rng, cfg.P)
	case "Embedding":
		e := nn.NewEmbedding(rng, cfg.Num, cfg.Dim)
		if cfg.PaddingIdx != nil {
			e = nn.NewEmbeddingPadded(rng, cfg.Num, cfg.Dim, *cfg.PaddingIdx)
		}
		e.MaxNorm, e.NormType = cfg.MaxNorm, cfg.NormType
		return e
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
		return nn.CrossEntropyLoss{Weight: w, IgnoreIndex: c.Config.IgnoreIndex, LabelSmoothing: c.Config.LabelSmoothing, Reduction: r}.Forward
	case "NLLLoss":
		return nn.NLLLoss{Weight: w, IgnoreIndex: c.Config.IgnoreIndex, Reduction: r}.Forward
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
// than the tolerance, and any difference in shape or dtype. A NaN in want
// (the mean of a loss whose targets are all ignored) must be NaN in got,
// and only there.
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
		if math.IsNaN(w) || math.IsNaN(g[i]) {
			if math.IsNaN(w) != math.IsNaN(g[i]) {
				at = i
				break
			}
			continue
		}
		excess := math.Abs(g[i]-w) - (tol.abs + tol.rel*math.Abs(w))
		if excess > worst {
			worst, at = excess, i
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

// requireCases fails unless every name in want is a case: the options
// that only some cases exercise must not drop out of the files unnoticed.
func requireCases(t *testing.T, file string, cases []refCase, want ...string) {
	t.Helper()
	names := map[string]bool{}
	for _, c := range cases {
		names[c.Name] = true
	}
	for _, w := range want {
		if !names[w] {
			t.Errorf("%s has no case %q", file, w)
		}
	}
}

func TestLayersMatchPyTorch(t *testing.T) {
	cases := loadCases(t, "testdata/layers.json")
	requireCases(t, "testdata/layers.json", cases,
		"batchnorm1d/nostats-train-2d", "batchnorm1d/nostats-eval-3d", "batchnorm1d/nostats-noaffine-eval", "batchnorm2d/nostats-eval",
		"batchnorm1d/cumulative-train-2d", "batchnorm1d/cumulative-first-batch", "batchnorm2d/cumulative-train",
		"embedding/padding", "embedding/padding-negative", "embedding/max-norm", "embedding/max-norm-p1", "embedding/padding-max-norm")
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
				if _, ok := m.(*nn.Embedding); ok {
					x = x.To(nabla.Int64) // indices
				}
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
				// Layers that change their parameters in place (Embedding
				// with max_norm) must change them as PyTorch does.
				if c.ParamsAfter != nil {
					for _, p := range m.Params() {
						compare(t, p.Name+" after forward", p.Tensor, c.ParamsAfter[p.Name], dt)
					}
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
	requireCases(t, "testdata/losses.json", cases,
		"crossentropy/ignore/weighted/smooth0.1/mean", "crossentropy/ignore/kdim/weighted/smooth0.1/none",
		"crossentropy/ignore-index1/weighted/smooth0.1/mean", "crossentropy/ignore-index7/sum",
		"nll/ignore/weighted/mean", "nll/ignore-index0/weighted/mean", "nll/ignore-index-5/kdim/none",
		"crossentropy/ignore-all/weighted/smooth0.1/mean", "nll/ignore-all/weighted/mean", "crossentropy/vector/ignored",
		"crossentropy/prob/ignore-index-3")
	seen := map[string]bool{}
	for _, c := range cases {
		seen[c.Kind+"/"+c.Config.Reduction] = true
		for _, dt := range []nabla.DType{nabla.Float64, nabla.Float32} {
			t.Run(fmt.Sprintf("%s/%v", c.Name, dt), func(t *testing.T) {
				loss := buildLoss(c, dt)
				x := c.Input.tensor(dt).RequireGrad()
				target := c.Target.tensor(dt)
				if !slices.Equal(target.Shape(), x.Shape()) {
					target = target.To(nabla.Int64) // class indices, not probabilities
				}
				y := loss(x, target)
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
