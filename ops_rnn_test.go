package nabla_test

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/nabla-go/nabla"
)

// lstmComposed is LSTMCellGates written with one op per gate, the way a
// time loop would be without the fused op: the reference for its values
// and the baseline of its benchmark.
func lstmComposed(gi, gh, c *T) (h2, c2 *T) {
	a := gi.Add(gh)
	p := a.Chunk(4, 1)
	i, f, g, o := p[0].Sigmoid(), p[1].Sigmoid(), p[2].Tanh(), p[3].Sigmoid()
	c2 = f.Mul(c).Add(i.Mul(g))
	return o.Mul(c2.Tanh()), c2
}

func gruComposed(gi, gh, h, b *T) *T {
	if b != nil {
		gh = gh.Add(b)
	}
	x, y := gi.Chunk(3, 1), gh.Chunk(3, 1)
	r := x[0].Add(y[0]).Sigmoid()
	z := x[1].Add(y[1]).Sigmoid()
	n := x[2].Add(r.Mul(y[2])).Tanh()
	return nabla.OnesLike(z).Sub(z).Mul(n).Add(z.Mul(h))
}

func randT(rng *rand.Rand, dt nabla.DType, shape ...int) *T {
	return nabla.Normal(rng, 0, 1, shape...).To(dt)
}

func rnnClose(t *testing.T, what string, got, want *T, tol float64) {
	t.Helper()
	g, w := got.Float64s(), want.Float64s()
	if len(g) != len(w) {
		t.Fatalf("%s: %d values, want %d", what, len(g), len(w))
	}
	for i := range g {
		if math.Abs(g[i]-w[i]) > tol*(1+math.Abs(w[i])) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, g[i], w[i])
		}
	}
}

// TestRNNGatesMatchComposed checks the fused gate ops' values and
// first-order gradients against the same arithmetic composed of ops, in
// both dtypes, on sizes that split between the workers and on a strided
// (sliced) input as the time loops pass it.
func TestRNNGatesMatchComposed(t *testing.T) {
	for _, dt := range []nabla.DType{nabla.Float32, nabla.Float64} {
		for _, sz := range [][2]int{{1, 1}, {3, 5}, {64, 256}} {
			b, h := sz[0], sz[1]
			t.Run(dt.String()+"/"+strconv.Itoa(b)+"x"+strconv.Itoa(h), func(t *testing.T) {
				tol := 1e-5
				if dt == nabla.Float64 {
					tol = 1e-12
				}
				rng := rand.New(rand.NewPCG(7, uint64(b)))
				// gi is a slice of a (2, B, 4H) block with rows spaced apart.
				big := randT(rng, dt, b, 2, 4*h).RequireGrad()
				gh := randT(rng, dt, b, 4*h).RequireGrad()
				c := randT(rng, dt, b, h).RequireGrad()
				gi := big.Index(1, 1)
				s := nabla.LSTMCellGates(gi, gh, c)
				h2, c2 := lstmComposed(gi, gh, c)
				rnnClose(t, "LSTM h'", s.Index(0, 0), h2, tol)
				rnnClose(t, "LSTM c'", s.Index(0, 1), c2, tol)
				u := randT(rng, dt, 2, b, h)
				gf := nabla.Gradients(s.Mul(u).Sum(), []*T{big, gh, c}, nabla.RetainGraph())
				gc := nabla.Gradients(nabla.Stack([]*T{h2, c2}, 0).Mul(u).Sum(), []*T{big, gh, c})
				for i := range gf {
					rnnClose(t, "LSTM grad "+strconv.Itoa(i), gf[i], gc[i], tol)
				}

				gi3 := randT(rng, dt, b, 3*h).RequireGrad()
				gh3 := randT(rng, dt, b, 3*h).RequireGrad()
				bias := randT(rng, dt, 3*h).RequireGrad()
				hf := nabla.GRUCellGates(gi3, gh3, c, bias)
				hc := gruComposed(gi3, gh3, c, bias)
				rnnClose(t, "GRU h'", hf, hc, tol)
				v := randT(rng, dt, b, h)
				gf = nabla.Gradients(hf.Mul(v).Sum(), []*T{gi3, gh3, c, bias}, nabla.RetainGraph())
				gc = nabla.Gradients(hc.Mul(v).Sum(), []*T{gi3, gh3, c, bias})
				for i := range gf {
					rnnClose(t, "GRU grad "+strconv.Itoa(i), gf[i], gc[i], tol*10)
				}
			})
		}
	}
}

