package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/data"
	"github.com/nabla-go/nabla/dist"
	"github.com/nabla-go/nabla/nn"
)

// distRun is train's data-parallel mode, `mpirun -np N nabla train
// --distributed ...`: every rank trains the same model on its shard of
// each epoch, the gradients averaged by dist.DataParallel, and only rank
// 0 prints and writes the output folder. Its methods do nothing (or the
// plain thing) when --distributed is not given.
type distRun struct {
	on      bool
	threads int
	timeout time.Duration

	started bool
	prev    int // GOMAXPROCS before --threads, restored by stop
	ddp     *dist.DataParallel
}

// distFlags registers --distributed, --threads and --dist-timeout.
func distFlags(fs *flag.FlagSet) *distRun {
	d := &distRun{}
	fs.BoolVar(&d.on, "distributed", false, "train data-parallel on the ranks of an MPI job: mpirun -np N nabla train --distributed ... (Open MPI); only rank 0 prints and writes --out")
	fs.IntVar(&d.threads, "threads", 0, "worker threads (GOMAXPROCS) of this process, of each rank with --distributed (default: one per core)")
	fs.DurationVar(&d.timeout, "dist-timeout", dist.DefaultTimeout, "with --distributed: how long a collective may wait for the other ranks before the run fails")
	return d
}

// start sets the threads and joins the MPI job; stop undoes both.
func (d *distRun) start() error {
	if d.threads < 0 {
		return usagef("invalid value %d for --threads: want 1 or more", d.threads)
	}
	if d.threads > 0 {
		d.prev = runtime.GOMAXPROCS(d.threads)
	}
	if !d.on {
		return nil
	}
	if err := dist.Init(); err != nil {
		d.stop()
		return err
	}
	d.started = true
	dist.SetTimeout(d.timeout)
	return nil
}

// stop leaves the job. After a failed collective it does not finalize
// (that would wait for the lost rank); the process then exits non-zero
// and mpirun ends the others.
func (d *distRun) stop() {
	if d.prev > 0 {
		runtime.GOMAXPROCS(d.prev)
	}
	if d.started {
		dist.Finalize()
	}
}

// output returns w on rank 0 and io.Discard on the other ranks.
func (d *distRun) output(w io.Writer) io.Writer {
	if d.started && dist.Rank() != 0 {
		return io.Discard
	}
	return w
}

// writes reports whether this process writes the output folder.
func (d *distRun) writes() bool { return d == nil || !d.started || dist.Rank() == 0 }

// wrap starts every rank from rank 0's model.
func (d *distRun) wrap(m nn.Module, stdout io.Writer) error {
	if !d.started {
		return nil
	}
	var err error
	if d.ddp, err = dist.NewDataParallel(m); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "distributed: %d ranks × %d threads, gradients averaged in %d bucket(s)\n", dist.Size(), runtime.GOMAXPROCS(0), d.ddp.Buckets())
	return nil
}

// shard returns this rank's part of l.
func (d *distRun) shard(l *data.Loader) *data.Loader {
	if d == nil || !d.started {
		return l
	}
	return l.Shard(dist.Rank(), dist.Size())
}

// backward runs loss.Backward, averaging the gradients across the ranks.
func (d *distRun) backward(loss *nabla.Tensor) error {
	if d == nil || d.ddp == nil {
		loss.Backward()
		return nil
	}
	return d.ddp.Backward(loss)
}

// lost reports whether err is a failed collective, after which rank 0
// still saves the weights: the failed step's gradients were never
// applied, so they are those after the last complete step, the same on
// every rank.
func (d *distRun) lost(err error) bool {
	var de *dist.Error
	return d != nil && d.started && errors.As(err, &de)
}

// sums adds the epoch's running totals of all ranks.
func (d *distRun) sums(vs ...*float64) error {
	if d == nil || !d.started {
		return nil
	}
	buf := make([]float64, len(vs))
	for i, v := range vs {
		buf[i] = *v
	}
	if err := dist.AllReduce(buf, dist.Sum); err != nil {
		return err
	}
	for i, v := range vs {
		*v = buf[i]
	}
	return nil
}
