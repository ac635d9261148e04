// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// partRunner is a computation split into independent parts.
type partRunner interface {
	runPart(i int)
}

type workItem struct {
	job partRunner
	i   int
	ps  *partSync
}

// partSync tracks the parts of one parallel call.
type partSync struct {
	wg      sync.WaitGroup
	pending atomic.Int32 // parts not yet finished
}

// finish marks one part done. The two counters are updated back to back:
// a waiter that sees pending reach 0 then finds the WaitGroup done too,
// instead of parking in Wait (a wake-up costs 100 µs or more in this VM;
// a channel send between the two once cost small products 30%).
func (ps *partSync) finish() {
	ps.pending.Add(-1)
	ps.wg.Done()
}

var (
	workMu      sync.Mutex
	workCh      = make(chan workItem, 256)
	workStarted int // number of worker goroutines started
)

// spinWindow is how long an idle worker polls for work, and a caller for
// its parts to finish, before blocking. A training step issues products a
// few microseconds apart, while waking a blocked goroutine on an idle core
// costs tens to hundreds of microseconds (an inter-processor interrupt,
// more under a hypervisor): as much as a whole product of the W3 MLP.
const spinWindow = 200 * time.Microsecond

// ensureWorkers makes sure at least n worker goroutines are running. Workers
// live for the life of the process and block on workCh when idle.
func ensureWorkers(n int) {
	workMu.Lock()
	for workStarted < n {
		workStarted++
		go worker()
	}
	workMu.Unlock()
}

func worker() {
	for {
		receiveWork().run()
	}
}

func (w workItem) run() {
	w.job.runPart(w.i)
	w.ps.finish()
}

// receiveWork returns the next work item, polling workCh for spinWindow
// (yielding now and then to other goroutines) before blocking on it.
func receiveWork() workItem {
	var sp spinner
	for {
		select {
		case w := <-workCh:
			return w
		default:
		}
		if !sp.spin() {
			return <-workCh
		}
	}
}

// spinner paces a polling loop: the loop polls on every call of spin,
// yields to other goroutines every 64th, and stops (spin reports false)
// once spinWindow has passed since the 64th.
type spinner struct {
	n     int
	start time.Time
}

func (sp *spinner) spin() bool {
	sp.n++
	if sp.n&63 != 0 {
		return true
	}
	if sp.n == 64 {
		sp.start = time.Now()
	} else if time.Since(sp.start) > spinWindow {
		return false
	}
	runtime.Gosched()
	return true
}

// runParallel runs parts 0..parts-1 of job: part 0 on the calling goroutine,
// the others on the worker goroutines, and waits for all of them. ps must
// belong to the caller and be unused.
//
// While it waits, the caller runs queued parts itself, its own or another
// call's, and it blocks only when the queue is empty, that is when every
// part it waits for is running on some goroutine. That makes nested calls
// safe: a part that calls runParallel from a worker queues its sub-parts
// and, if every worker is busy (or waiting the same way), runs them itself
// instead of waiting for a worker that never comes.
func runParallel(job partRunner, parts int, ps *partSync) {
	ensureWorkers(min(parts-1, runtime.GOMAXPROCS(0)))
	ps.wg.Add(parts - 1)
	ps.pending.Store(int32(parts - 1))
	for i := 1; i < parts; i++ {
		workCh <- workItem{job, i, ps}
	}
	job.runPart(0)
	// The parts are balanced, so the others usually finish within
	// microseconds: poll before blocking.
	var sp spinner
	for ps.pending.Load() != 0 {
		select {
		case w := <-workCh:
			w.run()
			continue
		default:
		}
		if !sp.spin() {
			break // the queue was empty just above
		}
	}
	ps.wg.Wait()
}

// ParallelFor calls f on disjoint ranges [lo, hi) that cover [0, n): one
// range per core (runtime.GOMAXPROCS(0)), each of at least grain elements,
// with the split points rounded down to multiples of 16 elements (a 64-byte
// cache line of float32). The ranges run on the worker goroutines that run
// Gemm's parts, which poll for work for a while after each part, so a split
// costs about a microsecond when they are busy; f(0, n) runs on the calling
// goroutine when n < 2*grain or only one core is used. f must be safe to
// call concurrently on disjoint ranges; it may itself call ParallelFor,
// ParallelParts or a parallel Gemm.
func ParallelFor(n, grain int, f func(lo, hi int)) {
	parts := min(runtime.GOMAXPROCS(0), n/max(grain, 1))
	if parts <= 1 {
		f(0, n)
		return
	}
	runRanges(n, parts, 15, f)
}

// ParallelParts calls f on parts ranges [lo, hi) of whole items that cover
// [0, n) as evenly as they can (at most parts of them, each non-empty), on
// the calling goroutine and the workers that ParallelFor uses: for loops
// over a few large items (images, chunks) that ParallelFor's rounding to
// cache lines would split unevenly. f may itself call ParallelFor,
// ParallelParts or a parallel Gemm.
func ParallelParts(n, parts int, f func(lo, hi int)) {
	parts = min(parts, n)
	if parts <= 1 {
		if n > 0 {
			f(0, n)
		}
		return
	}
	runRanges(n, parts, 0, f)
}

// runRanges runs f on parts ranges of [0, n) whose split points are
// rounded down to multiples of round+1, with a pooled job.
func runRanges(n, parts, round int, f func(lo, hi int)) {
	j, _ := rangeJobs.Get().(*rangeJob)
	if j == nil {
		j = new(rangeJob)
	}
	j.f, j.n, j.parts, j.round = f, n, parts, round
	runParallel(j, parts, &j.ps)
	j.f = nil
	rangeJobs.Put(j)
}

var rangeJobs sync.Pool // *rangeJob

// rangeJob is a ParallelFor or ParallelParts call.
type rangeJob struct {
	f        func(lo, hi int)
	n, parts int
	round    int // split points are rounded down to a multiple of round+1
	ps       partSync
}

func (j *rangeJob) bound(i int) int {
	if i == j.parts {
		return j.n
	}
	return j.n * i / j.parts &^ j.round
}

func (j *rangeJob) runPart(i int) { j.f(j.bound(i), j.bound(i+1)) }
