// Command distbench measures package dist for BENCHMARKS.md:
//
//	mpirun -np 2 distbench allreduce      # AllReduce of 4 KiB to 64 MiB float32
//	mpirun -np 2 distbench w3 -batch 64   # one W3 epoch data-parallel
//	distbench w3 -batch 128               # the same on one process
//
// It prints one JSON object per figure on rank 0.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/data"
	"github.com/nabla-go/nabla/datasets"
	"github.com/nabla-go/nabla/dist"
	"github.com/nabla-go/nabla/internal/workload"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/optim"
)

func main() {
	if err := dist.Init(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var err error
	switch os.Args[1] {
	case "allreduce":
		err = allreduce()
	case "w3":
		err = w3(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "rank %d: %v\n", dist.Rank(), err)
		os.Exit(1)
	}
	dist.Finalize()
}

func emit(v map[string]any) {
	if dist.Rank() == 0 {
		b, _ := json.Marshal(v)
		fmt.Println(string(b))
	}
}

func allreduce() error {
	for size := 4 << 10; size <= 64<<20; size *= 4 {
		buf := make([]float32, size/4)
		reps := max(3, min(200, (256<<20)/size))
		var ts []float64
		for i := range reps + 1 {
			if err := dist.Barrier(); err != nil {
				return err
			}
			start := time.Now()
			if err := dist.AllReduce(buf, dist.Sum); err != nil {
				return err
			}
			if i > 0 {
				ts = append(ts, time.Since(start).Seconds())
			}
		}
		slices.Sort(ts)
		med := ts[len(ts)/2]
		// the bus bandwidth of a ring all-reduce: 2(n-1)/n of the buffer per rank
		n := float64(dist.Size())
		emit(map[string]any{"bytes": size, "median_us": med * 1e6, "busbw_GBps": 2 * (n - 1) / n * float64(size) / med / 1e9, "ranks": dist.Size()})
	}
	return nil
}

func w3(args []string) error {
	fs := flag.NewFlagSet("w3", flag.ContinueOnError)
	batch := fs.Int("batch", 64, "samples per step and rank")
	bucket := fs.Int("bucket", 0, "bucket bytes (0: 25 MiB)")
	limit := fs.Int("limit", 0, "training samples (0: all)")
	check := fs.Bool("check", false, "after every step, check that all ranks hold the same weights, bit for bit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	load := func(train bool, limit int) (data.Dataset, error) {
		d, err := datasets.FashionMNISTPixels(datasets.FashionMNISTDir, train)
		if err != nil {
			return nil, err
		}
		n := d.NumSamples
		if limit > 0 {
			n = min(n, limit)
		}
		y := make([]float32, n)
		for i := range y {
			y[i] = float32(d.Labels[i])
		}
		return data.FromBytes(d.Pixels[:n*784], []int{n, 1, 28, 28}, 1.0/255, y, []int{n})
	}
	train, err := load(true, *limit)
	if err != nil {
		return err
	}
	test, err := load(false, 0)
	if err != nil {
		return err
	}
	m := workload.MLP(rand.New(rand.NewPCG(0, 0)))
	opt := optim.NewAdam(m.Params(), optim.AdamConfig{LR: 1e-3})
	ddp, err := dist.NewDataParallel(m, dist.BucketBytes(*bucket))
	if err != nil {
		return err
	}
	loader := data.NewLoader(train, data.LoaderConfig{BatchSize: *batch, Shuffle: true, Seed: 0, Labels: true}).Shard(dist.Rank(), dist.Size())
	ar := nabla.NewArena()
	var wait, comm, bwd time.Duration
	steps, overlapped := 0, 0
	if err := dist.Barrier(); err != nil {
		return err
	}
	start := time.Now()
	for _, b := range loader.Epoch(0) {
		opt.ZeroGrad()
		loss := nn.CrossEntropy(m.Forward(b.X.InArena(ar)), b.Y)
		if err := ddp.Backward(loss); err != nil {
			return err
		}
		opt.Step()
		ar.Reset()
		tr := ddp.Trace()
		wait += tr.Done.Sub(tr.BackwardEnd)
		bwd += tr.BackwardEnd.Sub(tr.BackwardStart)
		for _, bt := range tr.Buckets {
			comm += bt.Finished.Sub(bt.Started)
		}
		if len(tr.Buckets) > 0 && tr.Buckets[0].Started.Before(tr.BackwardEnd) {
			overlapped++
		}
		steps++
		if *check {
			if err := sameWeights(m); err != nil {
				return fmt.Errorf("step %d: %w", steps, err)
			}
		}
	}
	epoch := time.Since(start)
	// accuracy on the whole test set, on every rank (the models are equal)
	nn.SetTraining(m, false)
	tl := data.NewLoader(test, data.LoaderConfig{BatchSize: 1000, Labels: true})
	correct, total := 0.0, 0
	nn.NoGrad(m, func() {
		for _, b := range tl.Epoch(0) {
			n := b.X.Size(0)
			correct += nn.Accuracy(m.Forward(b.X), b.Y) * float64(n)
			total += n
		}
	})
	emit(map[string]any{"ranks": dist.Size(), "threads": runtime.GOMAXPROCS(0), "batch_per_rank": *batch, "buckets": ddp.Buckets(), "steps": steps,
		"sec_per_epoch": epoch.Seconds(), "backward_ms_per_step": bwd.Seconds() * 1e3 / float64(steps),
		"allreduce_ms_per_step": comm.Seconds() * 1e3 / float64(steps), "exposed_wait_ms_per_step": wait.Seconds() * 1e3 / float64(steps),
		"steps_first_bucket_before_backward_end": overlapped, "checked_bit_identical": *check, "test_accuracy": correct / float64(total)})
	return nil
}

// sameWeights compares a hash of the weights' bits across the ranks.
func sameWeights(m nn.Module) error {
	h := fnv.New64a()
	for _, p := range m.Params() {
		for _, v := range p.Tensor.Float32s() {
			u := math.Float32bits(v)
			h.Write([]byte{byte(u), byte(u >> 8), byte(u >> 16), byte(u >> 24)})
		}
	}
	all := make([]int64, dist.Size())
	if err := dist.AllGather([]int64{int64(h.Sum64())}, all); err != nil {
		return err
	}
	for r, x := range all {
		if x != all[0] {
			return fmt.Errorf("the weights of rank %d differ from rank 0's", r)
		}
	}
	return nil
}
