package nabla_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nabla-go/nabla"
)

// The minimal case: f closes over a weight w that requires grad.
// g = d/dx (x w)² = 2 x w², so d/dw (g + w) = 4 x w + 1 = 25 at x=3, w=2.
func TestGradKeepsGraphOfClosedOverWeights(t *testing.T) {
	w := nabla.FromSlice([]float64{2}).RequireGrad()
	f := func(x *nabla.Tensor) *nabla.Tensor { return x.Mul(w).Square().Sum() }
	g := nabla.Grad(f)(nabla.FromSlice([]float64{3}))
	if got := g.Item(); got != 24 {
		t.Fatalf("Grad = %v; want 24", got)
	}
	if !g.RequiresGrad() {
		t.Fatal("the gradient lost its graph to w")
	}
	g.Sum().Add(w.Sum()).Backward()
	if got := w.Grad().Item(); got != 25 {
		t.Errorf("w.Grad() = %v; want 25", got)
	}

	// ValueAndGrad keeps the value's graph too: d/dw (x w)² = 2 x² w = 36.
	w2 := nabla.FromSlice([]float64{2}).RequireGrad()
	v, _ := nabla.ValueAndGrad(func(xs ...*nabla.Tensor) *nabla.Tensor { return xs[0].Mul(w2).Square().Sum() })(nabla.FromSlice([]float64{3}))
	v.Backward()
	if got := w2.Grad().Item(); got != 36 {
		t.Errorf("through ValueAndGrad's value, w.Grad() = %v; want 36", got)
	}
}

// Without anything requiring grad, Grad records nothing, as before.
func TestGradRecordsNothingWithoutOuterWeights(t *testing.T) {
	c := nabla.FromSlice([]float64{2}) // a constant
	g := nabla.Grad(func(x *nabla.Tensor) *nabla.Tensor { return x.Mul(c).Square().Sum() })(nabla.FromSlice([]float64{3}))
	if g.RequiresGrad() || !g.IsLeaf() {
		t.Errorf("gradient of a function of constants has a graph (op %q)", g.Op())
	}
	v, _ := nabla.ValueAndGrad(func(xs ...*nabla.Tensor) *nabla.Tensor { return xs[0].Square().Sum() })(nabla.FromSlice([]float64{3}))
	if v.RequiresGrad() {
		t.Error("value of a function of constants has a graph")
	}
}

// tanhNet is a 1-16-1 tanh network of float64 weights.
type tanhNet struct{ w1, b1, w2, b2 *nabla.Tensor }

func newTanhNet(rng *rand.Rand, in, hidden int) *tanhNet {
	r := func(shape ...int) *nabla.Tensor {
		return nabla.RandN(rng, shape...).To(nabla.Float64).MulScalar(0.7).Detach().RequireGrad()
	}
	return &tanhNet{r(in, hidden), r(hidden), r(hidden, 1), r(1)}
}

func (m *tanhNet) params() []*nabla.Tensor { return []*nabla.Tensor{m.w1, m.b1, m.w2, m.b2} }

func (m *tanhNet) forward(x *nabla.Tensor) *nabla.Tensor {
	return x.MatMul(m.w1).Add(m.b1).Tanh().MatMul(m.w2).Add(m.b2)
}

func maxRelDiffT(t *testing.T, name string, got, want []*nabla.Tensor) float64 {
	t.Helper()
	worst := 0.0
	for i := range want {
		g, w := got[i].Float64s(), want[i].Float64s()
		if len(g) != len(w) {
			t.Fatalf("%s %d: %d values, want %d", name, i, len(g), len(w))
		}
		for k := range w {
			d := math.Abs(g[k]-w[k]) / (1 + math.Abs(w[k]))
			if d > worst || math.IsNaN(d) {
				worst = d
			}
		}
	}
	return worst
}

