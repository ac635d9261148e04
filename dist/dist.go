// Package dist trains across processes and machines on MPI: a job of
// ranks, started by Open MPI's mpirun (or Slurm's srun --mpi=pmix), that
// sum and exchange buffers with collectives, and [DataParallel], which
// averages a model's gradients across the ranks during the backward pass,
// as PyTorch's DistributedDataParallel does.
//
//	if err := dist.Init(); err != nil { ... }
//	defer dist.Finalize()
//	ddp, err := dist.NewDataParallel(model) // every rank starts from rank 0's weights
//	loader = loader.Shard(dist.Rank(), dist.Size())
//	for _, b := range loader.Epoch(epoch) {
//		opt.ZeroGrad()
//		loss := nn.CrossEntropy(model.Forward(b.X), b.Y)
//		if err := ddp.Backward(loss); err != nil { ... } // gradients averaged
//		opt.Step() // the same step on every rank
//	}
//
// Run it with mpirun -np 2 ./program. A program that never calls Init
// loads nothing; one started without a launcher is a job of one process,
// rank 0 of size 1, in which every collective is a copy or nothing, and
// no MPI library is loaded.
//
// # Open MPI without cgo
//
// Init loads Open MPI's libmpi.so.40 at run time with purego's dynamic
// loader, so building needs no C compiler (with CGO_ENABLED=0 purego
// brings its own runtime glue; with cgo enabled it links Go's runtime/cgo,
// as package net already does). In Open MPI every handle (MPI_COMM_WORLD,
// MPI_FLOAT, MPI_SUM, ...) is the address of an exported global, which the
// package looks up by name. MPICH and the MPIs built on it (Intel MPI,
// MVAPICH) use integer handles and another soname; Init names them in its
// error rather than guessing. NABLA_LIBMPI gives another path to
// libmpi.so.40.
//
// # Threads
//
// MPI is initialised with MPI_THREAD_FUNNELED: every MPI call runs on one
// goroutine locked to the OS thread that called MPI_Init_thread, which
// the collectives of all other goroutines are handed to. It issues
// non-blocking collectives (MPI_Iallreduce, ...) and polls them with
// MPI_Test, so that several run at once (the buckets of DataParallel), a
// deadline can be kept, and the polling sleeps rather than spins once a
// collective has run for a while. (Open MPI's blocking calls spin inside
// C for as long as they wait: made from the same goroutine, they cost 100
// W3 steps on two ranks 3.8 s against 1.4 s on a loaded two-core machine,
// though from C a lone 64 MiB MPI_Allreduce took 190 ms against 340 ms
// for MPI_Iallreduce.) Collectives must be started in the same
// order on every rank, as MPI requires; they are issued in the order they
// were called.
//
// # Faults
//
// MPI_ERRORS_RETURN is set on MPI_COMM_WORLD, so a failed call returns
// an error instead of killing the job. A collective that does not complete
// within the timeout ([SetTimeout], 30 s by default) fails with an
// [*Error]; while one waits, the ranks on the same host are checked every
// half second, and one that has exited fails it at once, naming the rank.
// After such an error the job cannot continue: report it and call [Abort]
// (mpirun then ends every rank).
package dist

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Number is an element type the collectives carry.
type Number interface{ float32 | float64 | int64 }

// Op is a reduction.
type Op int

const (
	// Sum adds the buffers of all ranks.
	Sum Op = iota
	// Mean adds them and divides by the number of ranks (for int64,
	// truncating toward zero).
	Mean
)

// DefaultTimeout is how long a collective may take before it fails.
const DefaultTimeout = 30 * time.Second

// Error is a collective that failed: an MPI error, a deadline passed, or
// a rank that was lost.
type Error struct {
	Op   string // "AllReduce", "Broadcast", "AllGather", "Barrier" or "Init"
	Lost []int  // the ranks known to have exited, if any
	Msg  string
}

// Error returns the message, naming the collective.
func (e *Error) Error() string { return "dist: " + e.Op + ": " + e.Msg }

type kind int

const (
	kByte kind = iota
	kFloat32
	kFloat64
	kInt64
)

type coll int

const (
	collAllReduce coll = iota
	collBroadcast
	collAllGather
	collBarrier
	collAbort
)

var collNames = [...]string{"AllReduce", "Broadcast", "AllGather", "Barrier", "Abort"}

