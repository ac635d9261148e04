package data

import (
	"fmt"
	"iter"
	"math/rand/v2"
	"sync"

	"github.com/nabla-go/nabla"
)

// LoaderConfig sets how a [Loader] cuts a dataset into batches.
type LoaderConfig struct {
	// BatchSize is the number of samples per batch; it must be positive.
	BatchSize int
	// Shuffle visits the samples in a new random order every epoch,
	// drawn from Seed and the epoch number; otherwise in index order.
	Shuffle bool
	// Seed seeds the shuffles.
	Seed uint64
	// DropLast drops the last batch of an epoch if it is smaller than
	// BatchSize; otherwise it is yielded with the samples left.
	DropLast bool
	// Prefetch is the number of batches prepared ahead on a separate
	// goroutine while the current one is used. 0 means 2; a negative
	// value prepares each batch on the caller's goroutine when it is
	// needed.
	Prefetch int
	// Labels makes Batch.Y an Int64 tensor of class indices, as
	// nn.CrossEntropy and nn.NLL take them (datasets store them as whole
	// float32 numbers); otherwise Y is Float32, for regression targets.
	Labels bool
}

// Batch is one batch of samples.
type Batch struct {
	// X holds the features, of shape [n, x...] for n samples of the
	// dataset's feature shape x; Y holds the targets, [n, y...]: Int64
	// class indices with LoaderConfig.Labels, Float32 otherwise.
	X, Y *nabla.Tensor
	// Indices are the dataset indices of the samples, in batch order.
	// The slice is shared and must not be modified.
	Indices []int
}

// Loader iterates over a [Dataset] in batches, epoch by epoch:
//
//	loader := data.NewLoader(train, data.LoaderConfig{BatchSize: 128, Shuffle: true, Seed: 1})
//	for epoch := range epochs {
//		for i, batch := range loader.Epoch(epoch) {
//			... batch.X, batch.Y ...
//		}
//	}
//
// The order of an epoch depends only on the seed and the epoch number, so
// a run resumed at epoch k (or at batch j of epoch k, with [Loader.EpochFrom])
// sees the same batches as an uninterrupted one.
//
// Batches are prepared ahead on a goroutine, into tensors the loader
// reuses: a batch's tensors stay valid until the loop body that received
// it returns (the graph built on them may be used, and Backward run, in
// that body); Clone them to keep them longer. The goroutine stops when the
// loop ends, including by break or panic. A Loader may run several epochs
// at once, from one goroutine or several.
type Loader struct {
	ds           Dataset
	cfg          LoaderConfig
	xShape       []int
	yShape       []int
	xSize, ySize int

	mu   sync.Mutex
	free [][]slot // buffer rings of finished epochs, for reuse
}

// slot is one batch's worth of tensors.
type slot struct{ x, y *nabla.Tensor }

// NewLoader returns a loader over ds. It panics with a *nabla.ValueError
// if cfg.BatchSize is not positive.
func NewLoader(ds Dataset, cfg LoaderConfig) *Loader {
	if cfg.BatchSize <= 0 {
		panic(&nabla.ValueError{Op: "NewLoader", Reason: fmt.Sprintf("batch size %d is not positive", cfg.BatchSize)})
	}
	if cfg.Prefetch == 0 {
		cfg.Prefetch = 2
	}
	xs, ys := ds.Shapes()
	return &Loader{ds: ds, cfg: cfg, xShape: xs, yShape: ys, xSize: numel(xs), ySize: numel(ys)}
}

// Dataset returns the dataset the loader reads.
func (l *Loader) Dataset() Dataset { return l.ds }

// Config returns the loader's configuration, with defaults filled in.
func (l *Loader) Config() LoaderConfig { return l.cfg }

// Len returns the number of batches in an epoch.
func (l *Loader) Len() int {
	n, b := l.ds.Len(), l.cfg.BatchSize
	if l.cfg.DropLast {
		return n / b
	}
	return (n + b - 1) / b
}

