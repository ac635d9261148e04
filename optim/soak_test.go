package optim_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/optim"
)

// rssBytes returns the resident set size of this process (Linux).
func rssBytes(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc/self/statm: %v", err)
	}
	f := bytes.Fields(b)
	pages, _ := strconv.ParseInt(string(f[1]), 10, 64)
	return pages * int64(os.Getpagesize())
}

// TestSoak trains a small MLP (32-256-256-10, batch 64, Adam, an arena for
// every step) for 20,000 steps and checks that the resident memory and the
// goroutine count at the end are within a small bound of their values after
// warm-up: nothing leaks per step. It takes a minute or more, so it runs
// only with NABLA_SOAK=1 (NABLA_SOAK_STEPS changes the count).
func TestSoak(t *testing.T) {
	if os.Getenv("NABLA_SOAK") == "" {
		t.Skip("set NABLA_SOAK=1 to run the 20,000-step soak test")
	}
	steps := 20000
	if s := os.Getenv("NABLA_SOAK_STEPS"); s != "" {
		steps, _ = strconv.Atoi(s)
	}
	const warm = 1000
	rng := rand.New(rand.NewPCG(1, 1))
	model := nn.NewSequential(nn.NewLinear(rng, 32, 256), nn.ReLU{}, nn.NewLinear(rng, 256, 256), nn.ReLU{}, nn.NewLinear(rng, 256, 10))
	opt := optim.NewAdam(model.Params(), optim.AdamConfig{LR: 1e-3})
	x := nabla.RandN(rng, 64, 32)
	lab := make([]float32, 64)
	for i := range lab {
		lab[i] = float32(rng.IntN(10))
	}
	labels := nabla.FromSlice(lab)
	ar := nabla.NewArena()
	var first, last float64
	type sample struct {
		rss, heap  int64
		goroutines int
	}
	measure := func() sample {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return sample{rssBytes(t), int64(ms.HeapAlloc), runtime.NumGoroutine()}
	}
	var atWarm sample
	for s := 1; s <= steps; s++ {
		opt.ZeroGrad()
		loss := nn.CrossEntropy(model.Forward(x.InArena(ar)), labels)
		loss.Backward()
		opt.Step()
		l := loss.Item()
		ar.Reset()
		if s == 1 {
			first = l
		}
		last = l
		if s == warm {
			atWarm = measure()
		}
	}
	end := measure()
	t.Logf("%d steps: loss %.4f -> %.6f; after %d warm-up steps RSS %.1f MB, heap %.1f MB, %d goroutines; at the end RSS %.1f MB, heap %.1f MB, %d goroutines",
		steps, first, last, warm, float64(atWarm.rss)/1e6, float64(atWarm.heap)/1e6, atWarm.goroutines, float64(end.rss)/1e6, float64(end.heap)/1e6, end.goroutines)
	if !(last < first) {
		t.Errorf("the loss did not decrease: %v -> %v", first, last)
	}
	if grow := end.rss - atWarm.rss; grow > 8<<20 {
		t.Errorf("RSS grew by %.1f MB after warm-up; want < 8 MB", float64(grow)/1e6)
	}
	if grow := end.heap - atWarm.heap; grow > 1<<20 {
		t.Errorf("live heap grew by %.1f MB after warm-up; want < 1 MB", float64(grow)/1e6)
	}
	if end.goroutines > atWarm.goroutines+2 {
		t.Errorf("goroutines %d at the end, %d after warm-up", end.goroutines, atWarm.goroutines)
	}
}
