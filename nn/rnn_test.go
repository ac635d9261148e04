package nn_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
)

// TestRNNGradcheck checks the recurrent modules' gradients with respect to
// the input and every parameter numerically, to second order, through
// several layers, both directions and batch-first layouts.
func TestRNNGradcheck(t *testing.T) {
	cases := []struct {
		name string
		m    nn.Module
		x    []int
	}{
		{"RNN/relu-bidir", nn.NewRNN(rand.New(rand.NewPCG(1, 1)), 2, 2, nn.RNNOptions{Nonlinearity: "relu", Bidirectional: true}), []int{3, 2, 2}},
		{"LSTM/2layer-bidir-batchfirst", nn.NewLSTM(rand.New(rand.NewPCG(1, 2)), 2, 2, nn.RNNOptions{NumLayers: 2, Bidirectional: true, BatchFirst: true}), []int{2, 3, 2}},
		{"GRU/2layer", nn.NewGRU(rand.New(rand.NewPCG(1, 3)), 2, 2, nn.RNNOptions{NumLayers: 2}), []int{3, 2, 2}},
		{"GRU/bidir-nobias", nn.NewGRU(rand.New(rand.NewPCG(1, 4)), 2, 2, nn.RNNOptions{Bidirectional: true, NoBias: true}), []int{3, 1, 2}},
		{"LSTMCell", nn.NewLSTMCell(rand.New(rand.NewPCG(1, 5)), 3, 2, true), []int{2, 3}},
		{"GRUCell", nn.NewGRUCell(rand.New(rand.NewPCG(1, 6)), 3, 2, true), []int{2, 3}},
		{"RNNCell", nn.NewRNNCell(rand.New(rand.NewPCG(1, 7)), 3, 2, true, false), []int{2, 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(9, 9))
			if err := checkModule(c.m, randIn(rng, 1, c.x...), nil, 2, nil); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestRNNParamNamesAndShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	m := nn.NewGRU(rng, 3, 4, nn.RNNOptions{NumLayers: 2, Bidirectional: true})
	var got []string
	for _, p := range m.Params() {
		got = append(got, p.Name)
	}
	want := []string{
		"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
		"weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
		"weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1",
		"weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("names %v, want %v", got, want)
	}
	// layer 1 takes both directions of layer 0: (3H, 2H)
	if s := m.Params()[8].Tensor.Shape(); !slices.Equal(s, []int{12, 8}) {
		t.Errorf("weight_ih_l1 shape %v, want [12 8]", s)
	}
	for _, p := range m.Params() {
		for _, v := range p.Tensor.Float64s() {
			if v < -0.5 || v > 0.5 {
				t.Fatalf("%s holds %v outside U(-1/√4, 1/√4)", p.Name, v)
			}
		}
	}
	if s := nn.NewLSTM(rng, 3, 4, nn.RNNOptions{NoBias: true}).Params(); len(s) != 2 {
		t.Errorf("an LSTM without bias has %d parameters, want 2", len(s))
	}
	if s := fmtString(m); s != "GRU(3, 4, num_layers=2, bidirectional=True)" {
		t.Errorf("String = %q", s)
	}
	if s := fmtString(nn.NewLSTMCell(rng, 3, 4, false)); s != "LSTMCell(3, 4, bias=False)" {
		t.Errorf("String = %q", s)
	}
}

func fmtString(m any) string { return m.(interface{ String() string }).String() }

// TestLSTMDropoutBetweenLayers checks that dropout changes a multi-layer
// LSTM's output in training mode only, reproducibly from its generator,
// and never touches a single layer.
func TestLSTMDropoutBetweenLayers(t *testing.T) {
	x := nabla.Normal(rand.New(rand.NewPCG(5, 5)), 0, 1, 4, 2, 3)
	run := func(layers int, training bool, seed uint64) []float32 {
		m := nn.NewLSTM(rand.New(rand.NewPCG(1, 1)), 3, 5, nn.RNNOptions{NumLayers: layers, Dropout: 0.5})
		m.Rng = rand.New(rand.NewPCG(seed, 0))
		nn.SetTraining(m, training)
		return m.Forward(x).Float32s()
	}
	if slices.Equal(run(2, true, 1), run(2, false, 1)) {
		t.Error("dropout did not change the training output of a 2-layer LSTM")
	}
	if !slices.Equal(run(2, true, 1), run(2, true, 1)) {
		t.Error("the same generator gave different dropout masks")
	}
	if slices.Equal(run(2, true, 1), run(2, true, 2)) {
		t.Error("different generators gave the same dropout masks")
	}
	if !slices.Equal(run(1, true, 1), run(1, false, 1)) {
		t.Error("dropout applied to the output of the last (only) layer")
	}
}

func TestRNNErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	lstm := nn.NewLSTM(rng, 3, 4, nn.RNNOptions{NumLayers: 2})
	cell := nn.NewGRUCell(rng, 3, 4, true)
	cases := []struct {
		name, want string
		shape      bool
		f          func()
	}{
		{"input features", "want input (T, B, 3)", true, func() { lstm.Forward(nabla.Zeros(5, 2, 4)) }},
		{"input rank", "want input", true, func() { lstm.Forward(nabla.Zeros(5)) }},
		{"empty sequence", "empty", true, func() { lstm.Forward(nabla.Zeros(0, 2, 3)) }},
		{"h0 shape", "initial state h0 must have shape [2 2 4]", true, func() { lstm.ForwardState(nabla.Zeros(5, 2, 3), nabla.Zeros(1, 2, 4), nil) }},
		{"c0 shape", "initial state c0", true, func() { lstm.ForwardState(nabla.Zeros(5, 2, 3), nil, nabla.Zeros(2, 3, 4)) }},
		{"cell input", "want input (B, 3)", true, func() { cell.Forward(nabla.Zeros(2, 2)) }},
		{"cell state", "state 0 must have shape (2, 4)", true, func() { cell.Step(nabla.Zeros(2, 3), nabla.Zeros(3, 4)) }},
		{"sizes", "sizes must be positive", false, func() { nn.NewGRU(rng, 0, 4, nn.RNNOptions{}) }},
		{"dropout", "dropout 1.5", false, func() { nn.NewLSTM(rng, 3, 4, nn.RNNOptions{Dropout: 1.5}) }},
		{"nonlinearity", `unknown nonlinearity "gelu"`, false, func() { nn.NewRNN(rng, 3, 4, nn.RNNOptions{Nonlinearity: "gelu"}) }},
		{"relu lstm", "nonlinearity is an option of RNN only", false, func() { nn.NewLSTM(rng, 3, 4, nn.RNNOptions{Nonlinearity: "relu"}) }},
		{"param", `has no parameter or buffer "weight_ih_l2"`, false, func() { lstm.SetParam("weight_ih_l2", nabla.Zeros(1)) }},
	}
	for _, c := range cases {
		err := nabla.Maybe(c.f)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		var se *nabla.ShapeError
		if errors.As(err, &se) != c.shape {
			t.Errorf("%s: %T, want a ShapeError: %v", c.name, err, c.shape)
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %q does not say %q", c.name, err, c.want)
		}
	}
}

// TestLSTMStepIsOneFusedNode checks that the LSTM's time loop records the
// fused gate op, and that a cell and the module agree on one step.
func TestLSTMStepIsOneFusedNode(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	m := nn.NewLSTM(rng, 3, 4, nn.RNNOptions{})
	c := nn.NewLSTMCell(rng, 3, 4, true)
	for _, p := range m.Params() {
		c.SetParam(strings.TrimSuffix(p.Name, "_l0"), p.Tensor)
	}
	x := nabla.Normal(rng, 0, 1, 1, 2, 3)
	_, hn, cn := m.ForwardState(x, nil, nil)
	h, cc := c.Step(x.Index(0, 0), nil, nil)
	// The fused step runs the float32 sigmoid and tanh kernels on whole
	// rows; the cell's strided gate views may take the generic loops,
	// which round math's float64 result: both are within one ulp of the
	// exact value, not always the same float32.
	close := func(a, b []float32) bool {
		for i := range a {
			if math.Abs(float64(a[i]-b[i])) > 1e-6*(1+math.Abs(float64(b[i]))) {
				return false
			}
		}
		return len(a) == len(b)
	}
	if !close(hn.Index(0, 0).Float32s(), h.Float32s()) || !close(cn.Index(0, 0).Float32s(), cc.Float32s()) {
		t.Error("LSTM and LSTMCell disagree on one step")
	}
	// h is a view (Index: Slice, Squeeze) of the fused op's output.
	if op := h.Op(); op != "Squeeze" {
		t.Errorf("h comes from %q", op)
	}
}

// TestRecurrentNodesPerStep counts the ops a forward pass records: one
// fused step node per time step, layer and direction, and no per-gate
// ops (no Sigmoid or Tanh nodes).
func TestRecurrentNodesPerStep(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	x := nabla.Normal(rng, 0, 1, 6, 2, 3)
	for _, c := range []struct {
		m  nn.Module
		op string
	}{
		{nn.NewLSTM(rng, 3, 4, nn.RNNOptions{NumLayers: 2, Bidirectional: true}), "LSTMStep"},
		{nn.NewGRU(rng, 3, 4, nn.RNNOptions{NumLayers: 2, Bidirectional: true}), "GRUStep"},
		{nn.NewRNN(rng, 3, 4, nn.RNNOptions{NumLayers: 2, Bidirectional: true}), "RNNStep"},
	} {
		var b strings.Builder
		if err := nabla.WriteDOT(&b, c.m.Forward(x).Sum()); err != nil {
			t.Fatal(err)
		}
		dot := b.String()
		if n := strings.Count(dot, `label="`+c.op+`\n`); n != 6*2*2 {
			t.Errorf("%s: %d %s nodes in the graph, want %d (6 steps, 2 layers, 2 directions)", fmtString(c.m), n, c.op, 6*2*2)
		}
		for _, gate := range []string{"Sigmoid", "Tanh"} {
			if strings.Contains(dot, gate) {
				t.Errorf("%s: the graph has %s nodes", fmtString(c.m), gate)
			}
		}
	}
}

// TestRecurrentArena trains each recurrent module twice, once with its
// batches in an arena that is reset after every step (so the steps'
// outputs and the backward pass take arena memory), and checks that the
// losses agree exactly.
func TestRecurrentArena(t *testing.T) {
	for _, kind := range []string{"RNN", "LSTM", "GRU"} {
		var losses [2][]float64
		for k := range 2 {
			rng := rand.New(rand.NewPCG(5, 6))
			o := nn.RNNOptions{NumLayers: 2, Bidirectional: true, BatchFirst: true}
			var m nn.Module
			switch kind {
			case "RNN":
				m = nn.NewRNN(rng, 3, 5, o)
			case "LSTM":
				m = nn.NewLSTM(rng, 3, 5, o)
			case "GRU":
				m = nn.NewGRU(rng, 3, 5, o)
			}
			ps := m.Params()
			arena := nabla.NewArena()
			for range 3 {
				x := nabla.Normal(rng, 0, 1, 4, 6, 3)
				if k == 1 {
					x = x.InArena(arena)
				}
				loss := m.Forward(x).Square().Mean()
				loss.Backward()
				for _, p := range ps {
					w, g := p.Tensor.Data32(), p.Tensor.Grad().Data32()
					for i := range w {
						w[i] -= 0.1 * g[i]
					}
					p.Tensor.ZeroGrad()
				}
				losses[k] = append(losses[k], loss.Item())
				arena.Reset()
			}
		}
		if !slices.Equal(losses[0], losses[1]) {
			t.Errorf("%s: losses with an arena %v, without %v", kind, losses[1], losses[0])
		}
	}
}
