package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/nabla-go/nabla"
)

// RNNOptions are the arguments of [NewRNN], [NewLSTM] and [NewGRU] beyond
// the sizes. The zero value is PyTorch's defaults: one layer, with biases,
// time-major input, no dropout, one direction, tanh.
type RNNOptions struct {
	NumLayers     int     // stacked layers, num_layers (0 means 1)
	NoBias        bool    // bias=False: no bias_ih and bias_hh
	BatchFirst    bool    // batch_first: input and output are (B, T, ·) instead of (T, B, ·)
	Dropout       float64 // dropout on the outputs of every layer but the last, in training mode
	Bidirectional bool    // bidirectional: a second pass from the last step to the first in every layer
	Nonlinearity  string  // RNN only: "tanh" (the default, also "") or "relu"
}

// recurrent is what RNN, LSTM and GRU share: the sizes and options, the
// weights of every layer and direction, and the time loop's scaffolding.
// The gate count is 1 (RNN), 4 (LSTM: i, f, g, o) or 3 (GRU: r, z, n),
// and weight_ih is (gates·H, in), weight_hh (gates·H, H), as in PyTorch.
type recurrent struct {
	kind                  string // "RNN", "LSTM" or "GRU", for messages
	gates                 int
	inputSize, hiddenSize int
	opts                  RNNOptions
	// w[layer·dirs + dir] holds weight_ih, weight_hh, bias_ih, bias_hh
	// (the biases nil without bias).
	w [][4]*nabla.Tensor

	// Rng draws the dropout masks between layers; the constructor sets it
	// to the generator it initialised the weights from.
	Rng *rand.Rand
	// Training is the mode: dropout applies only in training (the
	// default).
	Training bool
}

func newRecurrent(rng *rand.Rand, kind string, gates, in, hidden int, o RNNOptions) recurrent {
	op := "nn.New" + kind
	if in <= 0 || hidden <= 0 {
		panic(&nabla.ValueError{Op: op, Reason: fmt.Sprintf("sizes must be positive, got input_size=%d hidden_size=%d", in, hidden)})
	}
	if o.NumLayers == 0 {
		o.NumLayers = 1
	}
	if o.NumLayers < 0 {
		panic(&nabla.ValueError{Op: op, Reason: fmt.Sprintf("num_layers must be positive, got %d", o.NumLayers)})
	}
	if !(o.Dropout >= 0 && o.Dropout <= 1) {
		panic(&nabla.ValueError{Op: op, Reason: fmt.Sprintf("dropout %v is outside [0, 1]", o.Dropout)})
	}
	switch o.Nonlinearity {
	case "", "tanh":
		o.Nonlinearity = "tanh"
	case "relu":
		if kind != "RNN" {
			panic(&nabla.ValueError{Op: op, Reason: "nonlinearity is an option of RNN only"})
		}
	default:
		panic(&nabla.ValueError{Op: op, Reason: fmt.Sprintf("unknown nonlinearity %q (want \"tanh\" or \"relu\")", o.Nonlinearity)})
	}
	r := recurrent{kind: kind, gates: gates, inputSize: in, hiddenSize: hidden, opts: o, Rng: rng, Training: true}
	// PyTorch draws every parameter from U(-1/√H, 1/√H), in state_dict
	// order: layer by layer, forward before reverse, weight_ih, weight_hh,
	// bias_ih, bias_hh.
	bound := 1 / math.Sqrt(float64(hidden))
	dirs := r.dirs()
	for l := 0; l < o.NumLayers; l++ {
		lin := in
		if l > 0 {
			lin = hidden * dirs
		}
		for d := 0; d < dirs; d++ {
			var w [4]*nabla.Tensor
			w[0] = Uniform(rng, nabla.Zeros(gates*hidden, lin), -bound, bound).RequireGrad()
			w[1] = Uniform(rng, nabla.Zeros(gates*hidden, hidden), -bound, bound).RequireGrad()
			if !o.NoBias {
				w[2] = Uniform(rng, nabla.Zeros(gates*hidden), -bound, bound).RequireGrad()
				w[3] = Uniform(rng, nabla.Zeros(gates*hidden), -bound, bound).RequireGrad()
			}
			r.w = append(r.w, w)
		}
	}
	return r
}

func (r *recurrent) dirs() int {
	if r.opts.Bidirectional {
		return 2
	}
	return 1
}

