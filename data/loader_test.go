package data_test

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/data"
)

// indexDataset returns n samples whose features are [i, 10i, 100i] and
// whose target is i, so that a batch shows which samples it holds.
func indexDataset(t testing.TB, n int) *data.TensorDataset {
	t.Helper()
	x := make([]float32, 3*n)
	y := make([]float32, n)
	for i := range n {
		x[3*i], x[3*i+1], x[3*i+2] = float32(i), float32(10*i), float32(100*i)
		y[i] = float32(i)
	}
	ds, err := data.FromFloat32s(x, []int{n, 3}, y, []int{n})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// collect runs one epoch and returns the sample indices of each batch,
// checking that X and Y hold those samples.
func collect(t *testing.T, l *data.Loader, epoch int) [][]int {
	t.Helper()
	var out [][]int
	for i, b := range l.Epoch(epoch) {
		if i != len(out) {
			t.Fatalf("batch number %d; want %d", i, len(out))
		}
		ys := b.Y.Float32s()
		xs := b.X.Float32s()
		if got, want := b.X.Shape(), []int{len(b.Indices), 3}; !slices.Equal(got, want) {
			t.Fatalf("batch %d: X shape %v; want %v", i, got, want)
		}
		if got, want := b.Y.Shape(), []int{len(b.Indices)}; !slices.Equal(got, want) {
			t.Fatalf("batch %d: Y shape %v; want %v", i, got, want)
		}
		var idx []int
		for k, v := range ys {
			if int(v) != b.Indices[k] || xs[3*k+2] != 100*v {
				t.Fatalf("batch %d row %d: x=%v y=%v; want sample %d", i, k, xs[3*k:3*k+3], v, b.Indices[k])
			}
			idx = append(idx, int(v))
		}
		out = append(out, idx)
	}
	return out
}

func TestLoaderEverySampleOnce(t *testing.T) {
	ds := indexDataset(t, 103)
	for _, prefetch := range []int{-1, 1, 2, 5} {
		t.Run(fmt.Sprint("prefetch", prefetch), func(t *testing.T) {
			l := data.NewLoader(ds, data.LoaderConfig{BatchSize: 10, Shuffle: true, Seed: 7, Prefetch: prefetch})
			if l.Len() != 11 {
				t.Errorf("Len = %d; want 11", l.Len())
			}
			for epoch := range 3 {
				batches := collect(t, l, epoch)
				if len(batches) != 11 || len(batches[10]) != 3 {
					t.Fatalf("epoch %d: %d batches, last of %d; want 11, last of 3", epoch, len(batches), len(batches[len(batches)-1]))
				}
				seen := make([]int, ds.Len())
				for _, b := range batches {
					for _, i := range b {
						seen[i]++
					}
				}
				for i, c := range seen {
					if c != 1 {
						t.Errorf("epoch %d: sample %d seen %d times", epoch, i, c)
					}
				}
			}
		})
	}
}

func TestLoaderShuffle(t *testing.T) {
	ds := indexDataset(t, 50)
	cfg := data.LoaderConfig{BatchSize: 8, Shuffle: true, Seed: 42}
	a, b := data.NewLoader(ds, cfg), data.NewLoader(ds, cfg)
	e0, e1 := collect(t, a, 0), collect(t, a, 1)
	if slices.EqualFunc(e0, e1, slices.Equal) {
		t.Error("epochs 0 and 1 have the same order")
	}
	// another loader, epochs visited out of order (as when resuming)
	if got := collect(t, b, 1); !slices.EqualFunc(got, e1, slices.Equal) {
		t.Error("epoch 1 differs between two loaders with the same seed")
	}
	if got := collect(t, b, 0); !slices.EqualFunc(got, e0, slices.Equal) {
		t.Error("epoch 0 differs between two loaders with the same seed")
	}
	cfg.Seed = 43
	if got := collect(t, data.NewLoader(ds, cfg), 0); slices.EqualFunc(got, e0, slices.Equal) {
		t.Error("seeds 42 and 43 give the same order")
	}
	cfg.Shuffle = false
	flat := slices.Concat(collect(t, data.NewLoader(ds, cfg), 3)...)
	for i, v := range flat {
		if v != i {
			t.Fatalf("unshuffled order = %v; want 0, 1, ...", flat)
		}
	}
}

func TestLoaderDropLast(t *testing.T) {
	ds := indexDataset(t, 23)
	l := data.NewLoader(ds, data.LoaderConfig{BatchSize: 5, Shuffle: true, DropLast: true})
	batches := collect(t, l, 0)
	if len(batches) != 4 || l.Len() != 4 {
		t.Fatalf("%d batches (Len %d); want 4", len(batches), l.Len())
	}
	for _, b := range batches {
		if len(b) != 5 {
			t.Errorf("batch of %d; want 5", len(b))
		}
	}
	if got, want := slices.Concat(batches...), l.Order(0)[:20]; !slices.Equal(got, want) {
		t.Errorf("samples %v; want the first 20 of Order: %v", got, want)
	}
	// smaller than one batch
	l = data.NewLoader(indexDataset(t, 3), data.LoaderConfig{BatchSize: 5, DropLast: true})
	if n := len(collect(t, l, 0)); n != 0 {
		t.Errorf("3 samples, batch 5, drop last: %d batches; want 0", n)
	}
	l = data.NewLoader(indexDataset(t, 3), data.LoaderConfig{BatchSize: 5})
	if b := collect(t, l, 0); len(b) != 1 || len(b[0]) != 3 {
		t.Errorf("3 samples, batch 5: batches %v; want one of 3", b)
	}
	l = data.NewLoader(indexDataset(t, 0), data.LoaderConfig{BatchSize: 5})
	if b := collect(t, l, 0); len(b) != 0 {
		t.Errorf("empty dataset: batches %v", b)
	}
}

func TestLoaderEpochFrom(t *testing.T) {
	ds := indexDataset(t, 40)
	l := data.NewLoader(ds, data.LoaderConfig{BatchSize: 6, Shuffle: true, Seed: 3})
	all := collect(t, l, 2)
	var got [][]int
	first := -1
	for i, b := range l.EpochFrom(2, 4) {
		if first < 0 {
			first = i
		}
		got = append(got, slices.Clone(b.Indices))
	}
	if first != 4 || !slices.EqualFunc(got, all[4:], slices.Equal) {
		t.Errorf("EpochFrom(2, 4) started at %d with %v; want 4 with %v", first, got, all[4:])
	}
	for range l.EpochFrom(2, 7) {
		t.Error("EpochFrom past the end yielded a batch")
	}
}

// waitGoroutines waits for the number of goroutines to fall back to n.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines running; want %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLoaderBreakDoesNotLeak(t *testing.T) {
	ds := indexDataset(t, 1000)
	before := runtime.NumGoroutine()
	for _, prefetch := range []int{1, 2, 8} {
		l := data.NewLoader(ds, data.LoaderConfig{BatchSize: 10, Shuffle: true, Prefetch: prefetch})
		for range 20 {
			for i := range l.Epoch(0) {
				if i == 2 {
					break
				}
			}
		}
		// a consumer that stops at once
		for range l.Epoch(1) {
			break
		}
	}
	waitGoroutines(t, before)
}

