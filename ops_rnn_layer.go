package nabla

import (
	"strconv"

	"github.com/nabla-go/nabla/internal/kernel"
)

// This file holds the time loops of nn.LSTM, nn.GRU and nn.RNN: one node
// per step, "LSTMStep", "GRUStep" or "RNNStep", which computes the
// recurrent product h·W_hhᵀ and the gate arithmetic in one op.
//
// Why the loop lives here and not in package nn: every step reads its
// slice of the input projection (T·B rows, computed by one GEMM) and the
// same W_hh. Built from ordinary ops, each step's backward would return a
// gradient of the whole projection (a zeroed tensor with one slice filled)
// and of the whole W_hh, and autograd would add T of them: O(T²·B·H)
// work and allocation, which dominated a training step (the profile of
// the 2-layer, hidden-256, context-64 language model: 60 % in clearing and
// adding those tensors). Here, in a backward pass that is not recorded,
// each step writes its slice of the projection's gradient into a buffer
// the loop owns, and the first step forms W_hh's (and b_hh's) gradient
// from the whole buffer and returns them all once; the first step is the
// one a backward pass always reaches last: every step's state is the
// input of the next, so the steps run backward in reverse order, and a
// step that gets a gradient passes one to the step before it. A recorded backward pass
// (CreateGraph) returns ordinary op-built gradients from every step, so
// higher orders hold.

// rnnLoop is the state one layer's steps share: the buffers their
// gradients go to during a backward pass.
//
// Every step's gradient of its pre-activations is written into its slot
// of pbuf, which is then the gradient of the projection (for the GRU,
// whose recurrent pre-activations get a different gradient, those go to
// ghbuf). W_hh's gradient, Σ_t da_tᵀ·h_{t-1}, is then one product over
// all the steps, DAᵀ·H_prev with T·B rows, formed by the first step (the
// last one the pass reaches) instead of T products of B rows that each
// read and write the whole (G·H, H) gradient. The recurrent products of
// the steps, h·W_hhᵀ forward and da·W_hh backward, read W_hh packed once
// per pass into GEMM's panels (float32, batches of rnnPackedRows or more)
// or, otherwise, as stored and transposed once per pass (whhT), so that
// GEMM does not pack W_hh again at every step.
type rnnLoop struct {
	proj, whh, bhh *Tensor
	tAx            int
	pc             *Tensor // proj, copied once if its columns are not adjacent
	// prev holds, when W_hh wants a gradient, the contiguous state each
	// step read: its first B·H values are h_{t-1}.
	prev []*Tensor
	// pbuf, ghbuf and whhT live during one backward pass (nil between).
	pbuf, ghbuf, whhT *Tensor
	// In float32 with at least rnnPackedRows rows, the recurrent products
	// read W_hh packed once into GEMM panels: fwd for h·W_hhᵀ in the
	// forward pass, bwd for da·W_hh in a backward pass.
	fwd, bwd *kernel.PackedBF32
	gh       *Tensor // scratch for the forward steps' recurrent products
}

// rnnPackedRows is the least batch size for which the recurrent products
// run on W_hh packed once per pass (GemmPackedF32) rather than unpacked.
var rnnPackedRows = 8

// recurrentGemm sets c (b×n) = a·op(W) + beta·c, with W packed in pk when
// pk is not nil (float32), otherwise from w as gemmT reads it with tb.
func recurrentGemm[T float32 | float64](pk *kernel.PackedBF32, tb bool, b, n, k int, a []T, lda int, w []T, ldw int, beta T, c []T, ldc int) {
	if pk != nil {
		kernel.GemmPackedF32(b, 1, any(a).([]float32), lda, pk, float32(beta), any(c).([]float32), ldc)
		return
	}
	gemmT(false, tb, b, n, k, a, lda, w, ldw, beta, c, ldc)
}

