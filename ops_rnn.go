package nabla

import (
	"math"
	"runtime"

	"github.com/nabla-go/nabla/internal/kernel"
)

// This file holds the fused gate ops of the recurrent layers (nn.LSTM,
// nn.GRU and their cells). A time step of an LSTM composed of small ops is
// about twenty nodes (an add, four slices, three sigmoids, two tanhs, five
// products and sums); each allocates its output, and its backward rule
// allocates again. The fused ops compute a whole step's gate arithmetic in
// one pass over the pre-activations and record one node, with a fused
// backward rule. The matrix products stay outside: the input projection of
// all time steps is one GEMM, and the recurrent one is one GEMM per step.

// rnnGrain is the least number of pre-activations per goroutine before a
// gate op splits its rows between the workers (about as much work as the
// element-wise loops' grain).
const rnnGrain = 1 << 14

// LSTMCellGates is the gate arithmetic of one LSTM step, as
// torch.nn.LSTM computes it. gi and gh are the (B, 4H) pre-activations
// from the input and the hidden state (x·W_ihᵀ + b_ih and h·W_hhᵀ + b_hh;
// the biases may be folded into either), with the gates in PyTorch's order
// i, f, g, o; c is the (B, H) cell state. With a = gi + gh:
//
//	i, f, o = σ(a_i), σ(a_f), σ(a_o);  g = tanh(a_g)
//	c' = f·c + i·g;  h' = o·tanh(c')
//
// It returns the new states stacked as one (2, B, H) tensor: h' at
// index 0 and c' at index 1 of the first axis (contiguous views by
// [Tensor.Index]). It is one op, forward and backward; a recorded backward
// pass (CreateGraph) composes its gradient of ops, so higher orders hold.
// It panics with a *ShapeError if the shapes do not fit together.
func LSTMCellGates(gi, gh, c *Tensor) *Tensor {
	if len(c.shape) != 2 || len(gi.shape) != 2 || !sameShape(gi.shape, gh.shape) || gi.shape[0] != c.shape[0] || gi.shape[1] != 4*c.shape[1] {
		panicShape("LSTMCellGates", "want gates (B, 4H), (B, 4H) and cell state (B, H)", gi.shape, gh.shape, c.shape)
	}
	dt := promote(promote(gi.dtype, gh.dtype), c.dtype)
	gi, gh, c = gi.To(dt), gh.To(dt), c.To(dt)
	b, h := c.shape[0], c.shape[1]
	shape := []int{2, b, h}
	out := newShared(arenaOf(gi, gh), dt, shape, contiguousStrides(shape))
	saved := lstmSaved{b: b, h: h}
	if dt == Float64 {
		saved.f64 = make([]float64, b*5*h)
		lstmForward(out.f64, saved.f64, rowsOf[float64](gi), rowsOf[float64](gh), rowsOf[float64](c), b, h)
	} else {
		saved.f32 = make([]float32, b*5*h)
		lstmForward(out.f32, saved.f32, rowsOf[float32](gi), rowsOf[float32](gh), rowsOf[float32](c), b, h)
	}
	return record("LSTMCellGates", out, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		if !g.noGraph {
			// A recorded backward pass: the gradient must itself be
			// differentiable in the inputs, so it is composed of ops.
			da, dc := lstmGradOps(g, in[0], in[1], in[2])
			return []*Tensor{da, da, dc}
		}
		da, dc := lstmGrad(g, saved, in[2])
		return []*Tensor{da, da, dc}
	}, gi, gh, c)
}

// lstmSaved holds what LSTMCellGates's backward pass needs per row: the
// activations i, f, g, o and tanh(c'), 5H values.
type lstmSaved struct {
	b, h int
	f32  []float32
	f64  []float64
}

// rows is a row-major view of a matrix whose rows may be spaced apart
// (a slice of a larger matrix): row r starts at data[off + r·ld].
type rows[T float32 | float64] struct {
	data    []T
	off, ld int
}

func (m rows[T]) row(r, n int) []T {
	s := m.off + r*m.ld
	return m.data[s : s+n]
}

// rowsOf returns the rows of the matrix t, copying it first only if its
// columns are not adjacent.
func rowsOf[T float32 | float64](t *Tensor) rows[T] {
	if t.strides[1] != 1 && t.shape[1] > 1 {
		t = t.contiguous()
	}
	var data []T
	switch d := any(&data).(type) {
	case *[]float32:
		*d = t.f32
	case *[]float64:
		*d = t.f64
	}
	ld := t.strides[0]
	if t.shape[0] <= 1 {
		ld = 0
	}
	return rows[T]{data: data, off: t.offset, ld: ld}
}