// String describes the module as PyTorch prints it, e.g.
// "LSTM(10, 20, num_layers=2, bidirectional=True)".
func (r *recurrent) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s(%d, %d", r.kind, r.inputSize, r.hiddenSize)
	o := r.opts
	if o.NumLayers != 1 {
		fmt.Fprintf(&b, ", num_layers=%d", o.NumLayers)
	}
	if o.Nonlinearity == "relu" {
		b.WriteString(", nonlinearity='relu'")
	}
	if o.NoBias {
		b.WriteString(", bias=False")
	}
	if o.BatchFirst {
		b.WriteString(", batch_first=True")
	}
	if o.Dropout != 0 {
		fmt.Fprintf(&b, ", dropout=%g", o.Dropout)
	}
	if o.Bidirectional {
		b.WriteString(", bidirectional=True")
	}
	return b.String() + ")"
}

var paramKinds = [4]string{"weight_ih", "weight_hh", "bias_ih", "bias_hh"}

func (r *recurrent) paramName(k, layer, dir int) string {
	s := fmt.Sprintf("%s_l%d", paramKinds[k], layer)
	if dir == 1 {
		s += "_reverse"
	}
	return s
}

// Params returns the parameters with PyTorch's names and in its
// state_dict order: weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0,
// then the same with the suffix _reverse for the backward direction, then
// layer 1 and so on.
func (r *recurrent) Params() []Param {
	var ps []Param
	dirs := r.dirs()
	for i, w := range r.w {
		for k, t := range w {
			if t != nil {
				ps = append(ps, Param{r.paramName(k, i/dirs, i%dirs), t})
			}
		}
	}
	return ps
}

// SetParam replaces the parameter called name; see [ParamSetter].
func (r *recurrent) SetParam(name string, t *nabla.Tensor) {
	dirs := r.dirs()
	for i := range r.w {
		for k := range r.w[i] {
			if r.paramName(k, i/dirs, i%dirs) == name {
				replace(r.String(), name, &r.w[i][k], t)
				return
			}
		}
	}
	unknownParam(r.String(), name)
}

// SetTraining switches between training (true) and evaluation mode.
func (r *recurrent) SetTraining(on bool) { r.Training = on }

// NumLayers returns the number of stacked layers.
func (r *recurrent) NumLayers() int { return r.opts.NumLayers }

// HiddenSize returns H, the size of the hidden state.
func (r *recurrent) HiddenSize() int { return r.hiddenSize }

// InputSize returns the number of input features.
func (r *recurrent) InputSize() int { return r.inputSize }

// Options returns the options the module was built with, defaults filled in.
func (r *recurrent) Options() RNNOptions { return r.opts }

// checkInput validates x, returning it as a batched tensor (T, B, in) or
// (B, T, in), whether it was unbatched, and the batch size.
func (r *recurrent) checkInput(x *nabla.Tensor) (*nabla.Tensor, bool, int) {
	switch {
	case x.Dim() == 2 && x.Size(1) == r.inputSize:
		// Unbatched (T, in): a batch of one, whatever batch_first says.
		if r.opts.BatchFirst {
			return x.Unsqueeze(0), true, 1
		}
		return x.Unsqueeze(1), true, 1
	case x.Dim() == 3 && x.Size(2) == r.inputSize:
		if r.opts.BatchFirst {
			return x, false, x.Size(0)
		}
		return x, false, x.Size(1)
	}
	layout := "(T, B, %d)"
	if r.opts.BatchFirst {
		layout = "(B, T, %d)"
	}
	panic(shapeErr(r.String(), x, "want input "+layout+" or unbatched (T, %d)", r.inputSize, r.inputSize))
}

// initStates splits the initial state s, of shape (L·D, B, H) or (L·D, H)
// unbatched, into one (B, H) state per layer and direction (index
// layer·D + direction), all zeros if s is nil.
func (r *recurrent) initStates(name string, s *nabla.Tensor, unbatched bool, b int) []*nabla.Tensor {
	n := r.opts.NumLayers * r.dirs()
	out := make([]*nabla.Tensor, n)
	if s == nil {
		dt := r.w[0][0].DType()
		z := nabla.FullOf(dt, 0, b, r.hiddenSize)
		for i := range out {
			out[i] = z
		}
		return out
	}
	want := []int{n, b, r.hiddenSize}
	if unbatched {
		want = []int{n, r.hiddenSize}
	}
	if !slices.Equal(s.Shape(), want) {
		panic(&nabla.ShapeError{Op: r.String(), Shapes: [][]int{s.Shape()}, Reason: fmt.Sprintf("initial state %s must have shape %v (num_layers·directions, batch, hidden)", name, want)})
	}
	if unbatched {
		s = s.Unsqueeze(1)
	}
	for i := range out {
		out[i] = s.Index(0, i)
	}
	return out
}