func newLoop(proj *Tensor, tAx int, whh, bhh *Tensor) *rnnLoop {
	l := &rnnLoop{proj: proj, whh: whh, bhh: bhh, tAx: tAx, pc: proj}
	if proj.strides[2] != 1 {
		l.pc = proj.contiguous()
	}
	if wantsGrad(whh) && !proj.noGraph && !whh.noGraph {
		l.prev = make([]*Tensor, proj.shape[tAx])
	}
	if whh.dtype == Float32 && proj.shape[1-tAx] >= rnnPackedRows && proj.shape[tAx] > 1 {
		// h·W_hhᵀ: op(B) = W_hhᵀ, (H, G·H)
		wc := whh.contiguous()
		l.fwd = kernel.PackBF32(true, whh.shape[1], whh.shape[0], rnnData[float32](wc), whh.shape[1])
	}
	return l
}

// begin allocates the backward pass's buffers, on its first step: pbuf
// (and ghbuf for the GRU) zeroed, as the slots of steps that get no
// gradient must be, and W_hh transposed.
func (l *rnnLoop) begin(gru bool) {
	if l.pbuf != nil {
		return
	}
	mk := func() *Tensor {
		t := newTensor(l.proj.dtype, append([]int(nil), l.proj.shape...))
		t.noGraph = true
		return t
	}
	l.pbuf = mk()
	if gru {
		l.ghbuf = mk()
	}
	g, h := l.whh.shape[0], l.whh.shape[1]
	wc := l.whh.contiguous()
	if l.fwd != nil {
		// da·W_hh: op(B) = W_hh, (G·H, H)
		l.bwd = kernel.PackBF32(false, g, h, rnnData[float32](wc), h)
		return
	}
	l.whhT = newTensor(l.whh.dtype, []int{h, g})
	if l.whh.dtype == Float64 {
		kernel.Transpose(l.whhT.f64, g, rnnData[float64](wc), h, g, h)
	} else {
		kernel.Transpose(l.whhT.f32, g, rnnData[float32](wc), h, g, h)
	}
}

// scratch returns the loop's buffer of n elements for a step's recurrent
// product, which the step uses up before the next one runs.
func scratch[T float32 | float64](l *rnnLoop, n int) []T {
	if l.gh == nil || l.gh.Len() < n {
		l.gh = newShared(l.pc.arena, l.pc.dtype, []int{n}, []int{1})
	}
	return rnnData[T](l.gh)[:n]
}

// whhTData returns W_hh transposed as begin made it (nil when packed).
func whhTData[T float32 | float64](l *rnnLoop) []T {
	if l.whhT == nil {
		return nil
	}
	return rnnData[T](l.whhT)
}

// finish ends a backward pass, at its last step (the first in time): it
// returns the gradients of the projection, of W_hh and of b_hh (GRU), nil
// for those not wanted, and releases the buffers.
func (l *rnnLoop) finish() (dproj, dwhh, dbhh *Tensor) {
	da := l.pbuf
	if l.ghbuf != nil {
		da = l.ghbuf
	}
	if wantsGrad(l.whh) && l.prev != nil {
		dwhh = newTensor(l.whh.dtype, []int{l.whh.shape[0], l.whh.shape[1]})
		dwhh.noGraph = true
		if da.dtype == Float64 {
			loopWeightGrad(l, rnnData[float64](dwhh), rnnData[float64](da))
		} else {
			loopWeightGrad(l, rnnData[float32](dwhh), rnnData[float32](da))
		}
	}
	if l.bhh != nil && wantsGrad(l.bhh) {
		// b_hh's gradient: the column sums of every step's rows.
		dbhh = da.Reshape(-1, da.shape[2]).Sum(0)
		dbhh.noGraph = true
	}
	if wantsGrad(l.proj) {
		dproj = l.pbuf
	}
	l.pbuf, l.ghbuf, l.whhT, l.bwd = nil, nil, nil, nil
	return dproj, dwhh, dbhh
}