// sigmoidInto and tanhInto apply the activations, with the kernel's
// vectorised float32 loops.
func sigmoidInto[T float32 | float64](dst, x []T) {
	switch d := any(dst).(type) {
	case []float32:
		kernel.SigmoidF32(d, any(x).([]float32))
	case []float64:
		for i, v := range any(x).([]float64) {
			if v >= 0 {
				d[i] = 1 / (1 + math.Exp(-v))
			} else {
				e := math.Exp(v)
				d[i] = e / (1 + e)
			}
		}
	}
}

func tanhInto[T float32 | float64](dst, x []T) {
	switch d := any(dst).(type) {
	case []float32:
		kernel.TanhF32(d, any(x).([]float32))
	case []float64:
		for i, v := range any(x).([]float64) {
			d[i] = math.Tanh(v)
		}
	}
}

// eachRowRange runs f over the b rows of a gate op of width w per row,
// split between the workers when there is enough work.
func eachRowRange(b, w int, f func(lo, hi int)) {
	procs := runtime.GOMAXPROCS(0)
	if b*w < 2*rnnGrain || procs == 1 || b == 1 {
		f(0, b)
		return
	}
	kernel.ParallelParts(b, min(procs, b*w/rnnGrain), f)
}

func lstmForward[T float32 | float64](out, saved []T, gi, gh, c rows[T], b, h int) {
	eachRowRange(b, 4*h, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			a := saved[r*5*h : r*5*h+4*h]
			x, y := gi.row(r, 4*h), gh.row(r, 4*h)
			for j := range a {
				a[j] = x[j] + y[j]
			}
			sigmoidInto(a[:2*h], a[:2*h])
			tanhInto(a[2*h:3*h], a[2*h:3*h])
			sigmoidInto(a[3*h:], a[3*h:])
			ig, fg, gg, og := a[:h], a[h:2*h], a[2*h:3*h], a[3*h:4*h]
			tc := saved[r*5*h+4*h : (r+1)*5*h]
			hn, cn := out[r*h:(r+1)*h], out[(b+r)*h:(b+r+1)*h]
			cp := c.row(r, h)
			for j := range cn {
				cn[j] = fg[j]*cp[j] + ig[j]*gg[j]
			}
			tanhInto(tc, cn)
			for j := range hn {
				hn[j] = og[j] * tc[j]
			}
		}
	})
}

// lstmGrad computes LSTMCellGates's gradients directly, for a backward
// pass that is not recorded: those of the pre-activations (one tensor for
// both gi and gh) and of the cell state.
func lstmGrad(g *Tensor, s lstmSaved, c *Tensor) (da, dc *Tensor) {
	dt := c.dtype
	if g.dtype != dt {
		g = g.To(dt)
	}
	gc := g.contiguous()
	b, h := s.b, s.h
	da = newShared(g.arena, dt, []int{b, 4 * h}, []int{4 * h, 1})
	dc = newShared(g.arena, dt, []int{b, h}, []int{h, 1})
	da.noGraph, dc.noGraph = g.noGraph, g.noGraph
	if dt == Float64 {
		lstmBackward(rows[float64]{data: da.f64, ld: 4 * h}, dc.f64, gc.f64[gc.offset:], s.f64, rowsOf[float64](c), b, h)
	} else {
		lstmBackward(rows[float32]{data: da.f32, ld: 4 * h}, dc.f32, gc.f32[gc.offset:], s.f32, rowsOf[float32](c), b, h)
	}
	return da, dc
}

// lstmBackward sets the rows of da (4H wide, B of them) to the gradient
// of the pre-activations and dc to that of the cell state.
func lstmBackward[T float32 | float64](da rows[T], dc, g, saved []T, c rows[T], b, h int) {
	eachRowRange(b, 4*h, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			a := saved[r*5*h : (r+1)*5*h]
			ig, fg, gg, og, tc := a[:h], a[h:2*h], a[2*h:3*h], a[3*h:4*h], a[4*h:]
			gh, gcn := g[r*h:(r+1)*h], g[(b+r)*h:(b+r+1)*h]
			cp := c.row(r, h)
			d := da.row(r, 4*h)
			dcr := dc[r*h : (r+1)*h]
			for j := 0; j < h; j++ {
				i, f, gv, o, t := ig[j], fg[j], gg[j], og[j], tc[j]
				dcn := gcn[j] + gh[j]*o*(1-t*t)
				d[j] = dcn * gv * i * (1 - i)
				d[h+j] = dcn * cp[j] * f * (1 - f)
				d[2*h+j] = dcn * i * (1 - gv*gv)
				d[3*h+j] = gh[j] * t * o * (1 - o)
				dcr[j] = dcn * f
			}
		}
	})
}

