package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/nabla-go/nabla"
)

// cell is what RNNCell, LSTMCell and GRUCell share: one step's weights,
// named weight_ih (gates·H, in), weight_hh (gates·H, H), bias_ih and
// bias_hh (gates·H) as in PyTorch.
type cell struct {
	kind                  string
	gates                 int
	inputSize, hiddenSize int
	relu                  bool

	WeightIH, WeightHH *nabla.Tensor // weight_ih, weight_hh
	BiasIH, BiasHH     *nabla.Tensor // bias_ih, bias_hh; nil without bias
}

func newCell(rng *rand.Rand, kind string, gates, in, hidden int, bias bool) cell {
	if in <= 0 || hidden <= 0 {
		panic(&nabla.ValueError{Op: "nn.New" + kind, Reason: fmt.Sprintf("sizes must be positive, got input_size=%d hidden_size=%d", in, hidden)})
	}
	c := cell{kind: kind, gates: gates, inputSize: in, hiddenSize: hidden}
	bound := 1 / math.Sqrt(float64(hidden))
	c.WeightIH = Uniform(rng, nabla.Zeros(gates*hidden, in), -bound, bound).RequireGrad()
	c.WeightHH = Uniform(rng, nabla.Zeros(gates*hidden, hidden), -bound, bound).RequireGrad()
	if bias {
		c.BiasIH = Uniform(rng, nabla.Zeros(gates*hidden), -bound, bound).RequireGrad()
		c.BiasHH = Uniform(rng, nabla.Zeros(gates*hidden), -bound, bound).RequireGrad()
	}
	return c
}

// String describes the cell as PyTorch prints it, e.g. "LSTMCell(10, 20)".
func (c *cell) String() string {
	s := fmt.Sprintf("%s(%d, %d", c.kind, c.inputSize, c.hiddenSize)
	if c.BiasIH == nil {
		s += ", bias=False"
	}
	if c.relu {
		s += ", nonlinearity='relu'"
	}
	return s + ")"
}

// Params returns weight_ih, weight_hh and, with bias, bias_ih and bias_hh.
func (c *cell) Params() []Param {
	return params(Param{"weight_ih", c.WeightIH}, Param{"weight_hh", c.WeightHH}, Param{"bias_ih", c.BiasIH}, Param{"bias_hh", c.BiasHH})
}

// SetParam replaces the parameter called name; see [ParamSetter].
func (c *cell) SetParam(name string, t *nabla.Tensor) {
	switch name {
	case "weight_ih":
		replace(c.String(), name, &c.WeightIH, t)
	case "weight_hh":
		replace(c.String(), name, &c.WeightHH, t)
	case "bias_ih":
		replace(c.String(), name, &c.BiasIH, t)
	case "bias_hh":
		replace(c.String(), name, &c.BiasHH, t)
	default:
		unknownParam(c.String(), name)
	}
}

// prepare checks the input x, (B, in) or unbatched (in), and the states,
// each (B, H) or (H) to match, or nil for zeros (which it fills in); it
// returns x batched, the states batched in place, and whether x was
// unbatched.
func (c *cell) prepare(x *nabla.Tensor, states ...**nabla.Tensor) (*nabla.Tensor, bool) {
	unbatched := x.Dim() == 1
	if (x.Dim() != 1 && x.Dim() != 2) || x.Size(-1) != c.inputSize {
		panic(shapeErr(c.String(), x, "want input (B, %d) or unbatched (%d)", c.inputSize, c.inputSize))
	}
	if unbatched {
		x = x.Unsqueeze(0)
	}
	b := x.Size(0)
	for i, s := range states {
		if *s == nil {
			*s = nabla.FullOf(c.WeightIH.DType(), 0, b, c.hiddenSize)
			continue
		}
		st := *s
		if unbatched && st.Dim() == 1 {
			st = st.Unsqueeze(0)
		}
		if !slices.Equal(st.Shape(), []int{b, c.hiddenSize}) {
			want := fmt.Sprintf("(%d, %d)", b, c.hiddenSize)
			if unbatched {
				want = fmt.Sprintf("(%d)", c.hiddenSize)
			}
			panic(&nabla.ShapeError{Op: c.String(), Shapes: [][]int{x.Shape(), (*s).Shape()}, Reason: fmt.Sprintf("state %d must have shape %s", i, want)})
		}
		*s = st
	}
	return x, unbatched
}

