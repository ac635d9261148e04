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
// each step adds its slice of the projection's gradient and its part of
// W_hh's (and b_hh's) gradient in place into buffers the loop owns, and
// returns them once, from the first step, which a backward pass always
// reaches last: every step's state is the input of the next, so the
// steps run backward in reverse order, and a step that gets a gradient
// passes one to the step before it. A recorded backward pass
// (CreateGraph) returns ordinary op-built gradients from every step, so
// higher orders hold.

// rnnLoop is the state one layer's steps share: the buffers their
// gradients accumulate in during a backward pass.
type rnnLoop struct {
	proj, whh, bhh *Tensor
	tAx            int
	pbuf, wbuf     *Tensor // gradients of proj and whh, nil between passes
	bbuf           *Tensor // gradient of bhh (GRU)
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

// accumulateSlot adds the (B, G) gradient d of step t into the buffer of
// the projection's gradient, allocated (zeroed, contiguous) on first use.
func accumulateSlot[T float32 | float64](l *rnnLoop, d []T, t, b, g int) {
	if l.pbuf == nil {
		l.pbuf = newTensor(l.proj.dtype, append([]int(nil), l.proj.shape...))
		l.pbuf.noGraph = true
	}
	s := slot[T](l.pbuf, l.tAx, t)
	for r := 0; r < b; r++ {
		dst := s.row(r, g)
		src := d[r*g : (r+1)*g]
		for j := range dst {
			dst[j] += src[j]
		}
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
	l := &rnnLoop{proj: proj, whh: whh, tAx: tAx}
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
	proj, whh := l.proj, l.whh
	if proj.strides[2] != 1 {
		proj = proj.contiguous()
	}
	wc, sc := whh.contiguous(), sPrev.contiguous()
	dt := proj.dtype
	out := newShared(proj.arena, dt, []int{2, b, h}, []int{b * h, h, 1})
	var saved lstmSaved
	saved.b, saved.h = b, h
	if dt == Float64 {
		saved.f64 = make([]float64, b*5*h)
		lstmStepForward(out.f64, saved.f64, slot[float64](proj, l.tAx, t), rnnData[float64](wc), rnnData[float64](sc), b, h)
	} else {
		saved.f32 = make([]float32, b*5*h)
		lstmStepForward(out.f32, saved.f32, slot[float32](proj, l.tAx, t), rnnData[float32](wc), rnnData[float32](sc), b, h)
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
		if dt == Float64 {
			lstmStepBackward(l, ds.f64, rnnData[float64](gc), saved.f64, rnnData[float64](wc), rnnData[float64](sc), t, b, h)
		} else {
			lstmStepBackward(l, ds.f32, rnnData[float32](gc), saved.f32, rnnData[float32](wc), rnnData[float32](sc), t, b, h)
		}
		if !first {
			return []*Tensor{nil, ds, nil}
		}
		pb, wb := l.pbuf, l.wbuf
		l.pbuf, l.wbuf = nil, nil
		return []*Tensor{pb, ds, wb}
	}, l.proj, sPrev, l.whh)
}

func lstmStepForward[T float32 | float64](out, saved []T, gi rows[T], whh, s []T, b, h int) {
	gh := make([]T, b*4*h)
	gemmT(false, true, b, 4*h, h, s[:b*h], h, whh, h, 0, gh, 4*h)
	lstmForward(out, saved, gi, rows[T]{data: gh, ld: 4 * h}, rows[T]{data: s[b*h:], ld: h}, b, h)
}

func lstmStepBackward[T float32 | float64](l *rnnLoop, ds, g, saved, whh, s []T, t, b, h int) {
	da := make([]T, b*4*h)
	lstmBackward(da, ds[b*h:], g, saved, rows[T]{data: s[b*h:], ld: h}, b, h)
	gemmT(false, false, b, h, 4*h, da, 4*h, whh, h, 0, ds[:b*h], h) // dh = da·W_hh
	if wantsGrad(l.whh) {
		if l.wbuf == nil {
			l.wbuf = newTensor(l.whh.dtype, []int{4 * h, h})
			l.wbuf.noGraph = true
		}
		gemmT(true, false, 4*h, h, b, da, 4*h, s[:b*h], h, 1, rnnData[T](l.wbuf), h) // dW += daᵀ·h
	}
	if wantsGrad(l.proj) {
		accumulateSlot(l, da, t, b, 4*h)
	}
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
	l := &rnnLoop{proj: proj, whh: whh, bhh: bhh, tAx: tAx}
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
	proj, whh, bhh := l.proj, l.whh, l.bhh
	if proj.strides[2] != 1 {
		proj = proj.contiguous()
	}
	wc, hc := whh.contiguous(), hPrev.contiguous()
	dt := proj.dtype
	out := newShared(proj.arena, dt, []int{b, n}, []int{n, 1})
	var s32 []float32
	var s64 []float64
	if dt == Float64 {
		s64 = make([]float64, b*4*n)
		gruStepForward(out.f64, s64, slot[float64](proj, l.tAx, t), rnnData[float64](wc), biasOf[float64](bhh), rnnData[float64](hc), b, n)
	} else {
		s32 = make([]float32, b*4*n)
		gruStepForward(out.f32, s32, slot[float32](proj, l.tAx, t), rnnData[float32](wc), biasOf[float32](bhh), rnnData[float32](hc), b, n)
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
		if dt == Float64 {
			gruStepBackward(l, dh.f64, rnnData[float64](gc), s64, rnnData[float64](wc), rnnData[float64](hc), t, b, n)
		} else {
			gruStepBackward(l, dh.f32, rnnData[float32](gc), s32, rnnData[float32](wc), rnnData[float32](hc), t, b, n)
		}
		if !first {
			return []*Tensor{nil, dh, nil, nil}
		}
		pb, wb, bb := l.pbuf, l.wbuf, l.bbuf
		l.pbuf, l.wbuf, l.bbuf = nil, nil, nil
		return []*Tensor{pb, dh, wb, bb}
	}, l.proj, hPrev, l.whh, l.bhh)
}