// lstmGradOps is lstmGrad written with ops, recomputing the activations
// from the inputs so that their dependence on them is recorded too.
func lstmGradOps(g, gi, gh, c *Tensor) (da, dc *Tensor) {
	h := c.shape[1]
	a := gi.Add(gh)
	i := a.Slice(1, 0, h, 1).Sigmoid()
	f := a.Slice(1, h, 2*h, 1).Sigmoid()
	gg := a.Slice(1, 2*h, 3*h, 1).Tanh()
	o := a.Slice(1, 3*h, 4*h, 1).Sigmoid()
	t := f.Mul(c).Add(i.Mul(gg)).Tanh()
	gh1, gc1 := g.Index(0, 0), g.Index(0, 1)
	one := OnesLike(t)
	dcn := gc1.Add(gh1.Mul(o).Mul(one.Sub(t.Square())))
	di := dcn.Mul(gg).Mul(i.Mul(one.Sub(i)))
	df := dcn.Mul(c).Mul(f.Mul(one.Sub(f)))
	dg := dcn.Mul(i).Mul(one.Sub(gg.Square()))
	do := gh1.Mul(t).Mul(o.Mul(one.Sub(o)))
	return Concat([]*Tensor{di, df, dg, do}, 1), dcn.Mul(f)
}

// GRUCellGates is the gate arithmetic of one GRU step, as torch.nn.GRU
// computes it. gi is the (B, 3H) input projection x·W_ihᵀ + b_ih and gh
// the (B, 3H) recurrent projection h·W_hhᵀ, with the gates in PyTorch's
// order r, z, n; h is the (B, H) hidden state and bhh the (3H) recurrent
// bias b_hh, or nil for none. It returns the new (B, H) state
//
//	r = σ(gi_r + gh_r + b_hr);  z = σ(gi_z + gh_z + b_hz)
//	n = tanh(gi_n + r·(gh_n + b_hn));  h' = (1 - z)·n + z·h
//
// with r applied to the recurrent term and its bias, as in PyTorch (and
// cuDNN), which is why the bias is an input here rather than folded into
// gh. It is one op, forward and backward; a recorded backward pass
// (CreateGraph) composes its gradient of ops, so higher orders hold. It
// panics with a *ShapeError if the shapes do not fit together.
func GRUCellGates(gi, gh, h, bhh *Tensor) *Tensor {
	if len(h.shape) != 2 || len(gi.shape) != 2 || !sameShape(gi.shape, gh.shape) || gi.shape[0] != h.shape[0] || gi.shape[1] != 3*h.shape[1] ||
		(bhh != nil && (len(bhh.shape) != 1 || bhh.shape[0] != gi.shape[1])) {
		shapes := [][]int{gi.shape, gh.shape, h.shape}
		if bhh != nil {
			shapes = append(shapes, bhh.shape)
		}
		panicShape("GRUCellGates", "want gates (B, 3H), (B, 3H), hidden state (B, H) and bias (3H) or nil", shapes...)
	}
	dt := promote(promote(gi.dtype, gh.dtype), h.dtype)
	if bhh != nil {
		dt = promote(dt, bhh.dtype)
		bhh = bhh.To(dt)
	}
	gi, gh, h = gi.To(dt), gh.To(dt), h.To(dt)
	b, n := h.shape[0], h.shape[1]
	out := newShared(arenaOf(gi, gh), dt, []int{b, n}, []int{n, 1})
	var s32 []float32
	var s64 []float64
	if dt == Float64 {
		s64 = make([]float64, b*4*n)
		gruForward(out.f64, s64, rowsOf[float64](gi), rowsOf[float64](gh), rowsOf[float64](h), biasOf[float64](bhh), b, n)
	} else {
		s32 = make([]float32, b*4*n)
		gruForward(out.f32, s32, rowsOf[float32](gi), rowsOf[float32](gh), rowsOf[float32](h), biasOf[float32](bhh), b, n)
	}
	return record("GRUCellGates", out, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		var dgi, dgh, dh *Tensor
		if !g.noGraph {
			dgi, dgh, dh = gruGradOps(g, in[0], in[1], in[2], in[3])
		} else {
			if g.dtype != dt {
				g = g.To(dt)
			}
			gc := g.contiguous()
			dgi = newShared(g.arena, dt, []int{b, 3 * n}, []int{3 * n, 1})
			dgh = newShared(g.arena, dt, []int{b, 3 * n}, []int{3 * n, 1})
			dh = newShared(g.arena, dt, []int{b, n}, []int{n, 1})
			dgi.noGraph, dgh.noGraph, dh.noGraph = true, true, true
			if dt == Float64 {
				gruBackward(rows[float64]{data: dgi.f64, ld: 3 * n}, rows[float64]{data: dgh.f64, ld: 3 * n}, dh.f64, gc.f64[gc.offset:], s64, rowsOf[float64](in[2]), b, n)
			} else {
				gruBackward(rows[float32]{data: dgi.f32, ld: 3 * n}, rows[float32]{data: dgh.f32, ld: 3 * n}, dh.f32, gc.f32[gc.offset:], s32, rowsOf[float32](in[2]), b, n)
			}
		}
		var db *Tensor
		if in[3] != nil && wantsGrad(in[3]) {
			db = dgh.Sum(0)
		}
		return []*Tensor{dgi, dgh, dh, db}
	}, gi, gh, h, bhh)
}