// loopWeightGrad sets dw (G·H, H) to DAᵀ·H_prev, da being the (T·B, G·H)
// gradients of the recurrent pre-activations in the projection's layout
// and H_prev the states the steps read, gathered in the same row order.
func loopWeightGrad[T float32 | float64](l *rnnLoop, dw, da []T) {
	tAx := l.tAx
	steps, b := l.proj.shape[tAx], l.proj.shape[1-tAx]
	g, h := l.whh.shape[0], l.whh.shape[1]
	hp := make([]T, steps*b*h)
	for t, s := range l.prev {
		src := rnnData[T](s)
		for r := range b {
			row := t*b + r
			if tAx == 1 {
				row = r*steps + t
			}
			copy(hp[row*h:(row+1)*h], src[r*h:(r+1)*h])
		}
	}
	gemmT(true, false, g, h, steps*b, da, g, hp, h, 0, dw, h)
}

// gradRows returns the rows of step t in buf, and a row stride that GEMM
// accepts (any stride is fine for a single row).
func gradRows[T float32 | float64](buf *Tensor, tAx, t, width int) (rows[T], int) {
	s := slot[T](buf, tAx, t)
	return s, max(s.ld, width)
}

func checkLoop(op string, proj *Tensor, tAx int, whh *Tensor, gates int) (b, h int) {
	if len(proj.shape) != 3 || (tAx != 0 && tAx != 1) || len(whh.shape) != 2 || whh.shape[0] != gates*whh.shape[1] || proj.shape[2] != whh.shape[0] {
		panicShape(op, "want projections (T, B, "+strconv.Itoa(gates)+"H) or (B, T, "+strconv.Itoa(gates)+"H) with time axis 0 or 1 and W_hh ("+strconv.Itoa(gates)+"H, H)", proj.shape, whh.shape)
	}
	if proj.shape[tAx] == 0 {
		panicShape(op, "no time steps", proj.shape)
	}
	return proj.shape[1-tAx], whh.shape[1]
}

// slot returns the rows of step t of the contiguous-columns projection p.
func slot[T float32 | float64](p *Tensor, tAx, t int) rows[T] {
	var data []T
	switch d := any(&data).(type) {
	case *[]float32:
		*d = p.f32
	case *[]float64:
		*d = p.f64
	}
	ld := p.strides[1-tAx]
	if p.shape[1-tAx] <= 1 {
		ld = 0
	}
	return rows[T]{data: data, off: p.offset + t*p.strides[tAx], ld: ld}
}

func rnnData[T float32 | float64](t *Tensor) []T {
	return storage[T](t)[t.offset : t.offset+t.Len()]
}

// gemmT is C = alpha·op(A)·op(B) + beta·C for either float type.
func gemmT[T float32 | float64](ta, tb bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	switch c := any(c).(type) {
	case []float32:
		kernel.GemmF32(ta, tb, m, n, k, 1, any(a).([]float32), lda, any(b).([]float32), ldb, float32(beta), c, ldc)
	case []float64:
		kernel.GemmF64(ta, tb, m, n, k, 1, any(a).([]float64), lda, any(b).([]float64), ldb, float64(beta), c, ldc)
	}
}

// LSTMLayer runs one direction of one LSTM layer over the time steps, as
// torch.nn.LSTM does: proj holds x·W_ihᵀ + b_ih + b_hh of every step,
// (T, B, 4H) with tAx = 0 or (B, T, 4H) with tAx = 1 (gates i, f, g, o);
// whh is W_hh, (4H, H); h0 and c0 are the (B, H) initial states. With
// reverse the steps run from the last to the first. It returns the hidden
// state of every step, in time order, and the final states.
//
// Each step is one node ("LSTMStep") that computes h·W_hhᵀ and the gates
// of [LSTMCellGates]; see this file's comment for how the backward pass
// avoids adding T whole-sized gradients. It panics with a *ShapeError if
// the shapes do not fit.
func LSTMLayer(proj *Tensor, tAx int, whh, h0, c0 *Tensor, reverse bool) (hs []*Tensor, hn, cn *Tensor) {
	b, h := checkLoop("LSTMLayer", proj, tAx, whh, 4)
	for _, s := range []*Tensor{h0, c0} {
		if len(s.shape) != 2 || s.shape[0] != b || s.shape[1] != h {
			panicShape("LSTMLayer", "initial states must be (B, H) = ("+strconv.Itoa(b)+", "+strconv.Itoa(h)+")", proj.shape, s.shape)
		}
	}
	dt := promote(proj.dtype, whh.dtype)
	proj, whh = proj.To(dt), whh.To(dt)
	l := newLoop(proj, tAx, whh, nil)
	s := Stack([]*Tensor{h0.To(dt), c0.To(dt)}, 0)
	T := proj.shape[tAx]
	hs = make([]*Tensor, T)
	for k := 0; k < T; k++ {
		t := k
		if reverse {
			t = T - 1 - k
		}
		s = lstmStep(l, s, t, k == 0, b, h)
		hs[t] = s.Index(0, 0)
	}
	return hs, s.Index(0, 0), s.Index(0, 1)
}