func TestRNNGatesShapeErrors(t *testing.T) {
	z := func(s ...int) *T { return nabla.Zeros(s...) }
	cases := []struct {
		name string
		f    func()
	}{
		{"LSTM width", func() { nabla.LSTMCellGates(z(2, 7), z(2, 7), z(2, 2)) }},
		{"LSTM batch", func() { nabla.LSTMCellGates(z(2, 8), z(2, 8), z(3, 2)) }},
		{"LSTM gh", func() { nabla.LSTMCellGates(z(2, 8), z(2, 4), z(2, 2)) }},
		{"GRU width", func() { nabla.GRUCellGates(z(2, 6), z(2, 6), z(2, 3), nil) }},
		{"GRU bias", func() { nabla.GRUCellGates(z(2, 6), z(2, 6), z(2, 2), z(3)) }},
	}
	for _, c := range cases {
		err := nabla.Maybe(c.f)
		if _, ok := err.(*nabla.ShapeError); !ok {
			t.Errorf("%s: got %v, want a *nabla.ShapeError", c.name, err)
		}
	}
}

// BenchmarkLSTMGates times one LSTM step's gate arithmetic, forward and
// backward, at the W7 language model's size (batch 32, hidden 256),
// fused and composed of one op per gate.
func BenchmarkLSTMGates(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	gi := randT(rng, nabla.Float32, 32, 1024).RequireGrad()
	gh := randT(rng, nabla.Float32, 32, 1024).RequireGrad()
	c := randT(rng, nabla.Float32, 32, 256).RequireGrad()
	b.Run("fused", func(b *testing.B) {
		for range b.N {
			s := nabla.LSTMCellGates(gi, gh, c)
			s.Sum().Backward()
		}
	})
	b.Run("composed", func(b *testing.B) {
		for range b.N {
			h2, c2 := lstmComposed(gi, gh, c)
			h2.Sum().Add(c2.Sum()).Backward()
		}
	})
}

// BenchmarkGRUGates is BenchmarkLSTMGates for the GRU's gates.
func BenchmarkGRUGates(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	gi := randT(rng, nabla.Float32, 32, 768).RequireGrad()
	gh := randT(rng, nabla.Float32, 32, 768).RequireGrad()
	bias := randT(rng, nabla.Float32, 768).RequireGrad()
	h := randT(rng, nabla.Float32, 32, 256).RequireGrad()
	b.Run("fused", func(b *testing.B) {
		for range b.N {
			nabla.GRUCellGates(gi, gh, h, bias).Sum().Backward()
		}
	})
	b.Run("composed", func(b *testing.B) {
		for range b.N {
			gruComposed(gi, gh, h, bias).Sum().Backward()
		}
	})
}

// lstmLoopComposed is LSTMLayer (time-major) written with LSTMCellGates,
// slices and MatMul, the reference for the layer op's gradients.
func lstmLoopComposed(proj, whh, h, c *T, reverse bool) []*T {
	n := proj.Size(0)
	hs := make([]*T, n)
	for k := range n {
		t := k
		if reverse {
			t = n - 1 - k
		}
		s := nabla.LSTMCellGates(proj.Index(0, t), h.MatMul(whh.T()), c)
		h, c = s.Index(0, 0), s.Index(0, 1)
		hs[t] = h
	}
	return hs
}

// TestLSTMLayerBackward checks the layer op's in-place gradient buffers
// against the composed loop: when the loss uses only some steps (so the
// last steps get no gradient), and over two backward passes of one graph
// (the buffers must start from zero each time), in both directions.
func TestLSTMLayerBackward(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	proj := randT(rng, nabla.Float64, 5, 3, 8).RequireGrad()
	whh := randT(rng, nabla.Float64, 8, 2).RequireGrad()
	h0 := randT(rng, nabla.Float64, 3, 2).RequireGrad()
	c0 := randT(rng, nabla.Float64, 3, 2).RequireGrad()
	wrt := []*T{proj, whh, h0, c0}
	for _, reverse := range []bool{false, true} {
		for _, use := range [][]int{{4}, {1}, {0, 2}} {
			hs, _, _ := nabla.LSTMLayer(proj, 0, whh, h0, c0, reverse)
			ref := lstmLoopComposed(proj, whh, h0, c0, reverse)
			var y, yr *T
			for _, i := range use {
				if y == nil {
					y, yr = hs[i].Sum(), ref[i].Sum()
				} else {
					y, yr = y.Add(hs[i].Square().Sum()), yr.Add(ref[i].Square().Sum())
				}
				rnnClose(t, "h", hs[i], ref[i], 1e-12)
			}
			want := nabla.Gradients(yr, wrt)
			for pass := range 2 {
				got := nabla.Gradients(y, wrt, nabla.RetainGraph())
				for i := range got {
					rnnClose(t, "reverse "+strconv.FormatBool(reverse)+" pass "+strconv.Itoa(pass)+" grad "+strconv.Itoa(i), got[i], want[i], 1e-10)
				}
			}
		}
	}
}

