package nabla_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/nabla-go/nabla"
)

func approx(a, b, tol float64) bool { return math.Abs(a-b) <= tol*(1+math.Abs(b)) }

func wantValues(t *testing.T, name string, got *nabla.Tensor, want ...float64) {
	t.Helper()
	g := got.Float64s()
	if len(g) != len(want) {
		t.Fatalf("%s = %v; want %v", name, g, want)
	}
	for i := range g {
		if !approx(g[i], want[i], 1e-5) {
			t.Fatalf("%s = %v; want %v", name, g, want)
		}
	}
}

// wantPanic runs f and checks that it panics with an error of type E whose
// message contains each of the fragments.
func wantPanic[E error](t *testing.T, f func(), fragments ...string) {
	t.Helper()
	err := nabla.Maybe(f)
	var target E
	if !errors.As(err, &target) {
		t.Fatalf("got error %v; want a %T", err, target)
	}
	for _, frag := range fragments {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("error %q does not mention %q", err, frag)
		}
	}
}

func TestBackwardAccumulates(t *testing.T) {
	x := nabla.FromSlice([]float64{1, 2, 3}).RequireGrad()
	x.Square().Sum().Backward()
	wantValues(t, "grad after one call", x.Grad(), 2, 4, 6)
	x.Square().Sum().Backward()
	wantValues(t, "grad after two calls", x.Grad(), 4, 8, 12)
	kept := x.Grad()
	x.ZeroGrad()
	wantValues(t, "grad after ZeroGrad", x.Grad(), 0, 0, 0)
	if x.Grad() != kept {
		t.Error("ZeroGrad replaced the gradient instead of zeroing it in place")
	}
	// Fan-out within one graph: x is used three times.
	x.Mul(x).Add(x).Sum().Backward()
	wantValues(t, "grad of x²+x", x.Grad(), 3, 5, 7)
}

func TestBackwardWithUpstream(t *testing.T) {
	x := nabla.FromSlice([]float64{1, 2}).RequireGrad()
	y := x.MulScalar(3)
	y.Backward(nabla.WithUpstream(nabla.FromSlice([]float64{1, 10})))
	wantValues(t, "grad", x.Grad(), 3, 30)
}

func TestBackwardErrors(t *testing.T) {
	x := nabla.FromSlice([]float64{1, 2}).RequireGrad()
	wantPanic[*nabla.GradError](t, func() { x.MulScalar(2).Backward() }, "not a scalar", "WithUpstream")
	wantPanic[*nabla.GradError](t, func() { nabla.Ones(2).Sum().Backward() }, "does not require grad")
	wantPanic[*nabla.ShapeError](t, func() { x.MulScalar(2).Backward(nabla.WithUpstream(nabla.Ones(3))) }, "upstream")

	y := x.Square().Sum()
	y.Backward()
	wantPanic[*nabla.GradError](t, func() { y.Backward() }, "released", "RetainGraph")

	x.ZeroGrad()
	z := x.Square().Sum()
	z.Backward(nabla.RetainGraph())
	z.Backward()
	wantValues(t, "grad after retained graph ran twice", x.Grad(), 4, 8)
}

func TestDetach(t *testing.T) {
	x := nabla.FromSlice([]float64{2}).RequireGrad()
	y := x.Mul(x.Detach()) // d/dx = detached x = 2
	y.Sum().Backward()
	wantValues(t, "grad", x.Grad(), 2)
	d := x.Detach()
	if d.RequiresGrad() || !d.IsLeaf() {
		t.Error("Detach result requires grad or is not a leaf")
	}
	d.Set(5, 0)
	if x.Item() != 5 {
		t.Errorf("Detach does not share memory: x = %v", x.Item())
	}
}

