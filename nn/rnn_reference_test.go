package nn_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
)

// The files testdata/rnn.json and testdata/lstm_state_dict.* come from
// bench/reference/make_rnn_reference.py, which runs PyTorch 1.13's RNN,
// LSTM, GRU and cells with weights it draws, and records outputs, final
// states and the gradients of a fixed linear function of all of them with
// respect to the input, the initial states and every parameter.

type rnnRefConfig struct {
	InputSize     int    `json:"input_size"`
	HiddenSize    int    `json:"hidden_size"`
	NumLayers     int    `json:"num_layers"`
	Bias          *bool  `json:"bias"`
	BatchFirst    bool   `json:"batch_first"`
	Bidirectional bool   `json:"bidirectional"`
	Nonlinearity  string `json:"nonlinearity"`
}

type rnnRefCase struct {
	Name           string               `json:"name"`
	Kind           string               `json:"kind"`
	Config         rnnRefConfig         `json:"config"`
	Input          refTensor            `json:"input"`
	H0             *refTensor           `json:"h0"`
	C0             *refTensor           `json:"c0"`
	Params         map[string]refTensor `json:"params"`
	Output         *refTensor           `json:"output"`
	Upstream       *refTensor           `json:"upstream"`
	Finals         map[string]refTensor `json:"finals"`
	FinalUpstreams map[string]refTensor `json:"final_upstreams"`
	Grads          map[string]refTensor `json:"grads"`
}

func (c rnnRefConfig) options() nn.RNNOptions {
	return nn.RNNOptions{NumLayers: c.NumLayers, NoBias: c.Bias != nil && !*c.Bias, BatchFirst: c.BatchFirst,
		Bidirectional: c.Bidirectional, Nonlinearity: c.Nonlinearity}
}

// runRNNCase builds the case's module in dtype dt with PyTorch's weights
// set by name, runs it and returns the outputs by name ("output", "h_n",
// "c_n" or "h", "c") and the tensors that gradients are wanted for, by the
// names the reference uses.
func runRNNCase(t *testing.T, c rnnRefCase, dt nabla.DType) (outs map[string]*nabla.Tensor, wrt map[string]*nabla.Tensor) {
	rng := rand.New(rand.NewPCG(1, 1))
	cfg := c.Config
	bias := cfg.Bias == nil || *cfg.Bias
	var m nn.Module
	switch c.Kind {
	case "RNN":
		m = nn.NewRNN(rng, cfg.InputSize, cfg.HiddenSize, cfg.options())
	case "LSTM":
		m = nn.NewLSTM(rng, cfg.InputSize, cfg.HiddenSize, cfg.options())
	case "GRU":
		m = nn.NewGRU(rng, cfg.InputSize, cfg.HiddenSize, cfg.options())
	case "RNNCell":
		m = nn.NewRNNCell(rng, cfg.InputSize, cfg.HiddenSize, bias, cfg.Nonlinearity == "relu")
	case "LSTMCell":
		m = nn.NewLSTMCell(rng, cfg.InputSize, cfg.HiddenSize, bias)
	case "GRUCell":
		m = nn.NewGRUCell(rng, cfg.InputSize, cfg.HiddenSize, bias)
	default:
		t.Fatalf("unknown kind %q", c.Kind)
	}
	ps := m.Params()
	if len(ps) != len(c.Params) {
		t.Fatalf("%d parameters, PyTorch's state_dict has %d", len(ps), len(c.Params))
	}
	wrt = map[string]*nabla.Tensor{}
	for _, p := range ps {
		ref, ok := c.Params[p.Name]
		if !ok {
			t.Fatalf("parameter %q is not in PyTorch's state_dict", p.Name)
		}
		v := ref.tensor(dt).RequireGrad()
		m.(nn.ParamSetter).SetParam(p.Name, v)
		wrt[p.Name] = v
	}
	x := c.Input.tensor(dt).RequireGrad()
	wrt["input"] = x
	var h0, c0 *nabla.Tensor
	if c.H0 != nil {
		h0 = c.H0.tensor(dt).RequireGrad()
		wrt["h0"] = h0
	}
	if c.C0 != nil {
		c0 = c.C0.tensor(dt).RequireGrad()
		wrt["c0"] = c0
	}
	outs = map[string]*nabla.Tensor{}
	switch m := m.(type) {
	case *nn.RNN:
		outs["output"], outs["h_n"] = m.ForwardState(x, h0)
	case *nn.LSTM:
		outs["output"], outs["h_n"], outs["c_n"] = m.ForwardState(x, h0, c0)
	case *nn.GRU:
		outs["output"], outs["h_n"] = m.ForwardState(x, h0)
	case *nn.RNNCell:
		outs["h"] = m.Step(x, h0)
	case *nn.LSTMCell:
		outs["h"], outs["c"] = m.Step(x, h0, c0)
	case *nn.GRUCell:
		outs["h"] = m.Step(x, h0)
	}
	return outs, wrt
}