func lstmStep(l *rnnLoop, sPrev *Tensor, t int, first bool, b, h int) *Tensor {
	wc, sc := l.whh.contiguous(), sPrev.contiguous()
	if l.prev != nil {
		l.prev[t] = sc
	}
	dt := l.pc.dtype
	out := newShared(l.pc.arena, dt, []int{2, b, h}, []int{b * h, h, 1})
	var saved lstmSaved
	saved.b, saved.h = b, h
	if dt == Float64 {
		saved.f64 = newShared(l.pc.arena, dt, []int{b * 5 * h}, []int{1}).f64
		lstmStepForward(l, out.f64, saved.f64, slot[float64](l.pc, l.tAx, t), rnnData[float64](wc), rnnData[float64](sc), b, h)
	} else {
		saved.f32 = newShared(l.pc.arena, dt, []int{b * 5 * h}, []int{1}).f32
		lstmStepForward(l, out.f32, saved.f32, slot[float32](l.pc, l.tAx, t), rnnData[float32](wc), rnnData[float32](sc), b, h)
	}
	return record("LSTMStep", out, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		if !g.noGraph {
			return lstmStepGradOps(g, in[0], in[1], in[2], l.tAx, t)
		}
		if g.dtype != dt {
			g = g.To(dt)
		}
		gc := g.contiguous()
		ds := newShared(g.arena, dt, []int{2, b, h}, []int{b * h, h, 1})
		ds.noGraph = true
		l.begin(false)
		if dt == Float64 {
			lstmStepBackward(l, ds.f64, rnnData[float64](gc), saved.f64, rnnData[float64](sc), t, b, h)
		} else {
			lstmStepBackward(l, ds.f32, rnnData[float32](gc), saved.f32, rnnData[float32](sc), t, b, h)
		}
		if !first {
			return []*Tensor{nil, ds, nil}
		}
		dp, dw, _ := l.finish()
		return []*Tensor{dp, ds, dw}
	}, l.proj, sPrev, l.whh)
}

func lstmStepForward[T float32 | float64](l *rnnLoop, out, saved []T, gi rows[T], whh, s []T, b, h int) {
	gh := scratch[T](l, b*4*h)
	recurrentGemm(l.fwd, true, b, 4*h, h, s[:b*h], h, whh, h, 0, gh, 4*h)
	lstmForward(out, saved, gi, rows[T]{data: gh, ld: 4 * h}, rows[T]{data: s[b*h:], ld: h}, b, h)
}

// lstmStepBackward writes step t's gradient of the pre-activations into
// its slot of l.pbuf and sets ds to the gradient of the previous state.
func lstmStepBackward[T float32 | float64](l *rnnLoop, ds, g, saved, s []T, t, b, h int) {
	da, lda := gradRows[T](l.pbuf, l.tAx, t, 4*h)
	lstmBackward(da, ds[b*h:], g, saved, rows[T]{data: s[b*h:], ld: h}, b, h)
	recurrentGemm(l.bwd, true, b, h, 4*h, da.data[da.off:], lda, whhTData[T](l), 4*h, 0, ds[:b*h], h) // dh = da·W_hh
}