// call is one collective handed to the MPI goroutine.
type call struct {
	coll      coll
	kind      kind
	buf, recv unsafe.Pointer
	count     int // elements per rank
	bytes     int
	root      int
	keep      [2]any // the Go slices behind buf and recv, alive while MPI may use them
	done      chan error
	req       *uintptr

	started, finished time.Time // set by the MPI goroutine
}

// peer is what Init learns of each rank, to tell which one was lost.
type peer struct {
	pid  int
	host string
}

// job is the state of an initialised process.
type job struct {
	rank, size int
	lib        *openMPI // nil: a job of one process without MPI
	calls      chan *call
	stopped    chan error
	peers      []peer
	timeout    atomic.Int64
	failed     atomic.Pointer[Error]
	abandoned  []*call // collectives given up on: MPI may still write into them
}

var (
	mu  sync.Mutex
	cur *job
)

func current() *job {
	mu.Lock()
	defer mu.Unlock()
	return cur
}

// launched reports whether a launcher started this process as a rank:
// Open MPI's mpirun sets OMPI_COMM_WORLD_SIZE, PMIx launchers (srun
// --mpi=pmix, prterun) PMIX_RANK, and PMI ones (MPICH's hydra, srun
// --mpi=pmi2) PMI_RANK.
func launched() bool {
	for _, v := range []string{"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"} {
		if os.Getenv(v) != "" {
			return true
		}
	}
	return false
}

// Init joins the job that mpirun or srun started, or, in a process started
// without one, makes a job of one process without loading MPI. It returns
// an error if MPI cannot be loaded or initialised, or if Init was called
// before (without Finalize).
func Init() error {
	mu.Lock()
	defer mu.Unlock()
	if cur != nil {
		return &Error{Op: "Init", Msg: "already initialised"}
	}
	j := &job{size: 1}
	j.timeout.Store(int64(DefaultTimeout))
	if !launched() {
		cur = j
		return nil
	}
	lib, err := loadOpenMPI()
	if err != nil {
		return err
	}
	j.lib = lib
	j.calls = make(chan *call, 64)
	j.stopped = make(chan error, 1)
	ready := make(chan error, 1)
	go j.loop(ready)
	if err := <-ready; err != nil {
		return err
	}
	if err := j.learnPeers(); err != nil {
		return err
	}
	cur = j
	return nil
}

// Finalize ends the job: it waits for the collectives in flight and calls
// MPI_Finalize. After a failed collective it returns that error without
// finalizing (MPI_Finalize would wait for the lost rank). Rank and Size
// then return 0 and 1 again.
func Finalize() error {
	mu.Lock()
	j := cur
	cur = nil
	mu.Unlock()
	if j == nil || j.lib == nil {
		return nil
	}
	if e := j.failed.Load(); e != nil {
		return e
	}
	close(j.calls)
	return <-j.stopped
}

// Abort ends every rank of the job with the exit code (MPI_Abort), for a
// rank that cannot go on. Without MPI it returns, and the caller should
// exit.
func Abort(code int) {
	j := current()
	if j == nil || j.lib == nil {
		return
	}
	done := make(chan error)
	j.calls <- &call{coll: collAbort, root: code, done: done}
	<-done // never returns from a live MPI
}

// Rank returns this process's rank, from 0 to Size()-1; 0 before Init.
func Rank() int {
	if j := current(); j != nil {
		return j.rank
	}
	return 0
}

// Size returns the number of ranks in the job; 1 before Init.
func Size() int {
	if j := current(); j != nil {
		return j.size
	}
	return 1
}

// SetTimeout sets how long a collective may take before it fails with an
// [*Error]; d <= 0 restores [DefaultTimeout]. It takes effect for
// collectives started later, in a job that has been initialised.
func SetTimeout(d time.Duration) {
	if d <= 0 {
		d = DefaultTimeout
	}
	if j := current(); j != nil {
		j.timeout.Store(int64(d))
	}
}

// Handle is a collective in flight, from [AllReduceAsync].
type Handle struct {
	calls []*call
	err   error
	post  func() // after success, on the waiting goroutine (Mean's division)
	done  bool
}