// stepFunc runs one direction of one layer over the time steps: given the
// input projections of every step, proj (with the time axis tAx), the
// recurrent weight W_hh, the recurrent bias (for GRU), and the initial
// states, it returns the hidden state of every step and the final states.
type stepFunc func(proj *nabla.Tensor, tAx int, whh, bhh *nabla.Tensor, h, c *nabla.Tensor, reverse bool) (hs []*nabla.Tensor, hn, cn *nabla.Tensor)

// run is the shared forward pass: layers, directions, dropout and the
// layouts of PyTorch's outputs.
func (r *recurrent) run(x, h0, c0 *nabla.Tensor, step stepFunc) (out, hn, cn *nabla.Tensor) {
	x, unbatched, b := r.checkInput(x)
	hs0 := r.initStates("h0", h0, unbatched, b)
	var cs0 []*nabla.Tensor
	if r.kind == "LSTM" {
		cs0 = r.initStates("c0", c0, unbatched, b)
	}
	tAx := 0
	if r.opts.BatchFirst {
		tAx = 1
	}
	T := x.Size(tAx)
	if T == 0 {
		panic(shapeErr(r.String(), x, "the sequence is empty"))
	}
	dirs := r.dirs()
	var hns, cns []*nabla.Tensor
	in := x
	for l := 0; l < r.opts.NumLayers; l++ {
		if l > 0 && r.Training && r.opts.Dropout > 0 {
			in = (&Dropout{P: r.opts.Dropout, Rng: r.Rng, Training: true}).Forward(in)
		}
		outs := make([]*nabla.Tensor, dirs)
		for d := 0; d < dirs; d++ {
			i := l*dirs + d
			w := r.w[i]
			// One GEMM projects the input of every time step at once:
			// (T·B, in)·W_ihᵀ. The LSTM and the RNN fold both biases
			// in here; the GRU needs b_hh inside the gate (r·(W_hn·h +
			// b_hn)), so it passes it to the fused op instead.
			sh := in.Shape()
			var bias *nabla.Tensor
			if w[2] != nil {
				bias = w[2]
				if r.kind != "GRU" {
					bias = bias.Add(w[3])
				}
			}
			proj := nabla.Linear(in.Reshape(-1, sh[2]), w[0], bias).Reshape(sh[0], sh[1], -1)
			var bhh, c *nabla.Tensor
			if r.kind == "GRU" {
				bhh = w[3]
			}
			if cs0 != nil {
				c = cs0[i]
			}
			hs, h, cl := step(proj, tAx, w[1], bhh, hs0[i], c, d == 1)
			outs[d] = nabla.Stack(hs, tAx)
			hns = append(hns, h)
			if cl != nil {
				cns = append(cns, cl)
			}
		}
		in = outs[0]
		if dirs == 2 {
			in = nabla.Concat(outs, 2)
		}
	}
	out = in
	hn = nabla.Stack(hns, 0)
	if cns != nil {
		cn = nabla.Stack(cns, 0)
	}
	if unbatched {
		out = out.Squeeze(1 - tAx)
		hn = hn.Squeeze(1)
		if cn != nil {
			cn = cn.Squeeze(1)
		}
	}
	return out, hn, cn
}

// RNN is a multi-layer Elman recurrent network, as torch.nn.RNN:
// h_t = tanh(x_t·W_ihᵀ + b_ih + h_{t-1}·W_hhᵀ + b_hh), or relu instead of
// tanh. Input is (T, B, in), or (B, T, in) with BatchFirst, or unbatched
// (T, in); the output holds the last layer's hidden state at every step,
// (T, B, D·H) with D = 2 if bidirectional (the forward and backward
// directions' states side by side), and the final states h_n are
// (num_layers·D, B, H), as in PyTorch.
type RNN struct{ recurrent }

// NewRNN returns an RNN from in features to hidden units, every parameter
// drawn from U(-1/√hidden, 1/√hidden) as PyTorch does, in float32, from
// rng, which also draws the dropout masks. It panics with a
// *nabla.ValueError for sizes that are not positive or an unknown option.
func NewRNN(rng *rand.Rand, in, hidden int, o RNNOptions) *RNN {
	return &RNN{newRecurrent(rng, "RNN", 1, in, hidden, o)}
}

// Forward returns the output for x with zero initial states; see
// [RNN.ForwardState].
func (m *RNN) Forward(x *nabla.Tensor) *nabla.Tensor {
	out, _ := m.ForwardState(x, nil)
	return out
}