func loadRNNCases(t *testing.T) []rnnRefCase {
	b, err := os.ReadFile("testdata/rnn.json")
	if err != nil {
		t.Fatal(err)
	}
	var cs []rnnRefCase
	if err := json.Unmarshal(b, &cs); err != nil {
		t.Fatal(err)
	}
	if len(cs) < 18 {
		t.Fatalf("only %d cases in testdata/rnn.json", len(cs))
	}
	return cs
}

func checkRef(t *testing.T, what string, got *nabla.Tensor, want refTensor, tol float64) {
	t.Helper()
	if !slices.Equal(got.Shape(), want.Shape) {
		t.Errorf("%s: shape %v, PyTorch's %v", what, got.Shape(), want.Shape)
		return
	}
	worst, at := 0.0, 0
	for i, v := range got.Float64s() {
		w := want.Data[i]
		if d := math.Abs(v-w) / (1 + math.Abs(w)); d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
	}
	if !(worst <= tol) {
		t.Errorf("%s: value %d = %v, PyTorch's %v (relative error %.2g > %.0g)", what, at, got.Float64s()[at], want.Data[at], worst, tol)
	}
}

// TestRNNReference compares outputs, final states and gradients of every
// recurrent module with PyTorch's, in float64 and float32.
func TestRNNReference(t *testing.T) {
	for _, c := range loadRNNCases(t) {
		for _, dt := range []nabla.DType{nabla.Float64, nabla.Float32} {
			t.Run(c.Name+"/"+dt.String(), func(t *testing.T) {
				tol := 1e-10
				if dt == nabla.Float32 {
					tol = 1e-4
				}
				outs, wrt := runRNNCase(t, c, dt)
				var loss *nabla.Tensor
				add := func(y *nabla.Tensor, up refTensor) {
					term := y.Mul(up.tensor(dt)).Sum()
					if loss == nil {
						loss = term
					} else {
						loss = loss.Add(term)
					}
				}
				if c.Output != nil {
					checkRef(t, "output", outs["output"], *c.Output, tol)
					add(outs["output"], *c.Upstream)
				}
				for name, want := range c.Finals {
					got, ok := outs[name]
					if !ok || got == nil {
						t.Fatalf("no %s", name)
					}
					checkRef(t, name, got, want, tol)
					add(got, c.FinalUpstreams[name])
				}
				names := make([]string, 0, len(c.Grads))
				for n := range c.Grads {
					names = append(names, n)
				}
				slices.Sort(names)
				xs := make([]*nabla.Tensor, len(names))
				for i, n := range names {
					if wrt[n] == nil {
						t.Fatalf("PyTorch has a gradient for %q, nabla no such tensor", n)
					}
					xs[i] = wrt[n]
				}
				gs := nabla.Gradients(loss, xs)
				for i, n := range names {
					checkRef(t, "grad "+n, gs[i], c.Grads[n], tol*10)
				}
			})
		}
	}
}