// Wait blocks until the collective completes and returns its error.
// Waiting again returns the same error.
func (h *Handle) Wait() error {
	if h.done {
		return h.err
	}
	h.done = true
	for _, c := range h.calls {
		if err := <-c.done; err != nil && h.err == nil {
			h.err = err
		}
	}
	if h.err == nil && h.post != nil {
		h.post()
	}
	return h.err
}

// Started returns when the MPI goroutine issued the collective (its first
// part), for traces. Call it after Wait has returned nil.
func (h *Handle) Started() time.Time {
	if len(h.calls) == 0 {
		return time.Time{}
	}
	return h.calls[0].started
}

// maxCount is the most elements one MPI call carries: counts are C ints.
const maxCount = math.MaxInt32

func kindOf[T Number]() (kind, int) {
	var z T
	switch any(z).(type) {
	case float32:
		return kFloat32, 4
	case float64:
		return kFloat64, 8
	}
	return kInt64, 8
}

// AllReduce replaces buf on every rank by the sum (or mean) of buf over
// all ranks. Every rank must call it with a buffer of the same length.
func AllReduce[T Number](buf []T, op Op) error {
	return AllReduceAsync(buf, op).Wait()
}

// AllReduceAsync starts AllReduce and returns at once; buf must not be
// used until [Handle.Wait] has returned.
func AllReduceAsync[T Number](buf []T, op Op) *Handle {
	j, err := ready("AllReduce")
	if err != nil {
		return &Handle{err: err, done: true}
	}
	if op != Sum && op != Mean {
		return &Handle{err: &Error{Op: "AllReduce", Msg: fmt.Sprintf("unknown op %d", op)}, done: true}
	}
	h := &Handle{}
	if op == Mean && j.size > 1 {
		h.post = func() {
			n := T(j.size)
			for i := range buf {
				buf[i] /= n
			}
		}
	}
	if j.lib == nil || len(buf) == 0 {
		return h
	}
	k, es := kindOf[T]()
	for lo := 0; lo < len(buf); lo += maxCount {
		part := buf[lo:min(lo+maxCount, len(buf))]
		h.calls = append(h.calls, j.submit(&call{coll: collAllReduce, kind: k, buf: unsafe.Pointer(&part[0]), count: len(part), bytes: len(part) * es, keep: [2]any{part}}))
	}
	return h
}

// Broadcast copies root's buf into buf on every other rank. Every rank
// must call it with a buffer of the same length.
func Broadcast[T Number](buf []T, root int) error {
	j, err := ready("Broadcast")
	if err != nil {
		return err
	}
	if root < 0 || root >= j.size {
		return &Error{Op: "Broadcast", Msg: fmt.Sprintf("root %d is not a rank of a job of size %d", root, j.size)}
	}
	if j.lib == nil || len(buf) == 0 {
		return nil
	}
	k, es := kindOf[T]()
	h := &Handle{}
	for lo := 0; lo < len(buf); lo += maxCount {
		part := buf[lo:min(lo+maxCount, len(buf))]
		h.calls = append(h.calls, j.submit(&call{coll: collBroadcast, kind: k, buf: unsafe.Pointer(&part[0]), count: len(part), bytes: len(part) * es, root: root, keep: [2]any{part}}))
	}
	return h.Wait()
}

// AllGather collects every rank's send into recv, rank r's at
// recv[r*len(send):]. recv must hold Size()*len(send) elements, and every
// rank must send as many.
func AllGather[T Number](send, recv []T) error {
	j, err := ready("AllGather")
	if err != nil {
		return err
	}
	if len(recv) != j.size*len(send) {
		return &Error{Op: "AllGather", Msg: fmt.Sprintf("recv holds %d elements, want %d ranks × %d", len(recv), j.size, len(send))}
	}
	if len(send) > maxCount {
		return &Error{Op: "AllGather", Msg: fmt.Sprintf("%d elements per rank is more than MPI's %d", len(send), maxCount)}
	}
	if j.lib == nil || len(send) == 0 {
		copy(recv, send)
		return nil
	}
	k, es := kindOf[T]()
	return (&Handle{calls: []*call{j.submit(&call{coll: collAllGather, kind: k, buf: unsafe.Pointer(&send[0]), recv: unsafe.Pointer(&recv[0]),
		count: len(send), bytes: len(send) * es, keep: [2]any{send, recv}})}}).Wait()
}

