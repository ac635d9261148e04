package data

import (
	"fmt"

	"github.com/nabla-go/nabla"
)

// shard is one rank's part of a data-parallel job; the zero value is the
// whole epoch.
type shard struct{ rank, size int }

// samples returns how many samples of n the shard visits per epoch.
func (s shard) samples(n int) int {
	if s.size <= 1 {
		return n
	}
	return (n + s.size - 1) / s.size
}

// part returns the shard's samples of an epoch's order: the order padded
// by wrapping to a multiple of size, then every size-th from rank on.
func (s shard) part(order []int) []int {
	if s.size <= 1 || len(order) == 0 {
		return order
	}
	per := s.samples(len(order))
	out := make([]int, per)
	for i := range out {
		out[i] = order[(s.rank+i*s.size)%len(order)]
	}
	return out
}

// Shard returns a loader over rank's part of every epoch of a job of size
// ranks, as PyTorch's DistributedSampler cuts it: the epoch's order (the
// same shuffle on every rank, from the seed and the epoch number) is
// padded by wrapping around to a multiple of size, and rank takes its
// samples rank, rank+size, rank+2·size, ... Every rank then visits
// ceil(n/size) samples, so that all take the same number of steps; the
// parts are disjoint but for the few padding samples.
//
// The samples of batch b on all ranks together are those of batch b of
// the unsharded loader at size times the batch size, so that averaging
// the ranks' gradients gives that loader's step (before the padding).
// Shard panics with a *nabla.ValueError unless 0 <= rank < size; the
// receiver is not changed.
func (l *Loader) Shard(rank, size int) *Loader {
	if size < 1 || rank < 0 || rank >= size {
		panic(&nabla.ValueError{Op: "Shard", Reason: fmt.Sprintf("rank %d of %d: want 0 <= rank < size", rank, size)})
	}
	return &Loader{ds: l.ds, cfg: l.cfg, xShape: l.xShape, yShape: l.yShape, xSize: l.xSize, ySize: l.ySize, shard: shard{rank, size}}
}
