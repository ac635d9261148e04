package workload

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
)

// The OPS workload times single ops on (256, 4096) float32 tensors, large
// enough that the kernels, not the per-op overhead W2 measures, set the
// time: 4 MiB per tensor, beyond the L2 cache. bench/torch_bench.py runs
// the same cases on the same shapes.
const opsRows, opsCols = 256, 4096

// opCase is one OPS case: f computes the op of x.
type opCase struct {
	name string
	f    func(x *nabla.Tensor) *nabla.Tensor
}

// opCases returns the OPS cases in the order they are reported, each a
// function of x alone: y, bias (broadcast over rows) and the class-index
// target of cross_entropy are fixed.
func opCases(y, bias, target *nabla.Tensor) []opCase {
	// No affine parameters: torch's side calls F.layer_norm without weight
	// and bias, so neither side spends time on a multiply by 1 and an add
	// of 0 or on their gradients.
	ln := &nn.LayerNorm{Shape: []int{y.Shape()[1]}, Eps: 1e-5}
	return []opCase{
		{"add", func(x *nabla.Tensor) *nabla.Tensor { return x.Add(y) }},
		{"mul", func(x *nabla.Tensor) *nabla.Tensor { return x.Mul(y) }},
		{"add_bias", func(x *nabla.Tensor) *nabla.Tensor { return x.Add(bias) }},
		{"relu", (*nabla.Tensor).Relu},
		{"tanh", (*nabla.Tensor).Tanh},
		{"sigmoid", (*nabla.Tensor).Sigmoid},
		{"gelu", (*nabla.Tensor).Gelu},
		{"exp", (*nabla.Tensor).Exp},
		{"softmax", func(x *nabla.Tensor) *nabla.Tensor { return x.Softmax(1) }},
		{"log_softmax", func(x *nabla.Tensor) *nabla.Tensor { return x.LogSoftmax(1) }},
		{"sum_rows", func(x *nabla.Tensor) *nabla.Tensor { return x.SumKeep(1) }},
		{"sum_cols", func(x *nabla.Tensor) *nabla.Tensor { return x.SumKeep(0) }},
		{"max_rows", func(x *nabla.Tensor) *nabla.Tensor { return x.MaxKeep(1) }},
		{"mean", func(x *nabla.Tensor) *nabla.Tensor { return x.Mean() }},
		{"var_rows", func(x *nabla.Tensor) *nabla.Tensor { return x.VarKeep(0, 1) }},
		{"transpose_contiguous", func(x *nabla.Tensor) *nabla.Tensor { return x.T().Contiguous() }},
		{"layer_norm", ln.Forward},
		{"cross_entropy", func(x *nabla.Tensor) *nabla.Tensor { return nn.CrossEntropy(x, target) }},
	}
}

// ops measures each OPS case twice: fwd_us, one forward call without a
// graph, and fwd_bwd_us, a forward call recording the graph, the backward
// pass from an upstream of ones, and x.ZeroGrad(), which clears x's
// gradient in place so that every backward pass adds into an existing
// buffer, as PyTorch's x.grad.zero_() (and its optimizers' zero_grad) do.
// Outputs and the backward pass's temporaries are recycled through an
// arena, as a nabla training loop does.
func ops(ctx context.Context, cfg Config, emit func(Result)) error {
	rows, cols := opsRows, opsCols
	if cfg.opsShape != [2]int{} {
		rows, cols = cfg.opsShape[0], cfg.opsShape[1]
	}
	reps, dur := 7, 100*time.Millisecond
	if cfg.Quick {
		reps, dur = 3, 10*time.Millisecond
	}
	rng := rand.New(rand.NewPCG(3, 4))
	x := nabla.RandN(rng, rows, cols).RequireGrad()
	y := nabla.RandN(rng, rows, cols)
	bias := nabla.RandN(rng, cols)
	labels := make([]int64, rows)
	for i := range labels {
		labels[i] = int64(rng.IntN(cols))
	}
	// nn.CrossEntropy takes class indices as an Int64 tensor, one per row.
	target := nabla.FromSlice(labels, rows)
	for _, c := range opCases(y, bias, target) {
		if err := ctx.Err(); err != nil {
			return err
		}
		ar := nabla.NewArena()
		var sec float64
		var up *nabla.Tensor
		nabla.NoGrad(func() {
			// Inside NoGrad so that InArena records no graph either.
			xa := x.InArena(ar)
			up = nabla.Ones(c.f(xa).Shape()...) // the upstream, built untimed
			ar.Reset()
			sec = timeReps(ctx, reps, dur, func() {
				c.f(xa)
				ar.Reset()
			})
		}, x)
		emit(Result{Case: c.name, Metric: "fwd_us", Unit: "us", Value: sec * 1e6})
		sec = timeReps(ctx, reps, dur, func() {
			// InArena is recorded in the graph, which Backward releases.
			c.f(x.InArena(ar)).Backward(nabla.WithUpstream(up))
			x.ZeroGrad()
			ar.Reset()
		})
		emit(Result{Case: c.name, Metric: "fwd_bwd_us", Unit: "us", Value: sec * 1e6})
	}
	return ctx.Err()
}