func TestNonDifferentiablePoints(t *testing.T) {
	for _, tt := range []struct {
		name string
		f    func(x *nabla.Tensor) *nabla.Tensor
		x    []float64
		want []float64
	}{
		{"relu at 0", (*nabla.Tensor).Relu, []float64{-1, 0, 1}, []float64{0, 0, 1}},
		{"leaky relu at 0", func(x *nabla.Tensor) *nabla.Tensor { return x.LeakyRelu(0.1) }, []float64{-1, 0, 1}, []float64{0.1, 0.1, 1}},
		{"abs at 0", (*nabla.Tensor).Abs, []float64{-2, 0, 2}, []float64{-1, 0, 1}},
		{"max ties share", func(x *nabla.Tensor) *nabla.Tensor { return x.Max() }, []float64{3, 1, 3}, []float64{0.5, 0, 0.5}},
		{"min ties share", func(x *nabla.Tensor) *nabla.Tensor { return x.Min() }, []float64{1, 1, 1, 2}, []float64{1.0 / 3, 1.0 / 3, 1.0 / 3, 0}},
		{"maximum tie halves", func(x *nabla.Tensor) *nabla.Tensor { return x.Maximum(nabla.FromSlice([]float64{1, 1, 1})) }, []float64{0, 1, 2}, []float64{0, 0.5, 1}},
		{"clamp boundaries pass", func(x *nabla.Tensor) *nabla.Tensor { return x.Clamp(-1, 1) }, []float64{-2, -1, 0, 1, 2}, []float64{0, 1, 1, 1, 0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			x := nabla.FromSlice(tt.x).RequireGrad()
			tt.f(x).Sum().Backward()
			wantValues(t, "grad", x.Grad(), tt.want...)
		})
	}
}

func TestShapeErrors(t *testing.T) {
	a, b := nabla.Ones(2, 3), nabla.Ones(4, 3)
	for _, tt := range []struct {
		name string
		f    func()
		want []string
	}{
		{"add", func() { a.Add(b) }, []string{"nabla: Add: shapes [2 3] and [4 3]", "do not broadcast"}},
		{"matmul", func() { a.MatMul(b) }, []string{"MatMul", "3 != 4"}},
		{"axis", func() { a.Sum(2) }, []string{"Sum", "axis 2 out of range"}},
		{"reshape", func() { a.Reshape(4, 2) }, []string{"Reshape", "[2 3]", "[4 2]"}},
		{"concat", func() { nabla.Concat([]*nabla.Tensor{a, nabla.Ones(2, 2)}, 0) }, []string{"Concat", "dimension 1"}},
		{"from slice", func() { nabla.FromSlice([]float32{1, 2, 3}, 2, 2) }, []string{"FromSlice", "4 elements"}},
	} {
		t.Run(tt.name, func(t *testing.T) { wantPanic[*nabla.ShapeError](t, tt.f, tt.want...) })
	}
	wantPanic[*nabla.ValueError](t, func() { nabla.Ones(3).IndexSelect(0, nabla.FromSlice([]int64{3})) }, "IndexSelect", "index 3", "size 3")
	wantPanic[*nabla.ValueError](t, func() { nabla.Ones(3).IndexSelect(0, nabla.FromSlice([]int64{-1})) }, "IndexSelect", "index -1")
	wantPanic[*nabla.ValueError](t, func() { nabla.Ones(3).Gather(0, nabla.FromSlice([]float32{1})) }, "Gather", "float32", ".To(nabla.Int64)")
	wantPanic[*nabla.ValueError](t, func() { nabla.OneHot(nabla.FromSlice([]int64{0, 3}), 3) }, "OneHot", "index 3")
}

func TestMaybePassesOtherPanics(t *testing.T) {
	defer func() {
		if r := recover(); r != "boom" {
			t.Errorf("recovered %v; want the original panic", r)
		}
	}()
	nabla.Maybe(func() { panic("boom") })
}

func TestViewsShareMemory(t *testing.T) {
	x := nabla.Arange(0, 6, 1).Reshape(2, 3)
	x.T().Set(100, 2, 1) // x[1][2]
	x.Slice(1, 0, 3, 2).Set(50, 0, 1)
	x.Reshape(6).Set(7, 0)
	wantValues(t, "x", x, 7, 1, 50, 3, 4, 100)
	e := nabla.FromSlice([]float32{1, 2}).BroadcastTo(3, 2)
	wantValues(t, "broadcast", e, 1, 2, 1, 2, 1, 2)
	if s := e.Strides(); s[0] != 0 {
		t.Errorf("broadcast strides = %v; want 0 on the new axis", s)
	}
}

func TestBroadcastingValues(t *testing.T) {
	a := nabla.FromSlice([]float64{1, 2, 3}, 3, 1)
	b := nabla.FromSlice([]float64{10, 20}, 1, 2)
	wantValues(t, "a+b", a.Add(b), 11, 21, 12, 22, 13, 23)
	wantValues(t, "a*scalar", a.MulScalar(2), 2, 4, 6)
	if got := a.Add(b).Shape(); got[0] != 3 || got[1] != 2 {
		t.Errorf("shape = %v; want [3 2]", got)
	}
	mixed := nabla.FromSlice([]float32{1}).Add(nabla.FromSlice([]float64{2}))
	if mixed.DType() != nabla.Float64 {
		t.Errorf("float32+float64 is %v; want float64", mixed.DType())
	}
}

