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

// opCase is one OPS case: f computes the op of x. The cases of the
// shared (256, 4096) x leave shape nil; the others name the shape of their
// own x, drawn from N(0, 1).
type opCase struct {
	name  string
	f     func(x *nabla.Tensor) *nabla.Tensor
	shape []int
}

// The shapes of the cases with inputs of their own, as in a model: a
// Transformer's batched products and attention, an embedding lookup, and
// ResNet's first stage (64 channels at 56×56).
const (
	bmmBatch, bmmM, bmmK, bmmN = 32, 128, 64, 128
	embVocab, embDim, embIDs   = 8192, 256, 4096
	imgN, imgC, imgHW          = 4, 64, 56
	attnB, attnH, attnL, attnE = 8, 4, 128, 32
)

// shapedCases returns the cases with inputs of their own; their fixed
// operands (weights, ids, keys and values) come from rng, drawn in the
// order bench/torch_bench.py documents (the values differ from torch's, the
// shapes and distributions do not).
func shapedCases(rng *rand.Rand) []opCase {
	bmmW := nabla.RandN(rng, bmmBatch, bmmK, bmmN)
	ids := make([]int64, embIDs)
	for i := range ids {
		ids[i] = int64(rng.IntN(embVocab))
	}
	idx := nabla.FromSlice(ids)
	// conv3x3's weight takes part in the backward pass, as in training;
	// its gradient accumulates (torch's side lets w.grad accumulate too)
	convW := nabla.RandN(rng, imgC, imgC, 3, 3).MulScalar(0.05).RequireGrad()
	bn := nn.NewBatchNorm2d(imgC)
	k := nabla.RandN(rng, attnB, attnH, attnL, attnE)
	v := nabla.RandN(rng, attnB, attnH, attnL, attnE)
	img := []int{imgN, imgC, imgHW, imgHW}
	return []opCase{
		{"bmm", func(x *nabla.Tensor) *nabla.Tensor { return x.MatMul(bmmW) }, []int{bmmBatch, bmmM, bmmK}},
		{"embedding", func(x *nabla.Tensor) *nabla.Tensor { return x.IndexSelect(0, idx) }, []int{embVocab, embDim}},
		{"conv3x3", func(x *nabla.Tensor) *nabla.Tensor {
			return nabla.Conv2d(x, convW, nil, nabla.ConvOptions{Padding: [2]int{1, 1}})
		}, img},
		{"batchnorm2d", bn.Forward, img},
		{"max_pool2d", func(x *nabla.Tensor) *nabla.Tensor {
			return nabla.MaxPool2d(x, [2]int{3, 3}, nabla.PoolOptions{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}})
		}, img},
		{"sdpa_causal", func(q *nabla.Tensor) *nabla.Tensor {
			return nabla.ScaledDotProductAttention(q, k, v, nabla.AttentionOptions{Causal: true})
		}, []int{attnB, attnH, attnL, attnE}},
	}
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
		{"add", func(x *nabla.Tensor) *nabla.Tensor { return x.Add(y) }, nil},
		{"mul", func(x *nabla.Tensor) *nabla.Tensor { return x.Mul(y) }, nil},
		{"add_bias", func(x *nabla.Tensor) *nabla.Tensor { return x.Add(bias) }, nil},
		{"relu", (*nabla.Tensor).Relu, nil},
		{"tanh", (*nabla.Tensor).Tanh, nil},
		{"sigmoid", (*nabla.Tensor).Sigmoid, nil},
		{"gelu", (*nabla.Tensor).Gelu, nil},
		{"exp", (*nabla.Tensor).Exp, nil},
		{"softmax", func(x *nabla.Tensor) *nabla.Tensor { return x.Softmax(1) }, nil},
		{"log_softmax", func(x *nabla.Tensor) *nabla.Tensor { return x.LogSoftmax(1) }, nil},
		{"sum_rows", func(x *nabla.Tensor) *nabla.Tensor { return x.SumKeep(1) }, nil},
		{"sum_cols", func(x *nabla.Tensor) *nabla.Tensor { return x.SumKeep(0) }, nil},
		{"max_rows", func(x *nabla.Tensor) *nabla.Tensor { return x.MaxKeep(1) }, nil},
		{"mean", func(x *nabla.Tensor) *nabla.Tensor { return x.Mean() }, nil},
		{"var_rows", func(x *nabla.Tensor) *nabla.Tensor { return x.VarKeep(0, 1) }, nil},
		{"transpose_contiguous", func(x *nabla.Tensor) *nabla.Tensor { return x.T().Contiguous() }, nil},
		{"layer_norm", ln.Forward, nil},
		{"cross_entropy", func(x *nabla.Tensor) *nabla.Tensor { return nn.CrossEntropy(x, target) }, nil},
		{"gelu_tanh", (*nabla.Tensor).GeluTanh, nil},
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
	cases := opCases(y, bias, target)
	if cfg.opsShape == [2]int{} { // the test's small shape runs the shared-x cases only
		cases = append(cases, shapedCases(rand.New(rand.NewPCG(5, 6)))...)
	}
	shared := x
	for _, c := range cases {
		if err := ctx.Err(); err != nil {
			return err
		}
		x := shared
		if c.shape != nil {
			x = nabla.RandN(rng, c.shape...).RequireGrad()
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
