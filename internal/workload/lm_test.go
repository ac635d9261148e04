package workload

import (
	"context"
	"errors"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
)

// TestTokenBatch checks that a batch's targets are its inputs shifted by
// one token of the stream.
func TestTokenBatch(t *testing.T) {
	ids := make([]int, 100)
	for i := range ids {
		ids[i] = i
	}
	x, y := batch(rand.New(rand.NewPCG(1, 2)), ids, 3, 5)
	if !slices.Equal(x.Shape(), []int{3, 5}) || !slices.Equal(y.Shape(), []int{3, 5}) {
		t.Fatalf("shapes %v %v, want [3 5]", x.Shape(), y.Shape())
	}
	xs, ys := x.Float64s(), y.Float64s()
	for i := range xs {
		if ys[i] != xs[i]+1 {
			t.Fatalf("target %v after input %v at %d; want the next token", ys[i], xs[i], i)
		}
	}
	for r := range 3 {
		if xs[r*5+4] != xs[r*5]+4 {
			t.Errorf("row %d is not a contiguous window: %v", r, xs[r*5:r*5+5])
		}
	}
}

// TestQuickLMWorkloads runs W6, W7 and W8 quickly on Opticks and checks
// that each reports its figures.
func TestQuickLMWorkloads(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	if raceEnabled {
		// minutes of training steps under the race detector (over ten with
		// the pure-Go GEMM); the default build runs it without
		t.Skip("slow under the race detector")
	}
	if _, err := OpticksPath(); err != nil {
		t.Skip(err)
	}
	var got []Result
	err := Run(context.Background(), Config{Workloads: []string{"W6", "W7", "W8"}, Quick: true}, func(r Result) { got = append(got, r) })
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"W6/opticks-gpt/sec_per_step": false, "W6/opticks-gpt/tokens_per_sec": false,
		"W7/opticks-lstm/sec_per_step": false, "W8/opticks-gpt-prompt16-new64/tokens_per_sec": false}
	for _, r := range got {
		k := r.Workload + "/" + r.Case + "/" + r.Metric
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected figure %s", k)
		}
		want[k] = true
		if !(r.Value > 0) {
			t.Errorf("bad result %+v", r)
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("no %s figure", k)
		}
	}
}

// TestMissingTextFile checks that a missing corpus is an error naming it.
func TestMissingTextFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "none.txt")
	err := Run(context.Background(), Config{Workloads: []string{"W7"}, Quick: true, TextFile: p}, func(Result) {})
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Run(W7, missing file) = %v; want a not-exist error", err)
	}
}

// TestW6ValScheduleMatchesPython pins the W6 validation run's generator to
// values bench/torch_bench.py's splitmix64, fnv1a64 and w6_val_init give
// (computed by plain Python), so that the two sides' runs stay the same.
func TestW6ValScheduleMatchesPython(t *testing.T) {
	for i, want := range []int{107535, 322465, 348110} {
		if got := w6ValStart(0, i, 500000); got != want {
			t.Errorf("w6ValStart(0, %d, 500000) = %d, want %d", i, got, want)
		}
	}
	if got := fnv1a64("wte.weight"); got != 0x61d3a46d83bc4189 {
		t.Errorf("fnv1a64(wte.weight) = %#x, want 0x61d3a46d83bc4189", got)
	}
	g, err := W6Model(100, w6Context)
	if err != nil {
		t.Fatal(err)
	}
	w6ValInit(g)
	want := map[string][]float32{ // elements 0, 1 and 12345
		"wte.weight":               {-0.01268227118998766, -0.008072941564023495, 0.019545838236808777},
		"h.0.attn.out_proj.weight": {0.0011790115386247635, 0.004673924297094345, -0.004374589305371046},
	}
	for _, p := range g.Params() {
		switch {
		case want[p.Name] != nil:
			d := p.Tensor.Data32()
			for k, j := range []int{0, 1, 12345} {
				if d[j] != want[p.Name][k] {
					t.Errorf("%s[%d] = %v, want %v", p.Name, j, d[j], want[p.Name][k])
				}
			}
		case p.Name == "h.0.ln_1.weight" || p.Name == "h.0.ln_1.bias":
			w := float32(0)
			if p.Name == "h.0.ln_1.weight" {
				w = 1
			}
			for _, v := range p.Tensor.Data32() {
				if v != w {
					t.Fatalf("%s holds %v, want all %v", p.Name, v, w)
				}
			}
		}
	}
}
