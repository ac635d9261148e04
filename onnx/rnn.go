package onnx

import (
	"github.com/nabla-go/nabla"
)

// This file holds the recurrent operators LSTM and GRU, unrolled over the
// sequence with nabla's MatMul and element-wise ops (so they train like
// the rest). The input projection of every step is one product over the
// whole sequence; each step then adds the recurrent one.

// rnnSetup reads what LSTM and GRU share: the layout, the direction, the
// sequence (as [S, B, I]) and the checks on what is not supported.
type rnnSetup struct {
	x        *nabla.Tensor // [S, B, I]
	dirs     []bool        // per direction: reverse?
	hidden   int
	batchDim bool // layout 1: [B, S, ...] inputs and outputs
}

func (c *ctx) rnn(in []value, gates int) rnnSetup {
	x := c.tensor(in, 0)
	if x.Dim() != 3 {
		fail("X must be 3-d, has shape %v", x.Shape())
	}
	s := rnnSetup{hidden: int(c.int("hidden_size", 0)), batchDim: c.int("layout", 0) == 1}
	if s.batchDim {
		x = x.Transpose(0, 1)
	}
	s.x = x
	switch d := c.str("direction", "forward"); d {
	case "forward":
		s.dirs = []bool{false}
	case "reverse":
		s.dirs = []bool{true}
	case "bidirectional":
		s.dirs = []bool{false, true}
	default:
		fail("direction %q is not supported", d)
	}
	if _, ok := c.n.attrs["activations"]; ok {
		fail("the activations attribute is not supported (only the default gates)")
	}
	if _, ok := c.n.attrs["clip"]; ok {
		fail("the clip attribute is not supported")
	}
	if c.int("input_forget", 0) != 0 {
		fail("input_forget is not supported")
	}
	w := c.tensor(in, 1)
	ws := w.Shape()
	if len(ws) != 3 || ws[0] != len(s.dirs) || ws[1] != gates*s.hidden || ws[2] != x.Shape()[2] || s.hidden <= 0 {
		fail("W has shape %v, want [%d %d %d]", ws, len(s.dirs), gates*s.hidden, x.Shape()[2])
	}
	if has(in, 4) {
		seq := c.intList(in, 4)
		for _, l := range seq {
			if l != int64(x.Shape()[0]) {
				fail("sequence_lens %v: only full-length sequences are supported", seq)
			}
		}
	}
	return s
}

// state returns the initial state input k for direction d, [B, H], or
// zeros.
func (c *ctx) rnnState(in []value, k, d int, s rnnSetup) *nabla.Tensor {
	b := s.x.Shape()[1]
	if !has(in, k) {
		return nabla.FullOf(s.x.DType(), 0, b, s.hidden)
	}
	h := in[k].tensorOf(s.x.DType())
	if s.batchDim {
		h = h.Transpose(0, 1)
	}
	if hs := h.Shape(); len(hs) != 3 || hs[0] != len(s.dirs) || hs[1] != b || hs[2] != s.hidden {
		fail("initial state %d has shape %v, want [%d %d %d]", k, hs, len(s.dirs), b, s.hidden)
	}
	return h.Index(0, d)
}

// rnnOutputs stacks per-direction results into Y [S, D, B, H] and the
// final states [D, B, H], in the node's layout.
func rnnOutputs(s rnnSetup, ys [][]*nabla.Tensor, finals ...[]*nabla.Tensor) []value {
	perDir := make([]*nabla.Tensor, len(ys))
	for d, y := range ys {
		perDir[d] = nabla.Stack(y, 0) // [S, B, H]
	}
	y := nabla.Stack(perDir, 1)
	if s.batchDim {
		y = y.Permute(2, 0, 1, 3)
	}
	out := []value{{t: y}}
	for _, f := range finals {
		st := nabla.Stack(f, 0)
		if s.batchDim {
			st = st.Transpose(0, 1)
		}
		out = append(out, value{t: st})
	}
	return out
}

// steps returns the time indices of a direction in the order it runs.
func steps(n int, reverse bool) []int {
	ts := make([]int, n)
	for i := range ts {
		ts[i] = i
		if reverse {
			ts[i] = n - 1 - i
		}
	}
	return ts
}