// Order returns the order in which epoch visits the samples: a
// permutation of the dataset's indices drawn from the seed and the epoch
// number when shuffling, and 0, 1, ... otherwise. Batch b holds the
// samples order[b·BatchSize:(b+1)·BatchSize]; with DropLast, those after the
// last full batch are not visited.
func (l *Loader) Order(epoch int) []int {
	n := l.ds.Len()
	if !l.cfg.Shuffle {
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		return order
	}
	return rand.New(rand.NewPCG(l.cfg.Seed, mix(uint64(epoch)))).Perm(n)
}

// mix is SplitMix64's finaliser: it spreads consecutive epoch numbers over
// unrelated PCG streams.
func mix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Epoch returns the batches of the given epoch (counted from 0), with
// their numbers 0, 1, ..., Len()-1.
func (l *Loader) Epoch(epoch int) iter.Seq2[int, Batch] { return l.EpochFrom(epoch, 0) }

// EpochFrom is Epoch starting at batch number start, for resuming an epoch
// part-way: it yields exactly the batches Epoch yields from that number
// on, without preparing the ones before.
func (l *Loader) EpochFrom(epoch, start int) iter.Seq2[int, Batch] {
	return func(yield func(int, Batch) bool) {
		order := l.Order(epoch)
		nb := l.Len()
		if start >= nb {
			return
		}
		start = max(start, 0)
		ring := l.takeRing()
		defer l.putRing(ring)
		if l.cfg.Prefetch < 0 {
			for b := start; b < nb; b++ {
				if !yield(b, l.prepare(ring[0], order, b)) {
					return
				}
			}
			return
		}
		ch := make(chan Batch, l.cfg.Prefetch)
		stop := make(chan struct{})
		done := make(chan struct{})
		var panicked any // set by the producer before it closes ch
		go func() {
			defer close(done)
			defer func() {
				if r := recover(); r != nil {
					panicked = r
					close(ch)
				}
			}()
			for b := start; b < nb; b++ {
				select {
				case <-stop:
					return
				default:
				}
				batch := l.prepare(ring[(b-start)%len(ring)], order, b)
				select {
				case ch <- batch:
				case <-stop:
					return
				}
			}
			close(ch)
		}()
		defer func() {
			close(stop)
			<-done
		}()
		for b := start; ; b++ {
			batch, ok := <-ch
			if !ok {
				if panicked != nil {
					panic(panicked)
				}
				return
			}
			if !yield(b, batch) {
				return
			}
		}
	}
}

// prepare fills s with batch number b of an epoch visiting order.
func (l *Loader) prepare(s slot, order []int, b int) Batch {
	bs := l.cfg.BatchSize
	idx := order[b*bs : min((b+1)*bs, len(order))]
	fill(l.ds, idx, s.x.Data32(), s.y.Data32(), l.xSize, l.ySize)
	x, y := s.x, s.y
	if len(idx) < s.x.Size(0) {
		x, y = x.Slice(0, 0, len(idx), 1), y.Slice(0, 0, len(idx), 1)
	}
	if l.cfg.Labels {
		y = y.To(nabla.Int64)
	}
	return Batch{X: x, Y: y, Indices: idx[:len(idx):len(idx)]}
}

// takeRing returns a set of batch buffers: Prefetch+2 of them (one being
// used, up to Prefetch waiting, one being filled), or one without
// prefetching.
func (l *Loader) takeRing() []slot {
	bs := min(l.cfg.BatchSize, max(l.ds.Len(), 1))
	l.mu.Lock()
	for k := len(l.free); k > 0; k = len(l.free) {
		r := l.free[k-1]
		l.free = l.free[:k-1]
		if r[0].x.Size(0) == bs { // else the dataset changed size
			l.mu.Unlock()
			return r
		}
	}
	l.mu.Unlock()
	n := 1
	if l.cfg.Prefetch > 0 {
		n = l.cfg.Prefetch + 2
	}
	ring := make([]slot, n)
	for i := range ring {
		ring[i] = slot{
			x: nabla.Zeros(append([]int{bs}, l.xShape...)...),
			y: nabla.Zeros(append([]int{bs}, l.yShape...)...),
		}
	}
	return ring
}

func (l *Loader) putRing(r []slot) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.free) < 2 {
		l.free = append(l.free, r)
	}
}