// Barrier returns once every rank has called it.
func Barrier() error {
	j, err := ready("Barrier")
	if err != nil || j.lib == nil {
		return err
	}
	return (&Handle{calls: []*call{j.submit(&call{coll: collBarrier})}}).Wait()
}

// ready returns the job, or an error if there is none or it failed.
func ready(op string) (*job, error) {
	j := current()
	if j == nil {
		return nil, &Error{Op: op, Msg: "Init has not been called"}
	}
	if e := j.failed.Load(); e != nil {
		return nil, e
	}
	return j, nil
}

// submit hands c to the MPI goroutine.
func (j *job) submit(c *call) *call {
	c.done = make(chan error, 1)
	j.calls <- c
	// Let the MPI goroutine issue c now: with one thread (GOMAXPROCS=1)
	// it would otherwise wait until the caller blocks, and a bucket's
	// all-reduce would not start until the backward pass has ended.
	runtime.Gosched()
	return c
}

// learnPeers gathers every rank's pid and host name, so that a lost rank
// can be named.
func (j *job) learnPeers() error {
	host, _ := os.Hostname()
	const words = 1 + 8 // pid, then up to 64 bytes of host name
	mine := make([]int64, words)
	mine[0] = int64(os.Getpid())
	hb := []byte(host)
	for i := 0; i < len(hb) && i < 64; i++ {
		mine[1+i/8] |= int64(hb[i]) << (8 * (i % 8))
	}
	all := make([]int64, words*j.size)
	c := j.submit(&call{coll: collAllGather, kind: kInt64, buf: unsafe.Pointer(&mine[0]), recv: unsafe.Pointer(&all[0]),
		count: words, bytes: 8 * words, keep: [2]any{mine, all}})
	if err := (&Handle{calls: []*call{c}}).Wait(); err != nil {
		return err
	}
	j.peers = make([]peer, j.size)
	for r := range j.peers {
		rec := all[r*words : (r+1)*words]
		var b []byte
		for i := 0; i < 64; i++ {
			c := byte(rec[1+i/8] >> (8 * (i % 8)))
			if c == 0 {
				break
			}
			b = append(b, c)
		}
		j.peers[r] = peer{pid: int(rec[0]), host: string(b)}
	}
	return nil
}

// lostRanks returns the ranks on this host whose process has exited (or
// is a zombie, killed but not yet reaped).
func (j *job) lostRanks() []int {
	if len(j.peers) == 0 {
		return nil
	}
	me := j.peers[j.rank].host
	var lost []int
	for r, p := range j.peers {
		if r == j.rank || p.host != me {
			continue
		}
		st, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/stat")
		if err != nil {
			if os.IsNotExist(err) {
				lost = append(lost, r)
			}
			continue
		}
		// the state follows the command name in parentheses
		if i := strings.LastIndexByte(string(st), ')'); i >= 0 && i+2 < len(st) && (st[i+2] == 'Z' || st[i+2] == 'X') {
			lost = append(lost, r)
		}
	}
	return lost
}

// remoteRanks returns the ranks on other hosts.
func (j *job) remoteRanks() []int {
	var rs []int
	for r, p := range j.peers {
		if p.host != j.peers[j.rank].host {
			rs = append(rs, r)
		}
	}
	return rs
}

func (j *job) describe(ranks []int) string {
	var parts []string
	for _, r := range ranks {
		parts = append(parts, fmt.Sprintf("rank %d (pid %d on %s)", r, j.peers[r].pid, j.peers[r].host))
	}
	return strings.Join(parts, ", ")
}