// biasOf returns the contiguous values of the 1-d bias t, or nil.
func biasOf[T float32 | float64](t *Tensor) []T {
	if t == nil {
		return nil
	}
	c := t.contiguous()
	var data []T
	switch d := any(&data).(type) {
	case *[]float32:
		*d = c.f32
	case *[]float64:
		*d = c.f64
	}
	return data[c.offset : c.offset+t.shape[0]]
}

func gruForward[T float32 | float64](out, saved []T, gi, gh, h rows[T], bias []T, b, n int) {
	eachRowRange(b, 3*n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			s := saved[r*4*n : (r+1)*4*n]
			x, y := gi.row(r, 3*n), gh.row(r, 3*n)
			// s holds r, z, n and gh_n + b_hn.
			for j := 0; j < 2*n; j++ {
				s[j] = x[j] + y[j]
			}
			hn := s[3*n:]
			copy(hn, y[2*n:])
			if bias != nil {
				for j := 0; j < 2*n; j++ {
					s[j] += bias[j]
				}
				for j := range hn {
					hn[j] += bias[2*n+j]
				}
			}
			sigmoidInto(s[:2*n], s[:2*n])
			rg, zg, ng := s[:n], s[n:2*n], s[2*n:3*n]
			for j := range ng {
				ng[j] = x[2*n+j] + rg[j]*hn[j]
			}
			tanhInto(ng, ng)
			hp := h.row(r, n)
			o := out[r*n : (r+1)*n]
			for j := range o {
				o[j] = ng[j] + zg[j]*(hp[j]-ng[j])
			}
		}
	})
}

// gruBackward sets the rows of dgi and dgh (3H wide, B of them) to the
// gradients of the input and recurrent pre-activations and dh to that of
// the state through the gate z.
func gruBackward[T float32 | float64](dgi, dgh rows[T], dh, g, saved []T, h rows[T], b, n int) {
	eachRowRange(b, 3*n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			s := saved[r*4*n : (r+1)*4*n]
			rg, zg, ng, hn := s[:n], s[n:2*n], s[2*n:3*n], s[3*n:]
			hp := h.row(r, n)
			gr := g[r*n : (r+1)*n]
			di, dr := dgi.row(r, 3*n), dgh.row(r, 3*n)
			dhr := dh[r*n : (r+1)*n]
			for j := 0; j < n; j++ {
				gv, rv, zv, nv := gr[j], rg[j], zg[j], ng[j]
				dnp := gv * (1 - zv) * (1 - nv*nv)
				drp := dnp * hn[j] * rv * (1 - rv)
				dzp := gv * (hp[j] - nv) * zv * (1 - zv)
				di[j], di[n+j], di[2*n+j] = drp, dzp, dnp
				dr[j], dr[n+j], dr[2*n+j] = drp, dzp, dnp*rv
				dhr[j] = gv * zv
			}
		}
	})
}

// gruGradOps is GRUCellGates's backward rule written with ops, recomputing
// the gates from the inputs so that their dependence on them is recorded.
func gruGradOps(g, gi, gh, h, bhh *Tensor) (dgi, dgh, dh *Tensor) {
	n := h.shape[1]
	if bhh != nil {
		gh = gh.Add(bhh)
	}
	r := gi.Slice(1, 0, n, 1).Add(gh.Slice(1, 0, n, 1)).Sigmoid()
	z := gi.Slice(1, n, 2*n, 1).Add(gh.Slice(1, n, 2*n, 1)).Sigmoid()
	hn := gh.Slice(1, 2*n, 3*n, 1)
	nn := gi.Slice(1, 2*n, 3*n, 1).Add(r.Mul(hn)).Tanh()
	one := OnesLike(z)
	dnp := g.Mul(one.Sub(z)).Mul(one.Sub(nn.Square()))
	drp := dnp.Mul(hn).Mul(r.Mul(one.Sub(r)))
	dzp := g.Mul(h.Sub(nn)).Mul(z.Mul(one.Sub(z)))
	dgi = Concat([]*Tensor{drp, dzp, dnp}, 1)
	dgh = Concat([]*Tensor{drp, dzp, dnp.Mul(r)}, 1)
	return dgi, dgh, g.Mul(z)
}
