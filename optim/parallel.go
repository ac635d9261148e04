package optim

import (
	"runtime"

	"github.com/nabla-go/nabla/internal/kernel"
)

// parallelMin is the number of elements below which an update runs on the
// calling goroutine: splitting smaller work costs more than it saves.
const parallelMin = 1 << 15

// worthSplitting reports whether an update of n elements should be split
// across cores. Callers check it before building the closure for
// parallelRange, so that small updates allocate nothing.
func worthSplitting(n int) bool {
	return runtime.GOMAXPROCS(0) > 1 && n >= 2*parallelMin
}

// parallelRange calls f on disjoint ranges [lo, hi) that cover [0, n),
// one per core (GOMAXPROCS) for large n and on the caller's goroutine
// otherwise. It runs them on the kernel's worker goroutines
// (kernel.ParallelFor), which are usually awake from the last matrix
// product, instead of starting goroutines that an idle core must be woken
// for. Element-wise updates are independent, so the split does not change
// the result.
func parallelRange(n int, f func(lo, hi int)) {
	kernel.ParallelFor(n, parallelMin, f)
}