// loop is the MPI goroutine: it initialises MPI on its locked thread,
// then starts the collectives handed to it and polls them until they
// complete, fail or pass their deadline.
func (j *job) loop(ready chan<- error) {
	runtime.LockOSThread() // for good: MPI_THREAD_FUNNELED binds MPI to this thread
	rank, size, err := j.lib.mpiInit()
	if err != nil {
		ready <- err
		return
	}
	j.rank, j.size = rank, size
	ready <- nil

	calls := j.calls // nil once closed
	var active []*call
	idle := 0
	lastCheck := time.Now()
	for {
		if len(active) == 0 {
			c, ok := <-calls
			if !ok {
				j.stopped <- j.finalize()
				return
			}
			active = j.begin(c, active)
			idle = 0
			continue
		}
	drain:
		for {
			select {
			case c, ok := <-calls:
				if !ok { // Finalize waits for its callers' collectives
					calls = nil
					break drain
				}
				active = j.begin(c, active)
			default:
				break drain
			}
		}
		progressed := false
		for i := 0; i < len(active); {
			c := active[i]
			done, rc := j.lib.poll(c.req)
			if rc != 0 || done {
				var err error
				if rc != 0 {
					err = j.fail(c, j.lib.errString(rc))
				}
				j.finish(c, err)
				active = slices.Delete(active, i, i+1)
				progressed = true
				continue
			}
			i++
		}
		if len(active) == 0 {
			if calls == nil {
				j.stopped <- j.finalize()
				return
			}
			continue
		}
		now := time.Now()
		if now.Sub(lastCheck) >= 500*time.Millisecond {
			lastCheck = now
			if lost := j.lostRanks(); len(lost) > 0 {
				e := &Error{Op: collNames[active[0].coll], Lost: lost, Msg: fmt.Sprintf("lost %s: the process exited while %s", j.describe(lost), j.what(active[0]))}
				active = j.giveUp(active, e)
				continue
			}
		}
		if d := time.Duration(j.timeout.Load()); now.Sub(active[0].started) > d {
			active = j.giveUp(active, j.timeoutError(active[0], d))
			continue
		}
		// Poll hot for a moment (small collectives finish in
		// microseconds), then sleep a little between polls, so that the
		// thread leaves the cores to the computation it overlaps.
		if progressed {
			idle = 0
		}
		idle++
		switch {
		case idle < 64:
			runtime.Gosched()
		default:
			time.Sleep(min(time.Duration(idle-64)*2*time.Microsecond, 200*time.Microsecond))
		}
	}
}

// begin issues c, appending it to active, or finishes it with an error.
func (j *job) begin(c *call, active []*call) []*call {
	c.started = time.Now()
	if c.coll == collAbort {
		j.lib.abort(j.lib.commWorld, int32(c.root))
		c.done <- nil
		return active
	}
	if e := j.failed.Load(); e != nil {
		j.finish(c, e)
		return active
	}
	c.req = new(uintptr)
	if rc := j.lib.start(c, c.req); rc != 0 {
		j.finish(c, j.fail(c, j.lib.errString(rc)))
		return active
	}
	return append(active, c)
}

func (j *job) finish(c *call, err error) {
	c.finished = time.Now()
	c.done <- err
}

func (j *job) what(c *call) string {
	if c.coll == collBarrier {
		return "in Barrier"
	}
	return fmt.Sprintf("in %s of %d bytes", collNames[c.coll], c.bytes)
}

// fail records an MPI error of c as the job's failure, naming any rank
// that has exited, and returns it.
func (j *job) fail(c *call, mpiMsg string) *Error {
	e := &Error{Op: collNames[c.coll], Msg: mpiMsg}
	if lost := j.lostRanks(); len(lost) > 0 {
		e.Lost = lost
		e.Msg = fmt.Sprintf("lost %s: %s", j.describe(lost), mpiMsg)
	}
	j.failed.CompareAndSwap(nil, e)
	return j.failed.Load()
}

func (j *job) timeoutError(c *call, d time.Duration) *Error {
	msg := fmt.Sprintf("not complete after %v (%s)", d, j.what(c))
	if rs := j.remoteRanks(); len(rs) > 0 {
		msg += fmt.Sprintf("; no rank on this host has exited, so one of %s is lost or stalled", j.describe(rs))
	} else {
		msg += "; every rank is alive, so one is stalled or calling other collectives"
	}
	return &Error{Op: collNames[c.coll], Msg: msg}
}

// giveUp fails every active collective with e and keeps their buffers
// alive for good (MPI may still write into them).
func (j *job) giveUp(active []*call, e *Error) []*call {
	j.failed.CompareAndSwap(nil, e)
	e = j.failed.Load()
	for _, c := range active {
		j.abandoned = append(j.abandoned, c)
		j.finish(c, e)
	}
	return active[:0]
}

func (j *job) finalize() error {
	if rc := j.lib.finalize(); rc != 0 {
		return &Error{Op: "Finalize", Msg: j.lib.errString(rc)}
	}
	return nil
}
