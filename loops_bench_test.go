package nabla_test

import (
	"math/rand/v2"
	"testing"

	"github.com/nabla-go/nabla"
)

// The element-wise and reduction benchmarks run on (128, 256) float32
// tensors: the activations of the W3 MLP's first layer at batch 128. Each
// reports the bytes read and written per second (SetBytes) and ns/elem.

const benchRows, benchCols = 128, 256

func reportElem(b *testing.B, n int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/elem")
}

func BenchmarkElementwise(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	x := nabla.RandN(rng, benchRows, benchCols)
	y := nabla.RandN(rng, benchRows, benchCols)
	bias := nabla.RandN(rng, benchCols)
	const n = benchRows * benchCols
	for _, bc := range []struct {
		name  string
		bytes int // bytes read and written per element
		f     func(x, y, bias *nabla.Tensor) *nabla.Tensor
	}{
		{"Add", 12, func(x, y, bias *nabla.Tensor) *nabla.Tensor { return x.Add(y) }},
		{"Sub", 12, func(x, y, bias *nabla.Tensor) *nabla.Tensor { return x.Sub(y) }},
		{"Mul", 12, func(x, y, bias *nabla.Tensor) *nabla.Tensor { return x.Mul(y) }},
		{"AddBias", 8, func(x, y, bias *nabla.Tensor) *nabla.Tensor { return x.Add(bias) }},
		{"MulScalar", 8, func(x, y, bias *nabla.Tensor) *nabla.Tensor { return x.MulScalar(0.5) }},
		{"AddScalar", 8, func(x, y, bias *nabla.Tensor) *nabla.Tensor { return x.AddScalar(0.5) }},
		{"Relu", 8, func(x, y, bias *nabla.Tensor) *nabla.Tensor { return x.Relu() }},
		{"Tanh", 8, func(x, y, bias *nabla.Tensor) *nabla.Tensor { return x.Tanh() }},
		{"Exp", 8, func(x, y, bias *nabla.Tensor) *nabla.Tensor { return x.Exp() }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ar := nabla.NewArena()
			xa, ya, ba := x.InArena(ar), y.InArena(ar), bias.InArena(ar)
			b.SetBytes(int64(bc.bytes * n))
			nabla.NoGrad(func() {
				for b.Loop() {
					bc.f(xa, ya, ba)
					ar.Reset()
				}
			}, x, y, bias)
			reportElem(b, n)
		})
	}
}

func BenchmarkReduce(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	x := nabla.RandN(rng, benchRows, benchCols)
	// big is the OPS workload's (256, 4096) input: large enough for the
	// reductions to be split between cores.
	big := nabla.RandN(rng, 256, 4096)
	for _, bc := range []struct {
		name string
		x    *nabla.Tensor
		f    func(x *nabla.Tensor) *nabla.Tensor
	}{
		{"Sum/axis1", x, func(x *nabla.Tensor) *nabla.Tensor { return x.Sum(1) }},
		{"Sum/axis0", x, func(x *nabla.Tensor) *nabla.Tensor { return x.Sum(0) }},
		{"Max/axis1", x, func(x *nabla.Tensor) *nabla.Tensor { return x.MaxKeep(1) }},
		{"256x4096/Sum/axis1", big, func(x *nabla.Tensor) *nabla.Tensor { return x.Sum(1) }},
		{"256x4096/Sum/axis0", big, func(x *nabla.Tensor) *nabla.Tensor { return x.Sum(0) }},
		{"256x4096/Sum/all", big, func(x *nabla.Tensor) *nabla.Tensor { return x.Sum() }},
		{"256x4096/Max/axis1", big, func(x *nabla.Tensor) *nabla.Tensor { return x.MaxKeep(1) }},
		{"256x4096/Max/all", big, func(x *nabla.Tensor) *nabla.Tensor { return x.Max() }},
		{"256x4096/ArgMax/axis1", big, func(x *nabla.Tensor) *nabla.Tensor { return x.ArgMax(1) }},
		{"256x4096/ArgMax/axis0", big, func(x *nabla.Tensor) *nabla.Tensor { return x.ArgMax(0) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			n := bc.x.Len()
			ar := nabla.NewArena()
			xa := bc.x.InArena(ar)
			b.SetBytes(int64(4 * n))
			nabla.NoGrad(func() {
				for b.Loop() {
					bc.f(xa)
					ar.Reset()
				}
			}, bc.x)
			reportElem(b, n)
		})
	}
}

// BenchmarkInferenceBatch1 is workload W5: the 784-256-128-10 ReLU MLP on
// one image, forward only, with outputs recycled through an arena.
func BenchmarkInferenceBatch1(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := newMLP(rng, 784, 256, 128, 10)
	x := nabla.Rand(rng, 1, 784)
	ar := nabla.NewArena()
	leaves := append(append([]*nabla.Tensor{x}, m.w...), m.b...)
	nabla.NoGrad(func() {
		for b.Loop() {
			h := x.InArena(ar)
			for i := range m.w {
				h = h.MatMul(m.w[i].T()).Add(m.b[i])
				if i < len(m.w)-1 {
					h = h.Relu()
				}
			}
			ar.Reset()
		}
	}, leaves...)
}

// BenchmarkSoftmax runs log-softmax and softmax along the last axis of
// (256, 10000) float32 logits, a language model's output over its
// vocabulary, forward and forward+backward.
func BenchmarkSoftmax(b *testing.B) {
	rng := rand.New(rand.NewPCG(11, 12))
	const rows, cols = 256, 10000
	x := nabla.RandN(rng, rows, cols).RequireGrad()
	for _, bc := range []struct {
		name string
		f    func(x *nabla.Tensor) *nabla.Tensor
	}{
		{"LogSoftmax", func(x *nabla.Tensor) *nabla.Tensor { return x.LogSoftmax(1) }},
		{"Softmax", func(x *nabla.Tensor) *nabla.Tensor { return x.Softmax(1) }},
	} {
		b.Run(bc.name+"/fwd", func(b *testing.B) {
			ar := nabla.NewArena()
			xa := x.InArena(ar)
			nabla.NoGrad(func() {
				for b.Loop() {
					bc.f(xa)
					ar.Reset()
				}
			}, x)
			reportElem(b, rows*cols)
		})
		b.Run(bc.name+"/fwdbwd", func(b *testing.B) {
			ar := nabla.NewArena()
			g := nabla.RandN(rng, rows, cols)
			for b.Loop() {
				// InArena is recorded in the graph, which Backward releases.
				bc.f(x.InArena(ar)).Backward(nabla.WithUpstream(g))
				x.ZeroGrad()
				ar.Reset()
			}
			reportElem(b, rows*cols)
		})
	}
}
