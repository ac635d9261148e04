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