// ForwardState returns the output and the final hidden states h_n for x
// and the initial states h0, of shape (num_layers·D, B, H) (or
// (num_layers·D, H) for an unbatched x); nil means zeros. It panics with a
// *nabla.ShapeError naming the module if a shape does not fit.
func (m *RNN) ForwardState(x, h0 *nabla.Tensor) (out, hn *nabla.Tensor) {
	relu := m.opts.Nonlinearity == "relu"
	out, hn, _ = m.run(x, h0, nil, func(proj *nabla.Tensor, tAx int, whh, _ *nabla.Tensor, h, _ *nabla.Tensor, reverse bool) ([]*nabla.Tensor, *nabla.Tensor, *nabla.Tensor) {
		hs, hn := nabla.RNNLayer(proj, tAx, whh, h, relu, reverse)
		return hs, hn, nil
	})
	return out, hn
}

// LSTM is a multi-layer long short-term memory network, as torch.nn.LSTM,
// with PyTorch's gates i, f, g, o:
//
//	i, f, o = σ(x·W_iᵀ + b_ii + h·W_hiᵀ + b_hi), ...;  g = tanh(...)
//	c' = f·c + i·g;  h' = o·tanh(c')
//
// Input and output are laid out as for [RNN]; the final states h_n and
// c_n are both (num_layers·D, B, H). The time loop projects the input of
// all steps with one GEMM per layer and direction, then runs
// [nabla.LSTMLayer]: one node per step that computes h·W_hhᵀ and the
// gates, fused.
type LSTM struct{ recurrent }

// NewLSTM returns an LSTM from in features to hidden units, initialised as
// [NewRNN] does. Nonlinearity must be unset.
func NewLSTM(rng *rand.Rand, in, hidden int, o RNNOptions) *LSTM {
	return &LSTM{newRecurrent(rng, "LSTM", 4, in, hidden, o)}
}

// Forward returns the output for x with zero initial states; see
// [LSTM.ForwardState].
func (m *LSTM) Forward(x *nabla.Tensor) *nabla.Tensor {
	out, _, _ := m.ForwardState(x, nil, nil)
	return out
}

// ForwardState returns the output and the final states h_n and c_n for x
// and the initial states h0 and c0, each of shape (num_layers·D, B, H)
// (or (num_layers·D, H) for an unbatched x); nil means zeros. It panics
// with a *nabla.ShapeError naming the module if a shape does not fit.
func (m *LSTM) ForwardState(x, h0, c0 *nabla.Tensor) (out, hn, cn *nabla.Tensor) {
	return m.run(x, h0, c0, func(proj *nabla.Tensor, tAx int, whh, _ *nabla.Tensor, h, c *nabla.Tensor, reverse bool) ([]*nabla.Tensor, *nabla.Tensor, *nabla.Tensor) {
		return nabla.LSTMLayer(proj, tAx, whh, h, c, reverse)
	})
}

// GRU is a multi-layer gated recurrent unit network, as torch.nn.GRU,
// with PyTorch's gates r, z, n:
//
//	r = σ(x·W_irᵀ + b_ir + h·W_hrᵀ + b_hr);  z = σ(...)
//	n = tanh(x·W_inᵀ + b_in + r·(h·W_hnᵀ + b_hn));  h' = (1 - z)·n + z·h
//
// Input and output are laid out as for [RNN]. The time loop is that of
// [LSTM], with [nabla.GRULayer].
type GRU struct{ recurrent }

// NewGRU returns a GRU from in features to hidden units, initialised as
// [NewRNN] does. Nonlinearity must be unset.
func NewGRU(rng *rand.Rand, in, hidden int, o RNNOptions) *GRU {
	return &GRU{newRecurrent(rng, "GRU", 3, in, hidden, o)}
}

// Forward returns the output for x with zero initial states; see
// [GRU.ForwardState].
func (m *GRU) Forward(x *nabla.Tensor) *nabla.Tensor {
	out, _ := m.ForwardState(x, nil)
	return out
}

// ForwardState returns the output and the final hidden states h_n for x
// and the initial states h0, as [RNN.ForwardState].
func (m *GRU) ForwardState(x, h0 *nabla.Tensor) (out, hn *nabla.Tensor) {
	out, hn, _ = m.run(x, h0, nil, func(proj *nabla.Tensor, tAx int, whh, bhh *nabla.Tensor, h, _ *nabla.Tensor, reverse bool) ([]*nabla.Tensor, *nabla.Tensor, *nabla.Tensor) {
		hs, hn := nabla.GRULayer(proj, tAx, whh, bhh, h, reverse)
		return hs, hn, nil
	})
	return out, hn
}