// project returns x·W_ihᵀ + b_ih and h·W_hhᵀ, plus b_hh if withBHH (the
// GRU's fused op takes b_hh itself).
func (c *cell) project(x, h *nabla.Tensor, withBHH bool) (gi, gh *nabla.Tensor) {
	gi = x.MatMul(c.WeightIH.T())
	gh = h.MatMul(c.WeightHH.T())
	if c.BiasIH != nil {
		gi = gi.Add(c.BiasIH)
		if withBHH {
			gh = gh.Add(c.BiasHH)
		}
	}
	return gi, gh
}

func unbatch(t *nabla.Tensor, unbatched bool) *nabla.Tensor {
	if unbatched {
		return t.Squeeze(0)
	}
	return t
}

// RNNCell is one step of an Elman RNN, as torch.nn.RNNCell:
// h' = tanh(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh), or relu.
type RNNCell struct{ cell }

// NewRNNCell returns an RNNCell initialised as PyTorch does (every
// parameter from U(-1/√hidden, 1/√hidden), float32, drawn from rng), with
// biases if bias is true and relu instead of tanh if relu is true.
func NewRNNCell(rng *rand.Rand, in, hidden int, bias, relu bool) *RNNCell {
	c := &RNNCell{newCell(rng, "RNNCell", 1, in, hidden, bias)}
	c.relu = relu
	return c
}

// Forward returns the next state from a zero state; see [RNNCell.Step].
func (c *RNNCell) Forward(x *nabla.Tensor) *nabla.Tensor { return c.Step(x, nil) }

// Step returns the next hidden state for the input x, (B, in) or
// unbatched (in), and the state h, (B, H) or (H), or nil for zeros. It
// panics with a *nabla.ShapeError naming the cell if a shape does not fit.
func (c *RNNCell) Step(x, h *nabla.Tensor) *nabla.Tensor {
	x, un := c.prepare(x, &h)
	gi, gh := c.project(x, h, true)
	a := gi.Add(gh)
	if c.relu {
		return unbatch(a.Relu(), un)
	}
	return unbatch(a.Tanh(), un)
}

// LSTMCell is one step of an LSTM, as torch.nn.LSTMCell, computed with
// the fused [nabla.LSTMCellGates].
type LSTMCell struct{ cell }

// NewLSTMCell returns an LSTMCell initialised as [NewRNNCell] does.
func NewLSTMCell(rng *rand.Rand, in, hidden int, bias bool) *LSTMCell {
	return &LSTMCell{newCell(rng, "LSTMCell", 4, in, hidden, bias)}
}

// Forward returns the next hidden state h' from zero states; see
// [LSTMCell.Step] for the cell state too.
func (c *LSTMCell) Forward(x *nabla.Tensor) *nabla.Tensor {
	h, _ := c.Step(x, nil, nil)
	return h
}

// Step returns the next hidden and cell states for the input x, (B, in)
// or unbatched (in), and the states h and c, (B, H) or (H), nil for zeros.
// It panics with a *nabla.ShapeError naming the cell if a shape does not
// fit.
func (c *LSTMCell) Step(x, h, cs *nabla.Tensor) (h2, c2 *nabla.Tensor) {
	x, un := c.prepare(x, &h, &cs)
	gi, gh := c.project(x, h, true)
	s := nabla.LSTMCellGates(gi, gh, cs)
	return unbatch(s.Index(0, 0), un), unbatch(s.Index(0, 1), un)
}

// GRUCell is one step of a GRU, as torch.nn.GRUCell, computed with the
// fused [nabla.GRUCellGates].
type GRUCell struct{ cell }

// NewGRUCell returns a GRUCell initialised as [NewRNNCell] does.
func NewGRUCell(rng *rand.Rand, in, hidden int, bias bool) *GRUCell {
	return &GRUCell{newCell(rng, "GRUCell", 3, in, hidden, bias)}
}

// Forward returns the next state from a zero state; see [GRUCell.Step].
func (c *GRUCell) Forward(x *nabla.Tensor) *nabla.Tensor { return c.Step(x, nil) }

// Step returns the next hidden state for the input x, (B, in) or
// unbatched (in), and the state h, (B, H) or (H), or nil for zeros. It
// panics with a *nabla.ShapeError naming the cell if a shape does not fit.
func (c *GRUCell) Step(x, h *nabla.Tensor) *nabla.Tensor {
	x, un := c.prepare(x, &h)
	gi, gh := c.project(x, h, false)
	return unbatch(nabla.GRUCellGates(gi, gh, h, c.BiasHH), un)
}
