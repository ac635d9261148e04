// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestParallelFor checks that the ranges of ParallelFor cover [0, n)
// exactly once, with and without a split.
func TestParallelFor(t *testing.T) {
	for _, procs := range []int{1, 2, 3} {
		func() {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			for _, n := range []int{0, 1, 15, 16, 17, 100, 1000, 4096, 10007} {
				for _, grain := range []int{0, 1, 16, 100, 5000} {
					name := fmt.Sprintf("procs=%d n=%d grain=%d", procs, n, grain)
					hits := make([]atomic.Int32, n)
					var calls atomic.Int32
					ParallelFor(n, grain, func(lo, hi int) {
						calls.Add(1)
						if lo > hi || lo < 0 || hi > n {
							t.Errorf("%s: bad range [%d, %d)", name, lo, hi)
							return
						}
						for i := lo; i < hi; i++ {
							hits[i].Add(1)
						}
					})
					for i := range hits {
						if h := hits[i].Load(); h != 1 {
							t.Fatalf("%s: element %d covered %d times; want 1", name, i, h)
						}
					}
					want := max(1, min(ChunksPerCore*procs, n/max(grain, 1)))
					if procs == 1 {
						want = 1
					}
					if int(calls.Load()) != want {
						t.Errorf("%s: %d calls; want %d", name, calls.Load(), want)
					}
				}
			}
		}()
	}
}

// TestParallelParts checks that ParallelParts covers [0, n) exactly once
// in at most parts non-empty ranges of whole items.
func TestParallelParts(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	for _, n := range []int{0, 1, 2, 3, 5, 17} {
		for _, parts := range []int{1, 2, 3, 8} {
			hits := make([]atomic.Int32, n)
			var calls atomic.Int32
			ParallelParts(n, parts, func(lo, hi int) {
				calls.Add(1)
				if lo >= hi || lo < 0 || hi > n {
					t.Errorf("n=%d parts=%d: bad range [%d, %d)", n, parts, lo, hi)
				}
				for i := lo; i < hi; i++ {
					hits[i].Add(1)
				}
			})
			for i := range hits {
				if h := hits[i].Load(); h != 1 {
					t.Fatalf("n=%d parts=%d: item %d covered %d times", n, parts, i, h)
				}
			}
			if want := min(parts, n); int(calls.Load()) != want {
				t.Errorf("n=%d parts=%d: %d calls; want %d", n, parts, calls.Load(), want)
			}
		}
	}
}

// TestParallelNested runs parallel calls inside the parts of parallel
// calls, three deep, with parallel GEMMs at the bottom: each waiting
// goroutine must run queued parts itself, or the workers (all busy
// waiting) would deadlock. A deadlock shows as the test's timeout.
func TestParallelNested(t *testing.T) {
	const n = 128 // n³ ≥ parallelThreshold: the GEMMs split themselves
	a, b := randSlice[float32](n*n), randSlice[float32](n*n)
	want := make([]float32, n*n)
	naiveGemmF32(false, false, n, n, n, 1, a, n, b, n, 0, want, n)
	for _, procs := range []int{1, 2, 4} {
		func() {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			var leaves atomic.Int32
			ParallelParts(4, 4, func(lo, hi int) {
				for range hi - lo {
					ParallelParts(3, 3, func(lo, hi int) {
						ParallelFor(1<<12, 1<<10, func(lo, hi int) {
							c := make([]float32, n*n)
							GemmF32(false, false, n, n, n, 1, a, n, b, n, 0, c, n)
							for i := range c {
								if d := c[i] - want[i]; d > 1e-3 || d < -1e-3 {
									t.Errorf("procs=%d: c[%d] = %v, want %v", procs, i, c[i], want[i])
									return
								}
							}
							leaves.Add(1)
						})
					})
				}
			})
			// 4 outer items × 3 middle × the ParallelFor parts (4 ranges
			// of 1<<10 when the loop is split).
			want := 12 * 4
			if procs == 1 {
				want = 12
			}
			if int(leaves.Load()) != want {
				t.Errorf("procs=%d: %d leaves ran; want %d", procs, leaves.Load(), want)
			}
		}()
	}
}

// countJob counts the runs of each of its parts.
type countJob struct{ runs []atomic.Int32 }

func (j *countJob) runPart(i int) { j.runs[i].Add(1) }

// TestStaleWorkItem checks that an item of a finished call claims no part
// when it is handled late, in the next call on the same partSync (which
// a pooled job reuses): the claim is tied to the call's generation. An
// item of the current call claims and runs every part but 0, once.
func TestStaleWorkItem(t *testing.T) {
	const parts = 5
	j := &countJob{runs: make([]atomic.Int32, parts)}
	var ps partSync
	ps.wg.Add(parts - 1)
	ps.pending.Store(parts - 1)
	ps.state.Store(5<<32 | 1) // call 5, part 0 the caller's
	stale := workItem{j, &ps, 4, parts}
	stale.run()
	if s := ps.state.Load(); s != 5<<32|1 {
		t.Fatalf("a stale item claimed parts of the next call: state %#x", s)
	}
	cur := workItem{j, &ps, 5, parts}
	cur.run()
	cur.run() // nothing left
	ps.wg.Wait()
	for i := range j.runs {
		want := int32(1)
		if i == 0 {
			want = 0
		}
		if r := j.runs[i].Load(); r != want {
			t.Errorf("part %d ran %d times; want %d", i, r, want)
		}
	}
	if p := ps.pending.Load(); p != 0 {
		t.Errorf("%d parts pending after the item ran them all", p)
	}
}

// TestParallelContended checks that while the process counts as short of
// cores, ParallelFor and ParallelParts still cover their ranges exactly
// once, as the same ranges, on the calling goroutine.
func TestParallelContended(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	rangesOf := func() [][2]int {
		var mu sync.Mutex
		var got [][2]int
		ParallelFor(10000, 1000, func(lo, hi int) {
			mu.Lock()
			got = append(got, [2]int{lo, hi})
			mu.Unlock()
		})
		slices.SortFunc(got, func(a, b [2]int) int { return a[0] - b[0] })
		return got
	}
	contendedUntil.Store(0)
	free := rangesOf()
	contendedUntil.Store(int64(time.Since(clockBase) + time.Hour))
	defer contendedUntil.Store(0)
	if !contended() {
		t.Fatal("contended() is false with contendedUntil an hour ahead")
	}
	busy := rangesOf()
	if !slices.Equal(free, busy) || len(busy) != 8 {
		t.Errorf("ranges when contended %v; want %v (8 ranges)", busy, free)
	}
	for i, r := range busy {
		if i > 0 && r[0] != busy[i-1][1] || r[0] >= r[1] {
			t.Errorf("ranges %v do not tile [0, 10000)", busy)
			break
		}
	}
}

// TestNoteGap checks that one gap alone does not mark the process short
// of cores, and a second within gapWindow does.
func TestNoteGap(t *testing.T) {
	defer contendedUntil.Store(0)
	contendedUntil.Store(0)
	lastGap.Store(0)
	now := time.Now()
	noteGap(now)
	if contended() {
		t.Fatal("contended after one gap")
	}
	noteGap(now.Add(2 * gapWindow))
	if contended() {
		t.Fatal("contended after two gaps further apart than gapWindow")
	}
	noteGap(now.Add(2*gapWindow + gapWindow/2))
	if !contended() {
		t.Fatal("not contended after two gaps within gapWindow")
	}
}
