package dist

import (
	"fmt"
	"slices"
	"time"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
)

// DefaultBucketBytes is the gradient bucket size of [DataParallel],
// PyTorch's 25 MiB.
const DefaultBucketBytes = 25 << 20

// DataParallel trains one model on every rank of a job, each rank on its
// own part of the data ([data.Loader.Shard]), as PyTorch's
// DistributedDataParallel does: it starts every rank from rank 0's
// parameters and buffers, and its Backward averages every gradient across
// the ranks, so that the optimizer then takes the same step everywhere and
// the models stay identical, bit for bit.
//
// The gradients are averaged in buckets of about 25 MiB of parameters,
// filled in reverse order of Params (the order in which the backward pass
// finishes them). A bucket's all-reduce starts as soon as the last of its
// gradients is final ([nabla.OnGradReady]), on the MPI goroutine, while
// the backward pass goes on with the layers before it; Backward then waits
// for the buckets still in flight. Small buckets start sooner and overlap
// more of the pass, but each costs a collective's latency; large ones
// reach the link's bandwidth.
//
// Every rank must build the same graph each step (the same ops on the
// same parameters), so that the buckets complete in the same order on all
// of them, as MPI requires. A parameter that receives no gradient is
// averaged as zero.
type DataParallel struct {
	m       nn.Module
	buckets []*bucket
	where   map[*nabla.Tensor]*bucket
	trace   StepTrace
}

// bucket is a group of parameters of one dtype whose gradients are
// averaged by one all-reduce, flattened into f32 or f64.
type bucket struct {
	params  []*nabla.Tensor
	offs    []int
	f32     []float32
	f64     []float64
	pending int     // gradients not yet final in this pass
	h       *Handle // the all-reduce in flight; nil before it starts
	ready   time.Time
}

// StepTrace is the timing of the last [DataParallel.Backward]: when the
// backward pass ran, and when each bucket's gradients were final, its
// all-reduce was issued and it finished. A bucket started before
// BackwardEnd overlapped the pass.
type StepTrace struct {
	BackwardStart, BackwardEnd time.Time
	Buckets                    []BucketTrace // in the order they started
	Done                       time.Time     // the gradients were averaged
}

// BucketTrace is one bucket of a [StepTrace].
type BucketTrace struct {
	Params, Bytes            int
	Ready, Started, Finished time.Time
}

// Option changes a [DataParallel].
type Option func(*ddpConfig)

type ddpConfig struct{ bucketBytes int }

// BucketBytes sets the size of a gradient bucket in bytes
// ([DefaultBucketBytes] when n <= 0). A parameter larger than n has a
// bucket of its own.
func BucketBytes(n int) Option {
	return func(c *ddpConfig) {
		if n <= 0 {
			n = DefaultBucketBytes
		}
		c.bucketBytes = n
	}
}

// NewDataParallel prepares m for data-parallel training: it copies rank
// 0's parameters and buffers to every other rank, and groups the
// parameters into gradient buckets. Every rank must call it, after
// [Init]. It returns an error if the broadcast fails or a tensor is not
// float32 or float64.
func NewDataParallel(m nn.Module, opts ...Option) (*DataParallel, error) {
	cfg := ddpConfig{bucketBytes: DefaultBucketBytes}
	for _, o := range opts {
		o(&cfg)
	}
	if current() == nil {
		return nil, &Error{Op: "NewDataParallel", Msg: "Init has not been called"}
	}
	for _, p := range nn.StateDict(m) {
		if err := broadcastTensor(p.Tensor); err != nil {
			return nil, fmt.Errorf("dist: NewDataParallel: %s: %w", p.Name, err)
		}
	}
	d := &DataParallel{m: m, where: map[*nabla.Tensor]*bucket{}}
	ps := m.Params()
	var b *bucket
	size := 0
	for i := len(ps) - 1; i >= 0; i-- {
		t := ps[i].Tensor
		if !t.RequiresGrad() || d.where[t] != nil {
			continue
		}
		es := 4
		if t.DType() == nabla.Float64 {
			es = 8
		}
		if b == nil || size+t.Len()*es > cfg.bucketBytes && len(b.params) > 0 || b.params[0].DType() != t.DType() {
			b = &bucket{}
			d.buckets = append(d.buckets, b)
			size = 0
		}
		b.offs = append(b.offs, size/es)
		b.params = append(b.params, t)
		d.where[t] = b
		size += t.Len() * es
	}
	for _, b := range d.buckets {
		last := len(b.params) - 1
		n := b.offs[last] + b.params[last].Len()
		if b.params[0].DType() == nabla.Float64 {
			b.f64 = make([]float64, n)
		} else {
			b.f32 = make([]float32, n)
		}
	}
	return d, nil
}