// lstmStepGradOps is an LSTMStep's backward rule written with ops, for a
// recorded backward pass.
func lstmStepGradOps(g, proj, s, whh *Tensor, tAx, t int) []*Tensor {
	hp, cp := s.Index(0, 0), s.Index(0, 1)
	gh := hp.MatMul(whh.T())
	da, dc := lstmGradOps(g, proj.Index(tAx, t), gh, cp)
	dproj := sliceBackward(da.Unsqueeze(tAx), proj.shape, tAx, t, t+1, 1)
	ds := Stack([]*Tensor{da.MatMul(whh), dc}, 0)
	return []*Tensor{dproj, ds, da.T().MatMul(hp)}
}

// GRULayer runs one direction of one GRU layer over the time steps, as
// torch.nn.GRU does: proj holds x·W_ihᵀ + b_ih of every step, (T, B, 3H)
// with tAx = 0 or (B, T, 3H) with tAx = 1 (gates r, z, n); whh is W_hh,
// (3H, H), and bhh b_hh, (3H) or nil; h0 is the (B, H) initial state. It
// returns the hidden state of every step, in time order, and the final
// state. Each step is one node ("GRUStep") that computes h·W_hhᵀ and the
// gates of [GRUCellGates], with the backward pass of [LSTMLayer]. It
// panics with a *ShapeError if the shapes do not fit.
func GRULayer(proj *Tensor, tAx int, whh, bhh, h0 *Tensor, reverse bool) (hs []*Tensor, hn *Tensor) {
	b, h := checkLoop("GRULayer", proj, tAx, whh, 3)
	if len(h0.shape) != 2 || h0.shape[0] != b || h0.shape[1] != h {
		panicShape("GRULayer", "the initial state must be (B, H) = ("+strconv.Itoa(b)+", "+strconv.Itoa(h)+")", proj.shape, h0.shape)
	}
	if bhh != nil && (len(bhh.shape) != 1 || bhh.shape[0] != 3*h) {
		panicShape("GRULayer", "b_hh must be (3H)", whh.shape, bhh.shape)
	}
	dt := promote(proj.dtype, whh.dtype)
	proj, whh = proj.To(dt), whh.To(dt)
	if bhh != nil {
		bhh = bhh.To(dt)
	}
	l := newLoop(proj, tAx, whh, bhh)
	hc := h0.To(dt)
	T := proj.shape[tAx]
	hs = make([]*Tensor, T)
	for k := 0; k < T; k++ {
		t := k
		if reverse {
			t = T - 1 - k
		}
		hc = gruStep(l, hc, t, k == 0, b, h)
		hs[t] = hc
	}
	return hs, hc
}

func gruStep(l *rnnLoop, hPrev *Tensor, t int, first bool, b, n int) *Tensor {
	wc, hc := l.whh.contiguous(), hPrev.contiguous()
	if l.prev != nil {
		l.prev[t] = hc
	}
	dt := l.pc.dtype
	out := newShared(l.pc.arena, dt, []int{b, n}, []int{n, 1})
	var s32 []float32
	var s64 []float64
	if dt == Float64 {
		s64 = newShared(l.pc.arena, dt, []int{b * 4 * n}, []int{1}).f64
		gruStepForward(l, out.f64, s64, slot[float64](l.pc, l.tAx, t), rnnData[float64](wc), biasOf[float64](l.bhh), rnnData[float64](hc), b, n)
	} else {
		s32 = newShared(l.pc.arena, dt, []int{b * 4 * n}, []int{1}).f32
		gruStepForward(l, out.f32, s32, slot[float32](l.pc, l.tAx, t), rnnData[float32](wc), biasOf[float32](l.bhh), rnnData[float32](hc), b, n)
	}
	return record("GRUStep", out, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		if !g.noGraph {
			return gruStepGradOps(g, in[0], in[1], in[2], in[3], l.tAx, t)
		}
		if g.dtype != dt {
			g = g.To(dt)
		}
		gc := g.contiguous()
		dh := newShared(g.arena, dt, []int{b, n}, []int{n, 1})
		dh.noGraph = true
		l.begin(true)
		if dt == Float64 {
			gruStepBackward(l, dh.f64, rnnData[float64](gc), s64, rnnData[float64](hc), t, b, n)
		} else {
			gruStepBackward(l, dh.f32, rnnData[float32](gc), s32, rnnData[float32](hc), t, b, n)
		}
		if !first {
			return []*Tensor{nil, dh, nil, nil}
		}
		dp, dw, db := l.finish()
		return []*Tensor{dp, dh, dw, db}
	}, l.proj, hPrev, l.whh, l.bhh)
}

