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
	job     partRunner
	i       int
	wg      *sync.WaitGroup
	pending *atomic.Int32
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
		w := receiveWork()
		w.job.runPart(w.i)
		w.pending.Add(-1)
		w.wg.Done()
	}
}

// receiveWork returns the next work item, polling workCh for spinWindow
// (yielding now and then to other goroutines) before blocking on it.
func receiveWork() workItem {
	var start time.Time
	for i := 0; ; i++ {
		select {
		case w := <-workCh:
			return w
		default:
		}
		if i&63 != 63 {
			continue
		}
		if i == 63 {
			start = time.Now()
		} else if time.Since(start) > spinWindow {
			return <-workCh
		}
		runtime.Gosched()
	}
}

// runParallel runs parts 0..parts-1 of job: part 0 on the calling goroutine,
// the others on the worker goroutines, and waits for all of them. wg and
// pending must be owned by the caller and unused.
func runParallel(job partRunner, parts int, wg *sync.WaitGroup, pending *atomic.Int32) {
	ensureWorkers(min(parts-1, runtime.GOMAXPROCS(0)))
	wg.Add(parts - 1)
	pending.Store(int32(parts - 1))
	for i := 1; i < parts; i++ {
		workCh <- workItem{job, i, wg, pending}
	}
	job.runPart(0)
	// The parts are balanced, so the others usually finish within
	// microseconds: poll before blocking.
	var start time.Time
	for i := 0; pending.Load() != 0; i++ {
		if i&63 != 63 {
			continue
		}
		if i == 63 {
			start = time.Now()
		} else if time.Since(start) > spinWindow {
			break
		}
		runtime.Gosched()
	}
	wg.Wait()
}

// ParallelFor calls f on disjoint ranges [lo, hi) that cover [0, n): one
// range per core (runtime.GOMAXPROCS(0)), each of at least grain elements,
// with the split points rounded down to multiples of 16 elements (a 64-byte
// cache line of float32). The ranges run on the worker goroutines that run
// Gemm's parts, which poll for work for a while after each part, so a split
// costs about a microsecond when they are busy; f(0, n) runs on the calling
// goroutine when n < 2*grain or only one core is used. f must be safe to
// call concurrently on disjoint ranges.
func ParallelFor(n, grain int, f func(lo, hi int)) {
	parts := min(runtime.GOMAXPROCS(0), n/max(grain, 1))
	if parts <= 1 {
		f(0, n)
		return
	}
	j, _ := rangeJobs.Get().(*rangeJob)
	if j == nil {
		j = new(rangeJob)
	}
	j.f, j.n, j.parts = f, n, parts
	runParallel(j, parts, &j.wg, &j.pending)
	j.f = nil
	rangeJobs.Put(j)
}

var rangeJobs sync.Pool // *rangeJob

// rangeJob is a ParallelFor call.
type rangeJob struct {
	f        func(lo, hi int)
	n, parts int
	wg       sync.WaitGroup
	pending  atomic.Int32
}

func (j *rangeJob) bound(i int) int {
	if i == j.parts {
		return j.n
	}
	return j.n * i / j.parts &^ 15
}

func (j *rangeJob) runPart(i int) { j.f(j.bound(i), j.bound(i+1)) }
