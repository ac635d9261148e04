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

// workItem tells a worker that call gen of ps has parts to claim. The
// parts are not bound to the worker that receives the item: whoever is
// free claims the next one (see claim), so a worker that another process
// keeps off its core holds up at most the one part it has started.
type workItem struct {
	job   partRunner
	ps    *partSync
	gen   uint32
	parts uint32
}

// partSync tracks the parts of one parallel call.
type partSync struct {
	// state is the call's generation (the high 32 bits) and the next part
	// to claim (the low 32 bits). A job and its partSync are reused from
	// call to call; an item of an earlier call still in workCh finds
	// another generation and claims nothing, touching only state.
	state   atomic.Uint64
	wg      sync.WaitGroup
	pending atomic.Int32 // parts (other than part 0) not yet finished
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

// run claims and runs parts of w's call until none is left. A claim is a
// compare-and-swap of state that succeeds only in w's generation, so a
// stale item runs nothing; after a successful claim the call's caller
// waits for the part, which keeps the job's fields stable while it runs.
func (w workItem) run() {
	for {
		s := w.ps.state.Load()
		if uint32(s>>32) != w.gen || uint32(s) >= w.parts {
			return
		}
		if w.ps.state.CompareAndSwap(s, s+1) {
			w.job.runPart(int(uint32(s)))
			w.ps.finish()
		}
	}
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
// once spinWindow has passed since the 64th, or as soon as the thread was
// kept off its core between two checks (see noteGap): polling then only
// takes the core from the goroutine that would make progress.
type spinner struct {
	n     int
	start time.Time
	last  time.Time
}

func (sp *spinner) spin() bool {
	sp.n++
	if sp.n&63 != 0 {
		return true
	}
	now := time.Now()
	if sp.n == 64 {
		sp.start = now
	} else if now.Sub(sp.start) > spinWindow {
		return false
	} else if now.Sub(sp.last) > preemptGap {
		noteGap(now)
		return false
	}
	runtime.Gosched()
	// The gap is timed from here: a yield that ran other goroutines is
	// not the operating system taking the core.
	sp.last = time.Now()
	return true
}

// preemptGap is the longest time 63 polls take on a thread that keeps its
// core (a few microseconds); a longer gap means the operating system (or
// the hypervisor) ran something else there.
const preemptGap = 100 * time.Microsecond

// When two such gaps come within gapWindow, the process has more runnable
// threads than cores (another process is busy, or GOMAXPROCS exceeds the
// cores it gets), and for the next contendedFor runParallel runs every
// part on the calling goroutine: a worker sharing a core with another
// process runs its parts late, and a polling one takes CPU time from the
// caller, so that two threads came out up to 1.8 times slower than one
// on a machine with one core busy. After contendedFor the workers are
// tried again.
const (
	gapWindow    = 50 * time.Millisecond
	contendedFor = 250 * time.Millisecond
)

var (
	clockBase      = time.Now()
	lastGap        atomic.Int64 // time of the last gap, in ns since clockBase
	contendedUntil atomic.Int64 // in ns since clockBase
)

// noteGap records a gap seen at now.
func noteGap(now time.Time) {
	t := int64(now.Sub(clockBase))
	if prev := lastGap.Swap(t); prev != 0 && t-prev < int64(gapWindow) {
		contendedUntil.Store(t + int64(contendedFor))
	}
}

// contended reports whether parallel calls run serially for now.
func contended() bool {
	return int64(time.Since(clockBase)) < contendedUntil.Load()
}

// runParallel runs parts 0..parts-1 of job and waits for all of them: part
// 0 on the calling goroutine, then the others on whichever goroutine is
// free first, the caller included. ps must belong to the caller and not be
// in use by another call.
//
// The workers are told of the call by an item in workCh, but the parts
// are claimed one at a time from ps (workItem.run): when a worker is slow
// to start, because it was parked or because another process holds its
// core, the caller runs the parts itself and waits only for parts already
// started; and while the process gets fewer cores than it has threads
// (see contendedFor), the caller runs every part itself. So two threads
// are not slower than one on a machine whose other core is busy, and the
// split, fixed by parts alone, gives the same results whoever runs each
// part.
//
// While it waits, the caller runs queued items, its own call's or
// another's, and it blocks only when the queue is empty, that is when every
// part it waits for is running on some goroutine. That makes nested calls
// safe: a part that calls runParallel from a worker runs its sub-parts
// itself if every other goroutine is busy, instead of waiting for a
// worker that never comes.
func runParallel(job partRunner, parts int, ps *partSync) {
	if contended() {
		for i := range parts {
			job.runPart(i)
		}
		return
	}
	helpers := min(parts-1, runtime.GOMAXPROCS(0)-1)
	ensureWorkers(helpers)
	ps.wg.Add(parts - 1)
	ps.pending.Store(int32(parts - 1))
	gen := uint32(ps.state.Load()>>32) + 1
	ps.state.Store(uint64(gen)<<32 | 1) // part 0 is the caller's
	w := workItem{job, ps, gen, uint32(parts)}
	for range helpers {
		select {
		case workCh <- w:
		default: // a full queue: the parts will be claimed anyway
		}
	}
	job.runPart(0)
	w.run()
	// The parts others took are balanced with the caller's, so they
	// usually finish within microseconds: poll before blocking.
	var sp spinner
	for ps.pending.Load() != 0 {
		select {
		case o := <-workCh:
			o.run()
			continue
		default:
		}
		if !sp.spin() {
			break // the queue was empty just above
		}
	}
	ps.wg.Wait()
}

// ParallelFor calls f on disjoint ranges [lo, hi) that cover [0, n), each
// of at least grain elements, with the split points rounded down to
// multiples of 16 elements (a 64-byte cache line of float32): up to
// ChunksPerCore ranges per core (runtime.GOMAXPROCS(0)), which the calling
// goroutine and the workers take one at a time as each becomes free, so
// that a worker slowed or descheduled by another process hands its share
// to the others. The ranges depend on n, grain and GOMAXPROCS only. The
// workers are those that run Gemm's parts, which poll for work for a while
// after each part, so a split costs about a microsecond when they are
// busy; f(0, n) runs on the calling goroutine when n < 2*grain or only one
// core is used. f must be safe to call concurrently on disjoint ranges; it
// may itself call ParallelFor, ParallelParts or a parallel Gemm.
func ParallelFor(n, grain int, f func(lo, hi int)) {
	procs := runtime.GOMAXPROCS(0)
	parts := min(ChunksPerCore*procs, n/max(grain, 1))
	if parts <= 1 || procs == 1 {
		f(0, n)
		return
	}
	runRanges(n, parts, 15, f)
}

// ChunksPerCore is how many ranges per core ParallelFor cuts a loop into
// at most (and the element-wise loops of internal/loops their rows). With
// one range per core, a worker that shares its core with another process
// runs its range at half speed or less while the caller, done with its
// own, waits; with four, the caller takes the ranges the slow worker has
// not started. A range costs one compare-and-swap to claim.
const ChunksPerCore = 4

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