// TestGRULayerBackward is TestLSTMLayerBackward for GRULayer.
func TestGRULayerBackward(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	proj := randT(rng, nabla.Float64, 5, 3, 6).RequireGrad()
	whh := randT(rng, nabla.Float64, 6, 2).RequireGrad()
	bhh := randT(rng, nabla.Float64, 6).RequireGrad()
	h0 := randT(rng, nabla.Float64, 3, 2).RequireGrad()
	wrt := []*T{proj, whh, bhh, h0}
	for _, reverse := range []bool{false, true} {
		for _, use := range []int{4, 1} {
			hs, _ := nabla.GRULayer(proj, 0, whh, bhh, h0, reverse)
			h := h0
			ref := make([]*T, 5)
			for k := range 5 {
				i := k
				if reverse {
					i = 4 - k
				}
				h = nabla.GRUCellGates(proj.Index(0, i), h.MatMul(whh.T()), h, bhh)
				ref[i] = h
			}
			rnnClose(t, "h", hs[use], ref[use], 1e-12)
			want := nabla.Gradients(ref[use].Square().Sum(), wrt)
			y := hs[use].Square().Sum()
			for pass := range 2 {
				got := nabla.Gradients(y, wrt, nabla.RetainGraph())
				for i := range got {
					rnnClose(t, "GRU grad "+strconv.Itoa(i)+" pass "+strconv.Itoa(pass), got[i], want[i], 1e-10)
				}
			}
		}
	}
}

// BenchmarkLSTMLayer times one layer direction of the W7 model's LSTM
// (64 steps, batch 32, hidden 256), forward and backward, three ways:
// LSTMLayer; the loop built of ops with the fused gates (a slice of the
// projection, MatMul and LSTMCellGates per step); and the loop built of
// one op per gate.
func BenchmarkLSTMLayer(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	proj := randT(rng, nabla.Float32, 64, 32, 1024).RequireGrad()
	whh := randT(rng, nabla.Float32, 1024, 256).MulScalar(0.05).Detach().RequireGrad()
	h0 := nabla.Zeros(32, 256)
	b.Run("layer", func(b *testing.B) {
		for range b.N {
			hs, _, _ := nabla.LSTMLayer(proj, 0, whh, h0, h0, false)
			nabla.Stack(hs, 0).Sum().Backward()
		}
	})
	b.Run("gates", func(b *testing.B) {
		for range b.N {
			nabla.Stack(lstmLoopComposed(proj, whh, h0, h0, false), 0).Sum().Backward()
		}
	})
	b.Run("composed", func(b *testing.B) {
		for range b.N {
			h, c := h0, h0
			hs := make([]*T, 64)
			for t := range 64 {
				h, c = lstmComposed(proj.Index(0, t), h.MatMul(whh.T()), c)
				hs[t] = h
			}
			nabla.Stack(hs, 0).Sum().Backward()
		}
	})
}

// TestRecurrentLayersPackedFloat32 runs the layer ops in float32 at a
// batch that takes the packed recurrent products (GemmPackedF32 on W_hh
// packed once per pass), batch first and time major, forward and
// reverse, and checks outputs and gradients against the same layers in
// float64, which multiply W_hh as stored.
func TestRecurrentLayersPackedFloat32(t *testing.T) {
	const steps, batch, hidden = 6, 9, 5
	for _, kind := range []string{"LSTM", "GRU", "RNN"} {
		gates := map[string]int{"LSTM": 4, "GRU": 3, "RNN": 1}[kind]
		for _, tAx := range []int{0, 1} {
			for _, reverse := range []bool{false, true} {
				rng := rand.New(rand.NewPCG(8, uint64(tAx)))
				shape := []int{steps, batch, gates * hidden}
				if tAx == 1 {
					shape = []int{batch, steps, gates * hidden}
				}
				in := []*T{randT(rng, nabla.Float64, shape...), randT(rng, nabla.Float64, gates*hidden, hidden).MulScalar(0.5),
					randT(rng, nabla.Float64, batch, hidden), randT(rng, nabla.Float64, batch, hidden), randT(rng, nabla.Float64, gates*hidden)}
				run := func(dt nabla.DType) (*T, []*T) {
					ps := make([]*T, len(in))
					for i, x := range in {
						ps[i] = x.To(dt).Detach().RequireGrad()
					}
					var hs []*T
					switch kind {
					case "LSTM":
						hs, _, _ = nabla.LSTMLayer(ps[0], tAx, ps[1], ps[2], ps[3], reverse)
					case "GRU":
						hs, _ = nabla.GRULayer(ps[0], tAx, ps[1], ps[4], ps[2], reverse)
					default:
						hs, _ = nabla.RNNLayer(ps[0], tAx, ps[1], ps[2], false, reverse)
					}
					y := nabla.Stack(hs, tAx)
					wrt := ps[:3]
					if kind == "GRU" {
						wrt = append(wrt, ps[4])
					}
					return y, nabla.Gradients(y.Square().Sum(), wrt)
				}
				y32, g32 := run(nabla.Float32)
				y64, g64 := run(nabla.Float64)
				name := kind + "/tAx" + strconv.Itoa(tAx) + "/reverse=" + strconv.FormatBool(reverse)
				rnnClose(t, name+" output", y32, y64, 1e-5)
				for i := range g32 {
					rnnClose(t, name+" grad "+strconv.Itoa(i), g32[i], g64[i], 1e-4)
				}
			}
		}
	}
}