func TestLoaderPanics(t *testing.T) {
	before := runtime.NumGoroutine()
	ds := data.Map(indexDataset(t, 100), func(x, y []float32) {
		if y[0] == 57 {
			panic("bad sample 57")
		}
	})
	l := data.NewLoader(ds, data.LoaderConfig{BatchSize: 10})
	func() {
		defer func() {
			if r := recover(); r != "bad sample 57" {
				t.Errorf("recovered %v; want the dataset's panic", r)
			}
		}()
		for range l.Epoch(0) {
		}
		t.Error("no panic")
	}()
	// a panic in the loop body stops the producer too
	l = data.NewLoader(indexDataset(t, 100), data.LoaderConfig{BatchSize: 10})
	func() {
		defer func() { recover() }()
		for range l.Epoch(0) {
			panic("consumer")
		}
	}()
	waitGoroutines(t, before)
}

func TestLoaderConcurrentEpochs(t *testing.T) {
	ds := indexDataset(t, 200)
	l := data.NewLoader(ds, data.LoaderConfig{BatchSize: 16, Shuffle: true, Seed: 9})
	want := collect(t, l, 5)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 3 {
				var got [][]int
				for _, b := range l.Epoch(5) {
					ys := b.Y.Float32s()
					idx := make([]int, len(ys))
					for k, v := range ys {
						idx[k] = int(v)
					}
					got = append(got, idx)
				}
				if !slices.EqualFunc(got, want, slices.Equal) {
					t.Error("concurrent epoch differs")
				}
			}
		})
	}
	wg.Wait()
}

// TestLoaderReusesBuffers checks that an epoch's allocations do not grow
// with its number of batches.
func TestLoaderReusesBuffers(t *testing.T) {
	ds := indexDataset(t, 2000)
	for _, prefetch := range []int{-1, 2} {
		l := data.NewLoader(ds, data.LoaderConfig{BatchSize: 10, Shuffle: true, Prefetch: prefetch})
		for range l.Epoch(0) { // warm: allocates the buffers
		}
		allocs := testing.AllocsPerRun(5, func() {
			for range l.Epoch(0) {
			}
		})
		if allocs > 20 { // 200 batches
			t.Errorf("prefetch %d: %v allocations per epoch of 200 batches; want a few", prefetch, allocs)
		}
	}
}

func TestNewLoaderPanics(t *testing.T) {
	if err := nabla.Maybe(func() { data.NewLoader(indexDataset(t, 3), data.LoaderConfig{}) }); err == nil {
		t.Error("batch size 0 accepted")
	}
}

func BenchmarkLoaderEpoch(b *testing.B) {
	const n, f = 6000, 784
	x := make([]float32, n*f)
	y := make([]float32, n)
	ds, err := data.FromFloat32s(x, []int{n, f}, y, []int{n})
	if err != nil {
		b.Fatal(err)
	}
	for _, prefetch := range []int{-1, 2} {
		b.Run(fmt.Sprint("mnist-like/batch128/prefetch", prefetch), func(b *testing.B) {
			l := data.NewLoader(ds, data.LoaderConfig{BatchSize: 128, Shuffle: true, Prefetch: prefetch})
			b.ReportAllocs()
			for b.Loop() {
				for range l.Epoch(0) {
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*l.Len()), "ns/batch")
		})
	}
}

func TestLoaderLabelsInt64(t *testing.T) {
	ds, err := data.FromFloat32s([]float32{1, 2, 3, 4, 5, 6}, []int{3, 2}, []float32{2, 0, 1}, []int{3})
	if err != nil {
		t.Fatal(err)
	}
	for _, labels := range []bool{false, true} {
		l := data.NewLoader(ds, data.LoaderConfig{BatchSize: 2, Labels: labels})
		var got []int64
		for _, b := range l.Epoch(0) {
			want := nabla.Float32
			if labels {
				want = nabla.Int64
			}
			if b.Y.DType() != want {
				t.Errorf("Labels %v: Y is %v, want %v", labels, b.Y.DType(), want)
			}
			got = append(got, b.Y.Int64s()...)
		}
		if !slices.Equal(got, []int64{2, 0, 1}) {
			t.Errorf("Labels %v: labels %v", labels, got)
		}
	}
}
