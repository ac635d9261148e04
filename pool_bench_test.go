package nabla_test

import (
	"math/rand/v2"
	"testing"

	"github.com/nabla-go/nabla"
)

// BenchmarkPool2d runs the pooling shapes that BenchmarkMaxPool2d does
// not: LeNet's first pool as an average, the 3×3 stride-2 padded max pool
// of ResNet's stem (the general path), and a 2×2 max pool in ceil mode on
// an odd size (the fast path, with half windows at the edges), forward
// and forward+backward, reporting input elements per second.
func BenchmarkPool2d(b *testing.B) {
	for _, pb := range []struct {
		name       string
		avg        bool
		n, c, h, w int
		k, st, pd  int
		ceil       bool
	}{
		{"avg2x2/lenet1", true, 64, 6, 28, 28, 2, 2, 0, false},
		{"max3x3s2p1", false, 16, 16, 32, 32, 3, 2, 1, false},
		{"max2x2ceil/27x27", false, 64, 6, 27, 27, 2, 2, 0, true},
	} {
		elems := float64(pb.n * pb.c * pb.h * pb.w)
		k := [2]int{pb.k, pb.k}
		opt := nabla.PoolOptions{Stride: [2]int{pb.st, pb.st}, Padding: [2]int{pb.pd, pb.pd}, CeilMode: pb.ceil}
		for _, bwd := range []bool{false, true} {
			name := "fwd/" + pb.name
			if bwd {
				name = "fwdbwd/" + pb.name
			}
			b.Run(name, func(b *testing.B) {
				x := nabla.RandN(rand.New(rand.NewPCG(3, 4)), pb.n, pb.c, pb.h, pb.w).RequireGrad()
				ar := nabla.NewArena()
				for b.Loop() {
					var y *nabla.Tensor
					if pb.avg {
						y = nabla.AvgPool2d(x.InArena(ar), k, opt)
					} else {
						y = nabla.MaxPool2d(x.InArena(ar), k, opt)
					}
					if bwd {
						y.Sum().Backward()
					}
					ar.Reset()
				}
				b.ReportMetric(elems*float64(b.N)/b.Elapsed().Seconds()/1e6, "Melem/s")
			})
		}
	}
}