func gruStepForward[T float32 | float64](out, saved []T, gi rows[T], whh, bias, hp []T, b, n int) {
	gh := make([]T, b*3*n)
	gemmT(false, true, b, 3*n, n, hp, n, whh, n, 0, gh, 3*n)
	gruForward(out, saved, gi, rows[T]{data: gh, ld: 3 * n}, rows[T]{data: hp, ld: n}, bias, b, n)
}

func gruStepBackward[T float32 | float64](l *rnnLoop, dh, g, saved, whh, hp []T, t, b, n int) {
	dgi := make([]T, b*3*n)
	dgh := make([]T, b*3*n)
	gruBackward(dgi, dgh, dh, g, saved, rows[T]{data: hp, ld: n}, b, n)
	gemmT(false, false, b, n, 3*n, dgh, 3*n, whh, n, 1, dh, n) // dh += dgh·W_hh
	if wantsGrad(l.whh) {
		if l.wbuf == nil {
			l.wbuf = newTensor(l.whh.dtype, []int{3 * n, n})
			l.wbuf.noGraph = true
		}
		gemmT(true, false, 3*n, n, b, dgh, 3*n, hp, n, 1, rnnData[T](l.wbuf), n) // dW += dghᵀ·h
	}
	if l.bhh != nil && wantsGrad(l.bhh) {
		if l.bbuf == nil {
			l.bbuf = newTensor(l.bhh.dtype, []int{3 * n})
			l.bbuf.noGraph = true
		}
		db := rnnData[T](l.bbuf)
		for r := 0; r < b; r++ {
			for j, v := range dgh[r*3*n : (r+1)*3*n] {
				db[j] += v
			}
		}
	}
	if wantsGrad(l.proj) {
		accumulateSlot(l, dgi, t, b, 3*n)
	}
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
	l := &rnnLoop{proj: proj, whh: whh, tAx: tAx}
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
	proj := l.proj
	if proj.strides[2] != 1 {
		proj = proj.contiguous()
	}
	wc, hc := l.whh.contiguous(), hPrev.contiguous()
	dt := proj.dtype
	out := newShared(proj.arena, dt, []int{b, n}, []int{n, 1})
	if dt == Float64 {
		rnnStepForward(out.f64, slot[float64](proj, l.tAx, t), rnnData[float64](wc), rnnData[float64](hc), relu, b, n)
	} else {
		rnnStepForward(out.f32, slot[float32](proj, l.tAx, t), rnnData[float32](wc), rnnData[float32](hc), relu, b, n)
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
		if dt == Float64 {
			rnnStepBackward(l, dh.f64, rnnData[float64](gc), rnnData[float64](y), rnnData[float64](wc), rnnData[float64](hc), relu, t, b, n)
		} else {
			rnnStepBackward(l, dh.f32, rnnData[float32](gc), rnnData[float32](y), rnnData[float32](wc), rnnData[float32](hc), relu, t, b, n)
		}
		if !first {
			return []*Tensor{nil, dh, nil}
		}
		pb, wb := l.pbuf, l.wbuf
		l.pbuf, l.wbuf = nil, nil
		return []*Tensor{pb, dh, wb}
	}, l.proj, hPrev, l.whh)
}

func rnnStepForward[T float32 | float64](out []T, gi rows[T], whh, hp []T, relu bool, b, n int) {
	gemmT(false, true, b, n, n, hp, n, whh, n, 0, out, n)
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

func rnnStepBackward[T float32 | float64](l *rnnLoop, dh, g, y, whh, hp []T, relu bool, t, b, n int) {
	da := make([]T, b*n)
	for i, v := range y {
		if relu {
			if v > 0 {
				da[i] = g[i]
			}
		} else {
			da[i] = g[i] * (1 - v*v)
		}
	}
	gemmT(false, false, b, n, n, da, n, whh, n, 0, dh, n) // dh = da·W_hh
	if wantsGrad(l.whh) {
		if l.wbuf == nil {
			l.wbuf = newTensor(l.whh.dtype, []int{n, n})
			l.wbuf.noGraph = true
		}
		gemmT(true, false, n, n, b, da, n, hp, n, 1, rnnData[T](l.wbuf), n) // dW += daᵀ·h
	}
	if wantsGrad(l.proj) {
		accumulateSlot(l, da, t, b, n)
	}
}
