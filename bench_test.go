package nabla_test

import (
	"testing"
	"time"

	"github.com/nabla-go/nabla"
)

// chainOps is the length of the W2 eager-overhead chain: 5,000 times
// y = (y*0.999).Tanh(), the same chain bench/torch_bench.py runs in PyTorch.
const chainOps = 10000

func chain(x *nabla.Tensor) *nabla.Tensor {
	y := x
	for range chainOps / 2 {
		y = y.MulScalar(0.999).Tanh()
	}
	return y
}

// BenchmarkEagerChain measures the per-op overhead of eager execution
// (workload W2): forward alone, and forward plus backward, in microseconds
// per op.
func BenchmarkEagerChain(b *testing.B) {
	for _, c := range []struct {
		name  string
		shape []int
	}{{"1elem", []int{1}}, {"64x64", []int{64, 64}}} {
		b.Run(c.name+"/fwd", func(b *testing.B) {
			x := nabla.Full(0.5, c.shape...)
			start := time.Now()
			for b.Loop() {
				chain(x)
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N)/chainOps, "us/op")
		})
		b.Run(c.name+"/fwd_bwd", func(b *testing.B) {
			x := nabla.Full(0.5, c.shape...).RequireGrad()
			start := time.Now()
			for b.Loop() {
				x.ZeroGrad()
				chain(x).Sum().Backward()
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N)/chainOps, "us/op")
		})
	}
}

func TestChainGradient(t *testing.T) {
	// The W2 chain is differentiable end to end: compare with the product of
	// local derivatives computed by hand.
	x := nabla.FromSlice([]float64{0.5}).RequireGrad()
	chain(x).Sum().Backward()
	y, d := 0.5, 1.0
	for range chainOps / 2 {
		y = nabla.FromSlice([]float64{y * 0.999}).Tanh().Item()
		d *= 0.999 * (1 - y*y)
	}
	if !approx(x.Grad().Item(), d, 1e-9) {
		t.Errorf("grad = %v; want %v", x.Grad().Item(), d)
	}
}