// broadcastTensor copies rank 0's values of t into t.
func broadcastTensor(t *nabla.Tensor) error {
	switch t.DType() {
	case nabla.Float32:
		return Broadcast(t.Data32(), 0)
	case nabla.Float64:
		return Broadcast(t.Data64(), 0)
	}
	return fmt.Errorf("dtype %v: DataParallel carries float32 and float64 tensors", t.DType())
}

// Module returns the model.
func (d *DataParallel) Module() nn.Module { return d.m }

// Buckets returns the number of gradient buckets.
func (d *DataParallel) Buckets() int { return len(d.buckets) }

// Trace returns the timing of the last Backward.
func (d *DataParallel) Trace() StepTrace {
	t := d.trace
	t.Buckets = slices.Clone(t.Buckets)
	return t
}

// Backward runs loss.Backward(opts...) and averages every parameter's
// gradient across the ranks, each bucket's all-reduce starting during the
// pass as soon as its gradients are final. It returns when all are
// averaged, or with the first collective's error. Every rank must call it
// for every step. In a job of one process it is loss.Backward.
func (d *DataParallel) Backward(loss *nabla.Tensor, opts ...nabla.BackwardOption) error {
	j, err := ready("DataParallel.Backward")
	if err != nil {
		return err
	}
	d.trace = StepTrace{BackwardStart: time.Now()}
	if j.size == 1 {
		loss.Backward(opts...)
		d.trace.BackwardEnd = time.Now()
		d.trace.Done = d.trace.BackwardEnd
		return nil
	}
	for _, b := range d.buckets {
		b.pending, b.h = len(b.params), nil
	}
	var started []*bucket
	onReady := func(t *nabla.Tensor) {
		b := d.where[t]
		if b == nil { // an input that requires a gradient, not a parameter
			return
		}
		if b.pending--; b.pending == 0 {
			b.start()
			started = append(started, b)
		}
	}
	loss.Backward(append(slices.Clip(opts), nabla.OnGradReady(onReady))...)
	d.trace.BackwardEnd = time.Now()
	for _, b := range d.buckets { // parameters the loss does not reach
		if b.h == nil {
			b.start()
			started = append(started, b)
		}
	}
	var first error
	n := float64(j.size)
	for _, b := range started {
		if err := b.h.Wait(); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		b.scatter(n)
		d.trace.Buckets = append(d.trace.Buckets, BucketTrace{Params: len(b.params), Bytes: 4*len(b.f32) + 8*len(b.f64),
			Ready: b.ready, Started: b.h.Started(), Finished: b.h.calls[len(b.h.calls)-1].finished})
	}
	d.trace.Done = time.Now()
	return first
}

// start copies the bucket's gradients into its buffer (zeros for a
// parameter without one) and starts their all-reduce.
func (b *bucket) start() {
	b.ready = time.Now()
	for i, p := range b.params {
		g := p.Grad()
		if b.f64 != nil {
			dst := b.f64[b.offs[i] : b.offs[i]+p.Len()]
			if g == nil {
				clear(dst)
			} else {
				copy(dst, g.Contiguous().Data64())
			}
		} else {
			dst := b.f32[b.offs[i] : b.offs[i]+p.Len()]
			if g == nil {
				clear(dst)
			} else {
				copy(dst, g.Contiguous().Data32())
			}
		}
	}
	if b.f64 != nil {
		b.h = AllReduceAsync(b.f64, Sum)
	} else {
		b.h = AllReduceAsync(b.f32, Sum)
	}
}

// scatter writes the bucket's sums divided by n back into the gradients.
func (b *bucket) scatter(n float64) {
	for i, p := range b.params {
		g := p.Grad()
		if g == nil || !g.IsContiguous() {
			g = nabla.ZerosLike(p)
			p.SetGrad(g)
		}
		if b.f64 != nil {
			src := b.f64[b.offs[i] : b.offs[i]+p.Len()]
			dst := g.Data64()
			for k, v := range src {
				dst[k] = v / n
			}
		} else {
			src := b.f32[b.offs[i] : b.offs[i]+p.Len()]
			dst := g.Data32()
			nf := float32(n)
			for k, v := range src {
				dst[k] = v / nf
			}
		}
	}
}