func TestReductionsValues(t *testing.T) {
	x := nabla.FromSlice([]float64{1, 5, 3, 4, 2, 6}, 2, 3)
	wantValues(t, "sum(0)", x.Sum(0), 5, 7, 9)
	wantValues(t, "sum(1)", x.Sum(1), 9, 12)
	wantValues(t, "mean", x.Mean(), 3.5)
	wantValues(t, "max(1)", x.Max(1), 5, 6)
	wantValues(t, "min(0)", x.Min(0), 1, 2, 3)
	wantValues(t, "argmax(1)", x.ArgMax(1), 1, 2)
	wantValues(t, "argmin(0)", x.ArgMin(0), 0, 1, 0)
	wantValues(t, "var(1)", x.Var(1, 1), 4, 4)
	wantValues(t, "softmax sums to 1", x.Softmax(1).Sum(1), 1, 1)
	if got := x.SumKeep(1).Shape(); len(got) != 2 || got[1] != 1 {
		t.Errorf("SumKeep shape = %v; want [2 1]", got)
	}
	big := nabla.FromSlice([]float64{1000, 1000})
	wantValues(t, "logsumexp stable", big.LogSumExp(), 1000+math.Log(2))
	wantValues(t, "sum over transposed view", x.T().Sum(1), 5, 7, 9)
}

func TestMatMulValues(t *testing.T) {
	a := nabla.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	b := nabla.FromSlice([]float32{7, 8, 9, 10, 11, 12}, 3, 2)
	wantValues(t, "a@b", a.MatMul(b), 58, 64, 139, 154)
	wantValues(t, "aT-view@aT-view", a.T().MatMul(a), 17, 22, 27, 22, 29, 36, 27, 36, 45)
	wantValues(t, "dot", nabla.FromSlice([]float32{1, 2}).Dot(nabla.FromSlice([]float32{3, 4})), 11)
	batched := nabla.Stack([]*nabla.Tensor{a, a.MulScalar(2)}, 0).MatMul(b)
	wantValues(t, "batched", batched, 58, 64, 139, 154, 116, 128, 278, 308)
}

func TestIndexOps(t *testing.T) {
	x := nabla.FromSlice([]float64{1, 2, 3, 4, 5, 6}, 3, 2)
	wantValues(t, "index select", x.IndexSelect(0, nabla.FromSlice([]int64{2, 0})), 5, 6, 1, 2)
	wantValues(t, "gather", x.Gather(1, nabla.FromSlice([]int32{1, 0, 1}, 3, 1)), 2, 3, 6)
	wantValues(t, "one hot", nabla.OneHot(nabla.FromSlice([]int64{2, 0}), 3), 0, 0, 1, 1, 0, 0)
	parts := x.Split(0, 1, 2)
	wantValues(t, "split", parts[1], 3, 4, 5, 6)
	wantValues(t, "concat", nabla.Concat([]*nabla.Tensor{x, x}, 1).Index(0, 1), 3, 4, 3, 4)
}

