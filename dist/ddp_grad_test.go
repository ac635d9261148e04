package dist_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/dist"
	"github.com/nabla-go/nabla/nn"
)

func init() { roles["ddpgrad"] = ddpGradRank }

// ddpGradRank builds a small model whose initial weights differ by rank
// and checks that NewDataParallel gives every rank rank 0's, and that
// Backward leaves each gradient the mean of the ranks' own gradients, in
// float32 and float64, with buckets of one parameter or of all.
func ddpGradRank(json.RawMessage) (code int) {
	if err := dist.Init(); err != nil {
		rankf(-1, "%v", err)
		return 1
	}
	r, n := dist.Rank(), dist.Size()
	fail := func(format string, a ...any) {
		rankf(r, format, a...)
		code = 1
	}
	for _, dt := range []nabla.DType{nabla.Float32, nabla.Float64} {
		for _, bb := range []int{1, 0} {
			rng := rand.New(rand.NewPCG(uint64(r), 1)) // a different start on every rank
			m := nn.NewSequential(nn.NewLinear(rng, 5, 4), nn.Tanh{}, nn.NewLinear(rng, 4, 3))
			nn.To(m, dt)
			ddp, err := dist.NewDataParallel(m, dist.BucketBytes(bb))
			if err != nil {
				fail("%v", err)
				return
			}
			if want := map[int]int{1: 4, 0: 1}[bb]; ddp.Buckets() != want {
				fail("%v, bucket bytes %d: %d buckets, want %d", dt, bb, ddp.Buckets(), want)
			}
			for _, p := range m.Params() {
				v := p.Tensor.To(nabla.Float64).Float64s()
				all := make([]float64, n*len(v))
				if err := dist.AllGather(v, all); err != nil {
					fail("%v", err)
				}
				for q := 1; q < n; q++ {
					if !slices.Equal(all[q*len(v):(q+1)*len(v)], v) {
						fail("%v: %s of rank %d is not rank 0's after NewDataParallel", dt, p.Name, q)
					}
				}
			}
			x := nabla.RandN(rand.New(rand.NewPCG(uint64(r), 2)), 6, 5).To(dt)
			loss := func() *nabla.Tensor { return m.Forward(x).Square().Mean() }
			loss().Backward()
			var local [][]float64
			for _, p := range m.Params() {
				local = append(local, p.Tensor.Grad().To(nabla.Float64).Float64s())
				p.Tensor.ZeroGrad()
			}
			if err := ddp.Backward(loss()); err != nil {
				fail("%v", err)
				return
			}
			for i, p := range m.Params() {
				want := slices.Clone(local[i])
				if err := dist.AllReduce(want, dist.Mean); err != nil {
					fail("%v", err)
				}
				got := p.Tensor.Grad().To(nabla.Float64).Float64s()
				for k := range got {
					if math.Abs(got[k]-want[k]) > 1e-6*(1+math.Abs(want[k])) {
						fail("%v, bucket bytes %d: %s grad[%d] = %v, want the mean %v", dt, bb, p.Name, k, got[k], want[k])
						break
					}
				}
			}
		}
	}
	if err := dist.Finalize(); err != nil {
		fail("%v", err)
	}
	return code
}

// TestDataParallelGradients runs ddpGradRank on 2 and 3 ranks.
func TestDataParallelGradients(t *testing.T) {
	for _, np := range []int{2, 3} {
		mpirun(t, np, 1, 2*time.Minute, "ddpgrad", nil).ok(t)
	}
}