// opLSTM is ONNX's LSTM with gates in the order i, o, f, c and optional
// peepholes.
func opLSTM(c *ctx, in []value) []value {
	s := c.rnn(in, 4)
	h := s.hidden
	w, r := c.tensor(in, 1), c.tensor(in, 2)
	seq := s.x.Shape()[0]
	ys := make([][]*nabla.Tensor, len(s.dirs))
	var hs, cs []*nabla.Tensor
	for d, rev := range s.dirs {
		wd, rd := w.Index(0, d), r.Index(0, d)
		xw := s.x.MatMul(wd.T()) // [S, B, 4H]
		if has(in, 3) {
			b := in[3].tensorOf(s.x.DType()).Index(0, d)
			xw = xw.Add(b.Slice(0, 0, 4*h, 1).Add(b.Slice(0, 4*h, 8*h, 1)))
		}
		var p []*nabla.Tensor
		if has(in, 7) {
			p = in[7].tensorOf(s.x.DType()).Index(0, d).Split(0, h, h, h) // i, o, f
		}
		ht, ct := c.rnnState(in, 5, d, s), c.rnnState(in, 6, d, s)
		ys[d] = make([]*nabla.Tensor, seq)
		for _, t := range steps(seq, rev) {
			g := xw.Index(0, t).Add(ht.MatMul(rd.T())).Split(1, h, h, h, h)
			gi, gf := g[0], g[2]
			if p != nil {
				gi, gf = gi.Add(p[0].Mul(ct)), gf.Add(p[2].Mul(ct))
			}
			ct = gf.Sigmoid().Mul(ct).Add(gi.Sigmoid().Mul(g[3].Tanh()))
			go_ := g[1]
			if p != nil {
				go_ = go_.Add(p[1].Mul(ct))
			}
			ht = go_.Sigmoid().Mul(ct.Tanh())
			ys[d][t] = ht
		}
		hs, cs = append(hs, ht), append(cs, ct)
	}
	return rnnOutputs(s, ys, hs, cs)
}

// opGRU is ONNX's GRU with gates in the order z, r, h, and
// linear_before_reset as torch.onnx.export writes it (1) or not (0).
func opGRU(c *ctx, in []value) []value {
	s := c.rnn(in, 3)
	h := s.hidden
	w, r := c.tensor(in, 1), c.tensor(in, 2)
	lbr := c.int("linear_before_reset", 0) != 0
	seq := s.x.Shape()[0]
	ys := make([][]*nabla.Tensor, len(s.dirs))
	var hs []*nabla.Tensor
	for d, rev := range s.dirs {
		wd, rd := w.Index(0, d), r.Index(0, d)
		xw := s.x.MatMul(wd.T()) // [S, B, 3H]
		var rb *nabla.Tensor
		if has(in, 3) {
			b := in[3].tensorOf(s.x.DType()).Index(0, d)
			xw = xw.Add(b.Slice(0, 0, 3*h, 1))
			rb = b.Slice(0, 3*h, 6*h, 1)
		} else {
			rb = nabla.FullOf(s.x.DType(), 0, 3*h)
		}
		rbs := rb.Split(0, h, h, h)
		rzr, rh := rd.Slice(0, 0, 2*h, 1), rd.Slice(0, 2*h, 3*h, 1)
		ht := c.rnnState(in, 5, d, s)
		ys[d] = make([]*nabla.Tensor, seq)
		for _, t := range steps(seq, rev) {
			x := xw.Index(0, t).Split(1, h, h, h)
			zr := ht.MatMul(rzr.T()).Split(1, h, h)
			z := x[0].Add(zr[0]).Add(rbs[0]).Sigmoid()
			rr := x[1].Add(zr[1]).Add(rbs[1]).Sigmoid()
			var cand *nabla.Tensor
			if lbr {
				cand = x[2].Add(rr.Mul(ht.MatMul(rh.T()).Add(rbs[2]))).Tanh()
			} else {
				cand = x[2].Add(rr.Mul(ht).MatMul(rh.T())).Add(rbs[2]).Tanh()
			}
			ht = cand.Add(z.Mul(ht.Sub(cand))) // (1 - z)·h̃ + z·h
			ys[d][t] = ht
		}
		hs = append(hs, ht)
	}
	return rnnOutputs(s, ys, hs)
}
