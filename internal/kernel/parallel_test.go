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
