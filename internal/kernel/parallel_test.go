// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
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
					if want := max(1, min(procs, n/max(grain, 1))); int(calls.Load()) != want {
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
			// 4 outer items × 3 middle × the ParallelFor parts.
			if want := 12 * min(procs, 4); int(leaves.Load()) != want {
				t.Errorf("procs=%d: %d leaves ran; want %d", procs, leaves.Load(), want)
			}
		}()
	}
}