// TestLSTMLoadsPyTorchSafetensors loads a PyTorch LSTM's state_dict,
// written as safetensors by Python, with nn.Load by name, and compares the
// outputs with PyTorch's.
func TestLSTMLoadsPyTorchSafetensors(t *testing.T) {
	b, err := os.ReadFile("testdata/lstm_state_dict.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Config rnnRefConfig `json:"config"`
		Input  refTensor    `json:"input"`
		Output refTensor    `json:"output"`
		HN     refTensor    `json:"h_n"`
		CN     refTensor    `json:"c_n"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	m := nn.NewLSTM(rand.New(rand.NewPCG(3, 3)), ref.Config.InputSize, ref.Config.HiddenSize, ref.Config.options())
	before := m.Params()[0].Tensor.Float64s()[0]
	meta, err := nn.Load("testdata/lstm_state_dict.safetensors", m)
	if err != nil {
		t.Fatal(err)
	}
	if meta["source"] != "make_rnn_reference.py" {
		t.Errorf("metadata %v lacks the source the script wrote", meta)
	}
	if m.Params()[0].Tensor.Float64s()[0] == before {
		t.Error("weight_ih_l0 unchanged by Load")
	}
	y, hn, cn := m.ForwardState(ref.Input.tensor(nabla.Float32), nil, nil)
	checkRef(t, "output", y, ref.Output, 1e-5)
	checkRef(t, "h_n", hn, ref.HN, 1e-5)
	checkRef(t, "c_n", cn, ref.CN, 1e-5)

	// A state_dict of another architecture is refused by name.
	other := nn.NewLSTM(rand.New(rand.NewPCG(3, 3)), ref.Config.InputSize, ref.Config.HiddenSize, nn.RNNOptions{NumLayers: 3, Bidirectional: true, BatchFirst: true})
	if _, err := nn.Load("testdata/lstm_state_dict.safetensors", other); err == nil {
		t.Error("a 2-layer state_dict loaded into a 3-layer LSTM")
	}
}

// TestLSTMLanguageModelLoadsPyTorch loads the state_dict of the PyTorch
// module that nn.LSTMLanguageModel mirrors (written as safetensors by
// Python) by name, and compares logits, the next-token loss and the
// gradient of every parameter with PyTorch's.
func TestLSTMLanguageModelLoadsPyTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/lstm_lm.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Config struct{ Vocab, Embed, Hidden, Layers int } `json:"config"`
		Input  refTensor                                  `json:"input"`
		Target refTensor                                  `json:"target"`
		Logits refTensor                                  `json:"logits"`
		Loss   float64                                    `json:"loss"`
		Grads  map[string]refTensor                       `json:"grads"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	c := ref.Config
	m := nn.NewLSTMLanguageModel(rand.New(rand.NewPCG(1, 1)), c.Vocab, c.Embed, c.Hidden, c.Layers, 0)
	if _, err := nn.Load("testdata/lstm_lm.safetensors", m); err != nil {
		t.Fatal(err)
	}
	x, y := ref.Input.tensor(nabla.Float32).To(nabla.Int64), ref.Target.tensor(nabla.Float32).To(nabla.Int64)
	checkRef(t, "logits", m.Forward(x), ref.Logits, 1e-5)
	loss := m.Loss(x, y)
	if d := math.Abs(loss.Item() - ref.Loss); d > 1e-5 {
		t.Errorf("loss %v, PyTorch's %v", loss.Item(), ref.Loss)
	}
	loss.Backward()
	if len(ref.Grads) != len(m.Params()) {
		t.Fatalf("%d gradients from PyTorch, %d parameters", len(ref.Grads), len(m.Params()))
	}
	for _, p := range m.Params() {
		checkRef(t, "grad "+p.Name, p.Tensor.Grad(), ref.Grads[p.Name], 1e-5)
	}
}