func TestPINNWithNestedGradMatchesGradients(t *testing.T) {
	// A physics-informed loss for u'' = -sin(x): the mean squared residual
	// of the network's second derivative in x, written once with nested
	// Grad and once by hand with Gradients(CreateGraph).
	rng := rand.New(rand.NewPCG(1, 2))
	m := newTanhNet(rng, 1, 16)
	x := nabla.Linspace(-2, 2, 9).To(nabla.Float64).Reshape(9, 1)
	u := func(x *nabla.Tensor) *nabla.Tensor { return m.forward(x).Sum() }
	residual := func(uxx *nabla.Tensor) *nabla.Tensor {
		return uxx.Add(x.Sin()).Square().Mean()
	}

	du := nabla.Grad(u)
	d2u := nabla.Grad(func(x *nabla.Tensor) *nabla.Tensor { return du(x).Sum() })
	lossA := residual(d2u(x))
	gotA := nabla.Gradients(lossA, m.params())

	xl := x.Detach().RequireGrad()
	ux := nabla.Gradients(m.forward(xl).Sum(), []*nabla.Tensor{xl}, nabla.CreateGraph())[0]
	uxx := nabla.Gradients(ux.Sum(), []*nabla.Tensor{xl}, nabla.CreateGraph())[0]
	lossB := residual(uxx)
	wantB := nabla.Gradients(lossB, m.params())

	if a, b := lossA.Item(), lossB.Item(); math.Abs(a-b) > 1e-12*(1+math.Abs(b)) {
		t.Errorf("loss %v; hand-built %v", a, b)
	}
	if d := maxRelDiffT(t, "weight gradient", gotA, wantB); d > 1e-12 {
		t.Errorf("weight gradients differ by %g relative; want <= 1e-12", d)
	}
	for i, g := range wantB[:3] { // u'' does not depend on the last bias
		if n := g.Abs().Sum().Item(); n == 0 {
			t.Errorf("weight %d has a zero gradient: the test would not catch a lost graph", i)
		}
	}
}

func TestWGANGPPenaltyWithGradMatchesGradients(t *testing.T) {
	// The gradient penalty of WGAN-GP, λ·mean((‖∇D(x̂)‖₂ - 1)²), with the
	// critic's input gradient taken by Grad; the critic's weight gradients
	// must be those of the hand-built Gradients(CreateGraph) version.
	rng := rand.New(rand.NewPCG(3, 4))
	d := newTanhNet(rng, 3, 8)
	real := nabla.RandN(rng, 5, 3).To(nabla.Float64)
	fake := nabla.RandN(rng, 5, 3).To(nabla.Float64)
	eps := nabla.Rand(rng, 5, 1).To(nabla.Float64)
	xhat := real.Mul(eps).Add(fake.Mul(eps.Neg().AddScalar(1)))
	penalty := func(g *nabla.Tensor) *nabla.Tensor {
		return g.Square().Sum(1).Sqrt().AddScalar(-1).Square().Mean().MulScalar(10)
	}
	critic := func(x *nabla.Tensor) *nabla.Tensor { return d.forward(x).Sum() }

	lossA := d.forward(fake).Mean().Sub(d.forward(real).Mean()).Add(penalty(nabla.Grad(critic)(xhat)))
	gotA := nabla.Gradients(lossA, d.params())

	xl := xhat.Detach().RequireGrad()
	gx := nabla.Gradients(critic(xl), []*nabla.Tensor{xl}, nabla.CreateGraph())[0]
	lossB := d.forward(fake).Mean().Sub(d.forward(real).Mean()).Add(penalty(gx))
	wantB := nabla.Gradients(lossB, d.params())
	if dd := maxRelDiffT(t, "critic gradient", gotA, wantB); dd > 1e-12 {
		t.Errorf("critic weight gradients differ by %g relative; want <= 1e-12", dd)
	}
	// and the penalty alone contributes: without it the gradients differ.
	noGP := nabla.Gradients(d.forward(fake).Mean().Sub(d.forward(real).Mean()), d.params())
	if dd := maxRelDiffT(t, "critic gradient", noGP, wantB); dd < 1e-6 {
		t.Errorf("the penalty changes the critic's gradients by only %g: the test would not catch a lost graph", dd)
	}
}

// HVP of a function closing over a weight keeps the graph to it:
// f(x) = w·Σx³, H v = 6 w x v, d/dw Σ(H v) = Σ 6 x v.
func TestHVPClosedOverWeight(t *testing.T) {
	w := nabla.FromSlice([]float64{2}).RequireGrad()
	x := nabla.FromSlice([]float64{1, 2})
	v := nabla.FromSlice([]float64{1, -1})
	hv := nabla.HVP(func(x *nabla.Tensor) *nabla.Tensor { return x.PowScalar(3).Sum().Mul(w.Sum()) }, x, v)
	wantValues(t, "HVP", hv, 12, -24)
	hv.Sum().Backward()
	wantValues(t, "w.Grad", w.Grad(), 6-12)
}