func gruStepForward[T float32 | float64](l *rnnLoop, out, saved []T, gi rows[T], whh, bias, hp []T, b, n int) {
	gh := scratch[T](l, b*3*n)
	recurrentGemm(l.fwd, true, b, 3*n, n, hp, n, whh, n, 0, gh, 3*n)
	gruForward(out, saved, gi, rows[T]{data: gh, ld: 3 * n}, rows[T]{data: hp, ld: n}, bias, b, n)
}

// gruStepBackward writes step t's gradients of the input and recurrent
// pre-activations into its slots of l.pbuf and l.ghbuf and sets dh to the
// gradient of the previous state.
func gruStepBackward[T float32 | float64](l *rnnLoop, dh, g, saved, hp []T, t, b, n int) {
	dgi, _ := gradRows[T](l.pbuf, l.tAx, t, 3*n)
	dgh, ldh := gradRows[T](l.ghbuf, l.tAx, t, 3*n)
	gruBackward(dgi, dgh, dh, g, saved, rows[T]{data: hp, ld: n}, b, n)
	recurrentGemm(l.bwd, true, b, n, 3*n, dgh.data[dgh.off:], ldh, whhTData[T](l), 3*n, 1, dh, n) // dh += dgh·W_hh
}

// gruStepGradOps is a GRUStep's backward rule written with ops, for a
// recorded backward pass.
func gruStepGradOps(g, proj, hp, whh, bhh *Tensor, tAx, t int) []*Tensor {
	gh := hp.MatMul(whh.T())
	dgi, dgh, dh := gruGradOps(g, proj.Index(tAx, t), gh, hp, bhh)
	dproj := sliceBackward(dgi.Unsqueeze(tAx), proj.shape, tAx, t, t+1, 1)
	var db *Tensor
	if bhh != nil {
		db = dgh.Sum(0)
	}
	return []*Tensor{dproj, dh.Add(dgh.MatMul(whh)), dgh.T().MatMul(hp), db}
}

// RNNLayer runs one direction of one Elman RNN layer over the time steps,
// as torch.nn.RNN does: h_t = tanh(proj_t + h_{t-1}·W_hhᵀ), or relu,
// where proj holds x·W_ihᵀ + b_ih + b_hh of every step, (T, B, H) with
// tAx = 0 or (B, T, H) with tAx = 1, and whh is W_hh, (H, H). It returns
// the hidden state of every step, in time order, and the final state.
// Each step is one node ("RNNStep"), with the backward pass of
// [LSTMLayer]. It panics with a *ShapeError if the shapes do not fit.
func RNNLayer(proj *Tensor, tAx int, whh, h0 *Tensor, relu, reverse bool) (hs []*Tensor, hn *Tensor) {
	b, h := checkLoop("RNNLayer", proj, tAx, whh, 1)
	if len(h0.shape) != 2 || h0.shape[0] != b || h0.shape[1] != h {
		panicShape("RNNLayer", "the initial state must be (B, H) = ("+strconv.Itoa(b)+", "+strconv.Itoa(h)+")", proj.shape, h0.shape)
	}
	dt := promote(proj.dtype, whh.dtype)
	proj, whh = proj.To(dt), whh.To(dt)
	l := newLoop(proj, tAx, whh, nil)
	hc := h0.To(dt)
	T := proj.shape[tAx]
	hs = make([]*Tensor, T)
	for k := 0; k < T; k++ {
		t := k
		if reverse {
			t = T - 1 - k
		}
		hc = rnnStep(l, hc, t, k == 0, relu, b, h)
		hs[t] = hc
	}
	return hs, hc
}

