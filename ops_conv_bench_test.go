package nabla_test

import (
	"math/rand/v2"
	"testing"

	"github.com/nabla-go/nabla"
)

// convBench is one convolution shape of the W4 workload (LeNet-5 at
// batch 64).
type convBench struct {
	name       string
	n, c, h, w int
	o, k       int
	pad        int
	stride     int  // 1 when 0
	inputGrad  bool // the input requires a gradient (it is not the data)
}

func (cb convBench) st() int { return max(cb.stride, 1) }

var lenetConvs = []convBench{
	{name: "lenet1", n: 64, c: 1, h: 28, w: 28, o: 6, k: 5, pad: 2},
	{name: "lenet2", n: 64, c: 6, h: 14, w: 14, o: 16, k: 5, inputGrad: true},
}

// resnetConvs are 3×3 and 1×1 convolutions of torchvision's resnet18 (W9)
// at batch 16, and the first one at batch 1.
var resnetConvs = []convBench{
	{name: "resnet_c64_56", n: 16, c: 64, h: 56, w: 56, o: 64, k: 3, pad: 1},
	{name: "resnet_c64_56_b1", n: 1, c: 64, h: 56, w: 56, o: 64, k: 3, pad: 1},
	{name: "resnet_c128_28", n: 16, c: 128, h: 28, w: 28, o: 128, k: 3, pad: 1},
	{name: "resnet_c256_14", n: 16, c: 256, h: 14, w: 14, o: 256, k: 3, pad: 1},
	{name: "resnet_c512_7", n: 16, c: 512, h: 7, w: 7, o: 512, k: 3, pad: 1},
	{name: "resnet_s2_c64_56", n: 16, c: 64, h: 56, w: 56, o: 128, k: 3, pad: 1, stride: 2},
	{name: "resnet_1x1s2_c64_56", n: 16, c: 64, h: 56, w: 56, o: 128, k: 1, stride: 2},
}

// flops returns the multiply-adds of the forward pass, times two.
func (cb convBench) flops() float64 {
	oh := (cb.h+2*cb.pad-cb.k)/cb.st() + 1
	ow := (cb.w+2*cb.pad-cb.k)/cb.st() + 1
	return 2 * float64(cb.n*cb.o*oh*ow*cb.c*cb.k*cb.k)
}

func (cb convBench) inputs() (x, w, b *nabla.Tensor) {
	rng := rand.New(rand.NewPCG(1, 2))
	x = nabla.RandN(rng, cb.n, cb.c, cb.h, cb.w)
	w = nabla.RandN(rng, cb.o, cb.c, cb.k, cb.k).RequireGrad()
	b = nabla.RandN(rng, cb.o).RequireGrad()
	if cb.inputGrad {
		x.RequireGrad()
	}
	return x, w, b
}

// BenchmarkConv2d runs the forward pass of LeNet's two convolutions, and
// the forward and backward passes, with the output recycled by an arena as
// in training.
func BenchmarkConv2d(b *testing.B) {
	for _, cb := range lenetConvs {
		opt := nabla.ConvOptions{Padding: [2]int{cb.pad, cb.pad}, Stride: [2]int{cb.st(), cb.st()}}
		b.Run("fwd/"+cb.name, func(b *testing.B) {
			x, w, bias := cb.inputs()
			ar := nabla.NewArena()
			for b.Loop() {
				nabla.Conv2d(x.InArena(ar), w, bias, opt)
				ar.Reset()
			}
			b.ReportMetric(cb.flops()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run("fwdbwd/"+cb.name, func(b *testing.B) {
			x, w, bias := cb.inputs()
			ar := nabla.NewArena()
			passes := 2.0 // forward and weight gradient
			if cb.inputGrad {
				passes = 3 // and input gradient
			}
			for b.Loop() {
				nabla.Conv2d(x.InArena(ar), w, bias, opt).Sum().Backward()
				ar.Reset()
			}
			b.ReportMetric(passes*cb.flops()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkConv2dResNet runs the forward pass of resnet18's convolutions
// (inference, as W9).
func BenchmarkConv2dResNet(b *testing.B) {
	for _, cb := range resnetConvs {
		opt := nabla.ConvOptions{Padding: [2]int{cb.pad, cb.pad}, Stride: [2]int{cb.st(), cb.st()}}
		b.Run("fwd/"+cb.name, func(b *testing.B) {
			x, w, bias := cb.inputs()
			ar := nabla.NewArena()
			nabla.NoGrad(func() {
				for b.Loop() {
					nabla.Conv2d(x.InArena(ar), w, bias, opt)
					ar.Reset()
				}
			}, w, bias)
			b.ReportMetric(cb.flops()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkMaxPool2d runs LeNet's two 2×2 max-pools at batch 64, forward
// and forward+backward, reporting input elements per second.
func BenchmarkMaxPool2d(b *testing.B) {
	for _, pb := range []struct {
		name       string
		n, c, h, w int
	}{
		{"lenet1", 64, 6, 28, 28},
		{"lenet2", 64, 16, 10, 10},
	} {
		elems := float64(pb.n * pb.c * pb.h * pb.w)
		for _, bwd := range []bool{false, true} {
			name := "fwd/" + pb.name
			if bwd {
				name = "fwdbwd/" + pb.name
			}
			b.Run(name, func(b *testing.B) {
				x := nabla.RandN(rand.New(rand.NewPCG(3, 4)), pb.n, pb.c, pb.h, pb.w).RequireGrad()
				ar := nabla.NewArena()
				for b.Loop() {
					y := nabla.MaxPool2d(x.InArena(ar), [2]int{2, 2}, nabla.PoolOptions{})
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