// TestNoGradConcurrent trains one model while another goroutine evaluates a
// second one under NoGrad; run with -race.
func TestNoGradConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	wA := nabla.FromSlice([]float64{1, 2, 3}).RequireGrad()
	wB := nabla.FromSlice([]float64{4, 5, 6}).RequireGrad()
	x := nabla.FromSlice([]float64{1, 1, 1})
	errs := make(chan string, 2)
	wg.Go(func() {
		for range 200 {
			wA.ZeroGrad()
			wA.Mul(x).Square().Sum().Backward()
			if g := wA.Grad().Float64s(); g[0] != 2 || g[2] != 6 {
				errs <- "training goroutine got wrong gradient"
				return
			}
		}
	})
	wg.Go(func() {
		for range 200 {
			var y *nabla.Tensor
			nabla.NoGrad(func() { y = wB.Mul(x).Sum() }, wB)
			if y.RequiresGrad() {
				errs <- "NoGrad result requires grad"
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if !wB.RequiresGrad() {
		t.Error("NoGrad did not restore RequiresGrad")
	}
}

// TestLogisticRegression trains a model with the ops alone on a separable
// toy set and checks that the loss falls and every point is classified.
func TestLogisticRegression(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 64
	xs := make([]float32, 0, 2*n)
	ys := make([]float32, 0, n)
	for i := 0; i < n; i++ {
		a, b := rng.Float64()*2-1, rng.Float64()*2-1
		if math.Abs(a+b) < 0.1 {
			i--
			continue
		}
		xs = append(xs, float32(a), float32(b))
		label := float32(0)
		if a+b > 0 {
			label = 1
		}
		ys = append(ys, label)
	}
	X := nabla.FromSlice(xs, n, 2)
	Y := nabla.FromSlice(ys, n, 1)
	w := nabla.Zeros(2, 1).RequireGrad()
	b := nabla.Zeros(1).RequireGrad()
	lossAt := func() *nabla.Tensor {
		p := X.MatMul(w).Add(b).Sigmoid().Clamp(1e-6, 1-1e-6)
		// binary cross-entropy
		return Y.Mul(p.Log()).Add(Y.Neg().AddScalar(1).Mul(p.Neg().AddScalar(1).Log())).Mean().Neg()
	}
	first := lossAt().Item()
	var last float64
	for range 300 {
		loss := lossAt()
		last = loss.Item()
		w.ZeroGrad()
		b.ZeroGrad()
		loss.Backward()
		for _, p := range []*nabla.Tensor{w, b} {
			d, g := p.Data32(), p.Grad().Data32()
			for i := range d {
				d[i] -= 1.0 * g[i]
			}
		}
	}
	if !(last < first/4) {
		t.Errorf("loss went from %v to %v; want it to fall at least 4-fold", first, last)
	}
	pred := X.MatMul(w).Add(b).Greater(nabla.Zeros())
	correct := pred.Equal(Y).Sum().Item()
	if correct != n {
		t.Errorf("accuracy %v/%d; want 100%%", correct, n)
	}
}

func TestStringElides(t *testing.T) {
	s := nabla.Zeros(2000).String()
	if !strings.Contains(s, "...") || len(s) > 200 {
		t.Errorf("String of 2000 zeros = %.80q (len %d); want an elided form", s, len(s))
	}
	if got := nabla.Scalar(1.5).String(); got != "1.5 shape=[] float32" {
		t.Errorf("scalar String = %q", got)
	}
	x := nabla.Ones(2).RequireGrad()
	if got := x.MulScalar(2).String(); !strings.Contains(got, "grad_fn=Mul") {
		t.Errorf("String = %q; want grad_fn=Mul", got)
	}
}

func TestLeafGradContiguous(t *testing.T) {
	// A linear layer multiplies by the transpose of its weight; the
	// weight's gradient must still be contiguous for in-place updates.
	rng := rand.New(rand.NewPCG(1, 1))
	w := nabla.RandN(rng, 4, 3).RequireGrad()
	x := nabla.RandN(rng, 5, 3)
	x.MatMul(w.T()).Sum().Backward()
	if !w.Grad().IsContiguous() {
		t.Fatalf("weight grad strides %v are not contiguous", w.Grad().Strides())
	}
	// d/dW sum(x Wᵀ) = column sums of x, for every row of W.
	cs := x.Sum(0).Float64s()
	g := w.Grad().Float64s()
	for i := range 4 {
		for j := range 3 {
			if !approx(g[i*3+j], cs[j], 1e-5) {
				t.Fatalf("grad = %v; want rows of %v", g, cs)
			}
		}
	}
}

func TestBackwardRecordsNothingWithoutCreateGraph(t *testing.T) {
	w := nabla.FromSlice([]float64{1, 2}).RequireGrad()
	w.Sin().Mul(w).Sum().Backward()
	g := w.Grad()
	if g.RequiresGrad() || !g.IsLeaf() {
		t.Fatalf("gradient requires grad (%v) or has an op (%q)", g.RequiresGrad(), g.Op())
	}
	// The gradient is a plain tensor: using it with a tensor that requires
	// grad records as usual.
	if !g.Mul(w).RequiresGrad() {
		t.Error("grad·w does not record; the no-graph mark leaked out of Backward")
	}
	gs := nabla.Gradients(w.Square().Sum(), []*nabla.Tensor{w})
	if !gs[0].Mul(w).RequiresGrad() {
		t.Error("Gradients result leaks the no-graph mark")
	}
	// With CreateGraph the gradient is itself differentiable.
	w2 := nabla.FromSlice([]float64{3}).RequireGrad()
	w2.PowScalar(3).Sum().Backward(nabla.CreateGraph())
	if !w2.Grad().RequiresGrad() {
		t.Fatal("gradient under CreateGraph has no graph")
	}
	d2 := nabla.Gradients(w2.Grad().Sum(), []*nabla.Tensor{w2})
	wantValues(t, "second derivative of x³ at 3", d2[0], 18)
}
