package workload

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/data"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/optim"
)

func TestQuickWorkloads(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	var got []Result
	err := Run(context.Background(), Config{Workloads: []string{"W2", "W5"}, Quick: true}, func(r Result) { got = append(got, r) })
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"W2/1elem/fwd_us_per_op": false, "W2/64x64/fwd_bwd_us_per_op": false, "W5/mlp-batch1/us_per_call": false}
	for _, r := range got {
		k := r.Workload + "/" + r.Case + "/" + r.Metric
		if _, ok := want[k]; ok {
			want[k] = true
		}
		if !(r.Value > 0) || r.Impl != "nabla" || r.Threads != 1 {
			t.Errorf("bad result %+v", r)
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("no %s figure", k)
		}
	}
}

func TestUnknownWorkload(t *testing.T) {
	if err := Run(context.Background(), Config{Workloads: []string{"W99"}}, func(Result) {}); err == nil {
		t.Error("Run(W99) = nil; want an error")
	}
}

// TestMLPStepHeap checks the budget: a warm training step of the
// 784-256-128-10 MLP at batch 128, with nn layers, Adam, a Loader and an
// arena, allocates less than 1 MB on the Go heap.
func TestMLPStepHeap(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items, so allocations are not representative")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 1024
	pixels := make([]uint8, n*784)
	labels := make([]float32, n)
	for i := range pixels {
		pixels[i] = uint8(rng.IntN(256))
	}
	for i := range labels {
		labels[i] = float32(rng.IntN(10))
	}
	ds, err := data.FromBytes(pixels, []int{n, 1, 28, 28}, 1.0/255, labels, []int{n})
	if err != nil {
		t.Fatal(err)
	}
	m := MLP(rng)
	opt := optim.NewAdam(m.Params(), optim.AdamConfig{LR: 1e-3})
	loader := data.NewLoader(ds, data.LoaderConfig{BatchSize: 128, Shuffle: true, Seed: 1, Labels: true})
	ar := nabla.NewArena()
	step := func(b data.Batch) {
		opt.ZeroGrad()
		loss := nn.CrossEntropy(m.Forward(b.X.InArena(ar)), b.Y)
		loss.Backward()
		opt.Step()
		ar.Reset()
	}
	for _, b := range loader.Epoch(0) { // warm up
		step(b)
	}
	var before, after runtime.MemStats
	steps := 0
	runtime.ReadMemStats(&before)
	for _, b := range loader.Epoch(1) {
		step(b)
		steps++
	}
	runtime.ReadMemStats(&after)
	perStep := (after.TotalAlloc - before.TotalAlloc) / uint64(steps)
	t.Logf("warm MLP training step: %d bytes, %d allocations", perStep, (after.Mallocs-before.Mallocs)/uint64(steps))
	if perStep >= 1<<20 {
		t.Errorf("a warm step allocates %d bytes; want < 1 MiB", perStep)
	}
}

// TestQuickOps runs OPS quick and checks that every case reports both
// metrics, once each, with a positive finite time. The tensors are shrunk
// to (16, 64): the test checks the plumbing, not the speed, and must stay
// fast under the race detector.
func TestQuickOps(t *testing.T) {
	var got []Result
	cfg := Config{Workloads: []string{"OPS"}, Quick: true, opsShape: [2]int{16, 64}}
	err := Run(context.Background(), cfg, func(r Result) { got = append(got, r) })
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range got {
		seen[r.Case+"/"+r.Metric]++
		if !(r.Value > 0) || math.IsInf(r.Value, 0) || r.Workload != "OPS" || r.Impl != "nabla" || r.Unit != "us" || r.Threads != 1 {
			t.Errorf("bad result %+v", r)
		}
	}
	cases := opCases(nabla.Zeros(16, 64), nabla.Zeros(64), nabla.Zeros(16))
	if len(cases) != 19 {
		t.Errorf("%d OPS cases; want 19", len(cases))
	}
	for _, c := range cases {
		for _, m := range []string{"fwd_us", "fwd_bwd_us"} {
			if n := seen[c.name+"/"+m]; n != 1 {
				t.Errorf("%s %s: %d figures; want 1", c.name, m, n)
			}
		}
	}
	if len(got) != 2*len(cases) {
		t.Errorf("%d figures; want %d", len(got), 2*len(cases))
	}
}

// TestShapedOps runs each OPS case with an input of its own once, forward
// and backward, and checks that x's gradient has x's shape and is finite
// and not all zero (the timing loop itself is TestQuickOps's).
func TestShapedOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, c := range shapedCases(rand.New(rand.NewPCG(5, 6))) {
		x := nabla.RandN(rng, c.shape...).RequireGrad()
		y := c.f(x)
		y.Backward(nabla.WithUpstream(nabla.OnesLike(y)))
		g := x.Grad()
		if g == nil || !slices.Equal(g.Shape(), x.Shape()) {
			t.Errorf("%s: gradient %v for x of shape %v", c.name, g, x.Shape())
			continue
		}
		if a := g.Abs().Sum().Item(); !(a > 0) || math.IsInf(a, 0) {
			t.Errorf("%s: sum of |gradient| %v", c.name, a)
		}
	}
}