func rnnStep(l *rnnLoop, hPrev *Tensor, t int, first, relu bool, b, n int) *Tensor {
	wc, hc := l.whh.contiguous(), hPrev.contiguous()
	if l.prev != nil {
		l.prev[t] = hc
	}
	dt := l.pc.dtype
	out := newShared(l.pc.arena, dt, []int{b, n}, []int{n, 1})
	if dt == Float64 {
		rnnStepForward(l, out.f64, slot[float64](l.pc, l.tAx, t), rnnData[float64](wc), rnnData[float64](hc), relu, b, n)
	} else {
		rnnStepForward(l, out.f32, slot[float32](l.pc, l.tAx, t), rnnData[float32](wc), rnnData[float32](hc), relu, b, n)
	}
	return record("RNNStep", out, func(g, y *Tensor, in []*Tensor) []*Tensor {
		if !g.noGraph {
			a := in[0].Index(l.tAx, t).Add(in[1].MatMul(in[2].T()))
			var da *Tensor
			if relu {
				da = g.Mul(a.Greater(ZerosLike(a)).To(a.dtype))
			} else {
				yy := a.Tanh()
				da = g.Mul(OnesLike(yy).Sub(yy.Square()))
			}
			dproj := sliceBackward(da.Unsqueeze(l.tAx), in[0].shape, l.tAx, t, t+1, 1)
			return []*Tensor{dproj, da.MatMul(in[2]), da.T().MatMul(in[1])}
		}
		if g.dtype != dt {
			g = g.To(dt)
		}
		gc := g.contiguous()
		dh := newShared(g.arena, dt, []int{b, n}, []int{n, 1})
		dh.noGraph = true
		l.begin(false)
		if dt == Float64 {
			rnnStepBackward(l, dh.f64, rnnData[float64](gc), rnnData[float64](y), relu, t, b, n)
		} else {
			rnnStepBackward(l, dh.f32, rnnData[float32](gc), rnnData[float32](y), relu, t, b, n)
		}
		if !first {
			return []*Tensor{nil, dh, nil}
		}
		dp, dw, _ := l.finish()
		return []*Tensor{dp, dh, dw}
	}, l.proj, hPrev, l.whh)
}

func rnnStepForward[T float32 | float64](l *rnnLoop, out []T, gi rows[T], whh, hp []T, relu bool, b, n int) {
	recurrentGemm(l.fwd, true, b, n, n, hp, n, whh, n, 0, out, n)
	for r := 0; r < b; r++ {
		o, x := out[r*n:(r+1)*n], gi.row(r, n)
		for j := range o {
			o[j] += x[j]
		}
		if relu {
			for j, v := range o {
				o[j] = max(v, 0)
			}
		} else {
			tanhInto(o, o)
		}
	}
}

// rnnStepBackward writes step t's gradient of the pre-activation into its
// slot of l.pbuf and sets dh to the gradient of the previous state.
func rnnStepBackward[T float32 | float64](l *rnnLoop, dh, g, y []T, relu bool, t, b, n int) {
	da, lda := gradRows[T](l.pbuf, l.tAx, t, n)
	for r := range b {
		d, gr, yr := da.row(r, n), g[r*n:(r+1)*n], y[r*n:(r+1)*n]
		for i, v := range yr {
			if relu {
				d[i] = 0
				if v > 0 {
					d[i] = gr[i]
				}
			} else {
				d[i] = gr[i] * (1 - v*v)
			}
		}
	}
	recurrentGemm(l.bwd, true, b, n, n, da.data[da.off:], lda, whhTData[T](l), n, 0, dh, n) // dh = da·W_hh
}
