package nn_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/gradcheck"
	"github.com/nabla-go/nabla/nn"
)

type T = nabla.Tensor

// randIn returns a float64 tensor with values in ±[0.2, 1] (away from 0,
// where ReLU, L1 and max-pool ties are not differentiable), scaled by s.
func randIn(rng *rand.Rand, s float64, shape ...int) *T {
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = s * (0.2 + 0.8*rng.Float64())
		if rng.IntN(2) == 0 {
			v[i] = -v[i]
		}
	}
	return nabla.FromSlice(v, shape...)
}

// randRange returns a float64 tensor with values uniform in [lo, hi).
func randRange(rng *rand.Rand, lo, hi float64, shape ...int) *T {
	return nabla.Uniform(rng, lo, hi, shape...).To(nabla.Float64)
}

// labels returns a float64 tensor of class indices.
func labels(v ...float64) *T { return nabla.FromSlice(v).To(nabla.Int64) }

// checkModule runs gradcheck on m's Forward with respect to x (unless x is
// nil, when the input is the constant c) and to every parameter of m,
// substituting the checker's leaves for the parameters with nn.SetParam.
// It converts m to float64 first and restores its parameters afterwards.
func checkModule(m nn.Module, x, c *T, order int, before func()) error {
	nn.To(m, nabla.Float64)
	ps := m.Params()
	var in []*T
	if x != nil {
		in = append(in, x)
	}
	for _, p := range ps {
		in = append(in, p.Tensor)
	}
	defer func() {
		for _, p := range ps {
			nn.SetParam(m, p.Name, p.Tensor)
		}
	}()
	f := func(in []*T) *T {
		if before != nil {
			before()
		}
		input := c
		if x != nil {
			input, in = in[0], in[1:]
		}
		for i, p := range ps {
			nn.SetParam(m, p.Name, in[i])
		}
		return m.Forward(input)
	}
	return gradcheck.Check(f, in, gradcheck.Options{Order: order})
}

func TestLayerGradcheck(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	conv := func(in, out int, k [2]int, o nabla.ConvOptions) nn.Module { return nn.NewConv2d(rng, in, out, k, o) }
	bnEval1 := nn.NewBatchNorm1d(3)
	bnEval1.Training = false
	bnEval2 := nn.NewBatchNorm2d(2)
	bnEval2.Training = false
	for _, b := range []interface{ Buffers() []nn.Param }{bnEval1, bnEval2} {
		bs := b.Buffers()
		nn.Uniform(rng, bs[0].Tensor, -1, 1)  // running mean
		nn.Uniform(rng, bs[1].Tensor, 0.5, 2) // running var
	}
	affineBN := nn.NewBatchNorm1d(3)
	nn.Uniform(rng, affineBN.Weight, 0.5, 1.5)
	nn.Uniform(rng, affineBN.Bias, -1, 1)
	ln := nn.NewLayerNorm(3, 4)
	nn.Uniform(rng, ln.Weight, 0.5, 1.5)
	nn.Uniform(rng, ln.Bias, -1, 1)
	drop := nn.NewDropout(nil, 0.4)
	resetDrop := func() { drop.Rng = rand.New(rand.NewPCG(9, 9)) }
	noBias := nn.NewLinear(rng, 3, 2)
	noBias.Bias = nil

	for _, tt := range []struct {
		name   string
		m      nn.Module
		x      *T // differentiated input, or nil
		c      *T // constant input when x is nil
		order  int
		before func()
	}{
		{name: "Linear/2d", m: nn.NewLinear(rng, 3, 4), x: randIn(rng, 1, 2, 3), order: 2},
		{name: "Linear/3d", m: nn.NewLinear(rng, 3, 2), x: randIn(rng, 1, 2, 2, 3), order: 2},
		{name: "Linear/1d", m: nn.NewLinear(rng, 3, 2), x: randIn(rng, 1, 3), order: 2},
		{name: "Linear/nobias", m: noBias, x: randIn(rng, 1, 2, 3), order: 2},
		{name: "Conv2d/basic", m: conv(2, 2, [2]int{2, 2}, nabla.ConvOptions{}), x: randIn(rng, 1, 1, 2, 3, 4), order: 2},
		{name: "Conv2d/stride-pad", m: conv(1, 2, [2]int{3, 3}, nabla.ConvOptions{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}}), x: randIn(rng, 1, 2, 1, 4, 4), order: 2},
		{name: "Conv2d/dilation", m: conv(1, 1, [2]int{2, 2}, nabla.ConvOptions{Dilation: [2]int{2, 1}}), x: randIn(rng, 1, 1, 1, 4, 3), order: 2},
		{name: "Conv2d/groups", m: conv(4, 2, [2]int{1, 2}, nabla.ConvOptions{Groups: 2}), x: randIn(rng, 1, 1, 4, 2, 3), order: 2},
		{name: "MaxPool2d", m: nn.NewMaxPool2d([2]int{2, 2}, [2]int{1, 1}, [2]int{}), x: randIn(rng, 1, 1, 2, 3, 3), order: 2},
		{name: "MaxPool2d/pad", m: nn.NewMaxPool2d([2]int{3, 3}, [2]int{2, 2}, [2]int{1, 1}), x: randIn(rng, 1, 1, 1, 4, 5), order: 2},
		{name: "AvgPool2d", m: nn.NewAvgPool2d([2]int{2, 2}, [2]int{}, [2]int{}), x: randIn(rng, 1, 1, 2, 4, 4), order: 2},
		{name: "AvgPool2d/pad", m: nn.NewAvgPool2d([2]int{3, 2}, [2]int{2, 1}, [2]int{1, 1}), x: randIn(rng, 1, 1, 1, 4, 3), order: 2},
		{name: "AdaptiveAvgPool2d", m: nn.NewAdaptiveAvgPool2d(2, 3), x: randIn(rng, 1, 1, 2, 5, 4), order: 2},
		{name: "BatchNorm1d/train-2d", m: affineBN, x: randIn(rng, 2, 4, 3), order: 2},
		{name: "BatchNorm1d/train-3d", m: nn.NewBatchNorm1d(2), x: randIn(rng, 2, 2, 2, 3), order: 2},
		{name: "BatchNorm1d/eval", m: bnEval1, x: randIn(rng, 2, 4, 3), order: 2},
		{name: "BatchNorm2d/train", m: nn.NewBatchNorm2d(2), x: randIn(rng, 2, 2, 2, 2, 3), order: 2},
		{name: "BatchNorm2d/eval", m: bnEval2, x: randIn(rng, 2, 2, 2, 2, 3), order: 2},
		{name: "LayerNorm", m: ln, x: randIn(rng, 2, 2, 3, 4), order: 2},
		{name: "LayerNorm/1d", m: nn.NewLayerNorm(5), x: randIn(rng, 2, 3, 5), order: 2},
		{name: "Dropout/train", m: drop, x: randIn(rng, 1, 3, 4), order: 2, before: resetDrop},
		{name: "Embedding", m: nn.NewEmbedding(rng, 5, 3), c: labels(4, 0, 4, 2), order: 2},
		{name: "Flatten", m: nn.NewFlatten(), x: randIn(rng, 1, 2, 2, 3), order: 2},
		{name: "ReLU", m: nn.ReLU{}, x: randIn(rng, 1, 3, 4), order: 2},
		{name: "LeakyReLU", m: nn.LeakyReLU{Slope: 0.1}, x: randIn(rng, 1, 3, 4), order: 2},
		{name: "GELU", m: nn.GELU{}, x: randIn(rng, 2, 3, 4), order: 2},
		{name: "GELU/tanh", m: nn.GELU{Tanh: true}, x: randIn(rng, 2, 3, 4), order: 2},
		{name: "Sigmoid", m: nn.Sigmoid{}, x: randIn(rng, 2, 3, 4), order: 2},
		{name: "Tanh", m: nn.Tanh{}, x: randIn(rng, 2, 3, 4), order: 2},
		{name: "Softplus", m: nn.Softplus{}, x: randIn(rng, 2, 3, 4), order: 2},
		{name: "Softplus/beta", m: nn.Softplus{Beta: 3}, x: randIn(rng, 2, 3, 4), order: 2},
		{name: "Softmax", m: nn.Softmax{Axis: 1}, x: randIn(rng, 2, 3, 4), order: 2},
		{name: "LogSoftmax", m: nn.LogSoftmax{Axis: -1}, x: randIn(rng, 2, 2, 3, 4), order: 2},
		{name: "Identity", m: nn.Identity{}, x: randIn(rng, 1, 3, 4), order: 2},
		{name: "Sequential", m: nn.NewSequential(nn.NewLinear(rng, 3, 4), nn.Tanh{}, nn.NewLayerNorm(4), nn.NewLinear(rng, 4, 2)), x: randIn(rng, 1, 2, 3), order: 2},
		// The rows below come last so that the rows above keep their values.
		{name: "BatchNorm1d/nostats-train", m: noStats1(affine(nn.NewBatchNorm1d(3))), x: randIn(rng, 2, 4, 3), order: 2},
		{name: "BatchNorm1d/nostats-eval", m: eval1(noStats1(affine(nn.NewBatchNorm1d(3)))), x: randIn(rng, 2, 4, 3), order: 2},
		{name: "BatchNorm1d/nostats-eval-3d-noaffine", m: eval1(noAffine1(noStats1(nn.NewBatchNorm1d(2)))), x: randIn(rng, 2, 2, 2, 3), order: 2},
		{name: "BatchNorm2d/nostats-eval", m: noStats2(nn.NewBatchNorm2d(2), false), x: randIn(rng, 2, 2, 2, 2, 3), order: 2},
		{name: "BatchNorm1d/cumulative-train", m: cumulative1(affine(nn.NewBatchNorm1d(3))), x: randIn(rng, 2, 4, 3), order: 2},
		{name: "BatchNorm2d/cumulative-train", m: cumulative2(nn.NewBatchNorm2d(2)), x: randIn(rng, 2, 2, 2, 2, 3), order: 2},
		{name: "Embedding/padding", m: newPaddedEmbedding(rng, 5, 3, 2), c: labels(2, 4, 0, 2, 1), order: 2},
		{name: "Embedding/padding-negative", m: newPaddedEmbedding(rng, 4, 2, -1), c: nabla.FromSlice([]int64{3, 0, 3, 2}, 2, 2), order: 2},
		{name: "Embedding/max-norm", m: maxNormEmbedding(rng), c: labels(0, 2, 4, 2), order: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkModule(tt.m, tt.x, tt.c, tt.order, tt.before); err != nil {
				t.Errorf("%v: %v", tt.m, err)
			}
		})
	}
}

// Helpers for the batch norm rows: each changes the layer and returns it.

func affine(m *nn.BatchNorm1d) *nn.BatchNorm1d {
	rng := rand.New(rand.NewPCG(8, 8))
	nn.Uniform(rng, m.Weight, 0.5, 1.5)
	nn.Uniform(rng, m.Bias, -1, 1)
	return m
}

func noStats1(m *nn.BatchNorm1d) *nn.BatchNorm1d {
	m.RunningMean, m.RunningVar, m.NumBatchesTracked = nil, nil, nil
	return m
}

func noAffine1(m *nn.BatchNorm1d) *nn.BatchNorm1d {
	m.Weight, m.Bias = nil, nil
	return m
}

func eval1(m *nn.BatchNorm1d) *nn.BatchNorm1d {
	m.Training = false
	return m
}

func cumulative1(m *nn.BatchNorm1d) *nn.BatchNorm1d {
	m.CumulativeAverage = true
	return m
}

func noStats2(m *nn.BatchNorm2d, training bool) *nn.BatchNorm2d {
	m.RunningMean, m.RunningVar, m.NumBatchesTracked = nil, nil, nil
	m.Training = training
	return m
}

func cumulative2(m *nn.BatchNorm2d) *nn.BatchNorm2d {
	m.CumulativeAverage = true
	return m
}

// paddedEmbedding is an Embedding with a padding row, differentiated with
// respect to its other rows only: the padding row gets a zero gradient by
// design, which is not the derivative of the output (lookups return the
// row), so here it is a constant, and TestEmbeddingPaddingGradient checks
// the zero. Its one parameter, "rest", holds the other rows.
type paddedEmbedding struct {
	e    *nn.Embedding
	rest *T // (num-1, dim)
	pad  *T // (1, dim), constant
	row  int
}

func newPaddedEmbedding(rng *rand.Rand, num, dim, paddingIdx int) *paddedEmbedding {
	e := nn.NewEmbeddingPadded(rng, num, dim, paddingIdx)
	row := *e.PaddingIdx
	w := e.Weight.To(nabla.Float64)
	return &paddedEmbedding{e: e, row: row,
		rest: nabla.Concat([]*T{w.Slice(0, 0, row, 1), w.Slice(0, row+1, num, 1)}, 0).Detach().RequireGrad(),
		// not zero, so that a lookup that ignored the row would show
		pad: randIn(rng, 1, 1, dim)}
}

func (m *paddedEmbedding) Forward(idx *T) *T {
	parts := []*T{m.pad}
	if m.row > 0 {
		parts = []*T{m.rest.Slice(0, 0, m.row, 1), m.pad}
	}
	if m.row < m.rest.Size(0) {
		parts = append(parts, m.rest.Slice(0, m.row, m.rest.Size(0), 1))
	}
	m.e.SetParam("weight", nabla.Concat(parts, 0))
	return m.e.Forward(idx)
}

func (m *paddedEmbedding) Params() []nn.Param { return []nn.Param{{Name: "rest", Tensor: m.rest}} }

func (m *paddedEmbedding) SetParam(_ string, t *T) { m.rest = t }

// maxNormEmbedding returns an Embedding with MaxNorm whose rows 0, 2 and 4
// (the ones the gradient check looks up) are inside the bound, with room to
// spare for the check's perturbations, and rows 1 and 3 far outside it. A
// row rescaled in place has by design the gradient of a plain lookup, not
// the derivative of the rescale (as in PyTorch), so only rows inside the
// bound can be checked numerically; the reference tests check the rescale.
func maxNormEmbedding(rng *rand.Rand) *nn.Embedding {
	e := nn.NewEmbedding(rng, 5, 3)
	e.MaxNorm = 2
	w := e.Weight.Data32()
	for r := range 5 {
		want := 1.0 // inside the bound
		if r%2 == 1 {
			want = 6 // outside it
		}
		row := w[r*3 : r*3+3]
		norm := math.Sqrt(float64(row[0]*row[0] + row[1]*row[1] + row[2]*row[2]))
		for j := range row {
			row[j] *= float32(want / norm)
		}
	}
	return e
}

func TestLossGradcheck(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cls := labels(0, 3, 1, 3, 2)
	cls3 := nabla.FromSlice([]int64{0, 3, 1, 2, 2, 0}, 2, 3)
	probs := randRange(rng, 0, 1, 5, 4).Softmax(1).Detach()
	bin := nabla.FromSlice([]float64{1, 0, 0, 1, 1, 0}, 2, 3)

	// Each case is a function of its inputs; constants (class indices,
	// binary targets) are closed over.
	type lossCase struct {
		name string
		f    func(in []*T) *T
		in   []*T
	}
	var cases []lossCase
	for _, r := range []nn.Reduction{nn.Mean, nn.Sum, nn.None} {
		rs := r.String()
		cases = append(cases,
			lossCase{"MSE/" + rs, func(in []*T) *T { return nn.MSELoss{Reduction: r}.Forward(in[0], in[1]) },
				[]*T{randIn(rng, 1, 3, 2), randIn(rng, 1, 3, 2)}},
			lossCase{"L1/" + rs, func(in []*T) *T { return nn.L1Loss{Reduction: r}.Forward(in[0], in[1]) },
				[]*T{randIn(rng, 1, 3, 2), randIn(rng, 0.1, 3, 2).AddScalar(3)}},
			lossCase{"Huber/" + rs, func(in []*T) *T { return nn.HuberLoss{Delta: 0.5, Reduction: r}.Forward(in[0], in[1]) },
				// differences in ±[0.2, 1] straddle delta 0.5 but stay away from it
				[]*T{nabla.FromSlice([]float64{0.3, -0.2, 0.9, -1, 0.1, 0.7}, 3, 2), nabla.FromSlice([]float64{0, 0, 0, 0, 0.8, 0}, 3, 2)}},
			lossCase{"CrossEntropy/index/" + rs, func(in []*T) *T { return nn.CrossEntropyLoss{Reduction: r}.Forward(in[0], cls) },
				[]*T{randIn(rng, 2, 5, 4)}},
			lossCase{"CrossEntropy/index-weight-smooth/" + rs, func(in []*T) *T {
				return nn.CrossEntropyLoss{Weight: in[1], LabelSmoothing: 0.2, Reduction: r}.Forward(in[0], cls)
			}, []*T{randIn(rng, 2, 5, 4), randRange(rng, 0.5, 1.5, 4)}},
			lossCase{"CrossEntropy/kdim/" + rs, func(in []*T) *T {
				return nn.CrossEntropyLoss{Weight: in[1], LabelSmoothing: 0.1, Reduction: r}.Forward(in[0], cls3)
			}, []*T{randIn(rng, 2, 2, 4, 3), randRange(rng, 0.5, 1.5, 4)}},
			lossCase{"CrossEntropy/prob/" + rs, func(in []*T) *T {
				return nn.CrossEntropyLoss{Weight: in[2], LabelSmoothing: 0.1, Reduction: r}.Forward(in[0], in[1])
			}, []*T{randIn(rng, 2, 5, 4), probs.Clone(), randRange(rng, 0.5, 1.5, 4)}},
			lossCase{"NLL/" + rs, func(in []*T) *T { return nn.NLLLoss{Weight: in[1], Reduction: r}.Forward(in[0], cls) },
				[]*T{randIn(rng, 2, 5, 4), randRange(rng, 0.5, 1.5, 4)}},
			lossCase{"BCE/" + rs, func(in []*T) *T { return nn.BCELoss{Weight: in[2], Reduction: r}.Forward(in[0], in[1]) },
				[]*T{randRange(rng, 0.1, 0.9, 2, 3), randRange(rng, 0, 1, 2, 3), randRange(rng, 0.5, 1.5, 2, 3)}},
			lossCase{"BCEWithLogits/" + rs, func(in []*T) *T { return nn.BCEWithLogitsLoss{Reduction: r}.Forward(in[0], bin) },
				[]*T{randIn(rng, 3, 2, 3)}},
			lossCase{"BCEWithLogits/weights/" + rs, func(in []*T) *T {
				return nn.BCEWithLogitsLoss{Weight: in[2], PosWeight: in[3], Reduction: r}.Forward(in[0], in[1])
			}, []*T{randIn(rng, 3, 2, 3), randRange(rng, 0, 1, 2, 3), randRange(rng, 0.5, 1.5, 2, 3), randRange(rng, 0.5, 3, 3)}},
		)
	}
	// ignore_index: targets equal to it (-100 by default) pass no gradient.
	ign := labels(0, -100, 1, 3, -100)
	ign3 := nabla.FromSlice([]int64{0, -100, 1, 2, 2, -100}, 2, 3)
	for _, r := range []nn.Reduction{nn.Mean, nn.Sum, nn.None} {
		rs := r.String()
		cases = append(cases,
			lossCase{"CrossEntropy/ignore/" + rs, func(in []*T) *T { return nn.CrossEntropyLoss{Reduction: r}.Forward(in[0], ign) },
				[]*T{randIn(rng, 2, 5, 4)}},
			lossCase{"CrossEntropy/ignore-weight-smooth/" + rs, func(in []*T) *T {
				return nn.CrossEntropyLoss{Weight: in[1], LabelSmoothing: 0.2, Reduction: r}.Forward(in[0], ign)
			}, []*T{randIn(rng, 2, 5, 4), randRange(rng, 0.5, 1.5, 4)}},
			lossCase{"CrossEntropy/ignore-kdim/" + rs, func(in []*T) *T {
				return nn.CrossEntropyLoss{Weight: in[1], LabelSmoothing: 0.1, Reduction: r}.Forward(in[0], ign3)
			}, []*T{randIn(rng, 2, 2, 4, 3), randRange(rng, 0.5, 1.5, 4)}},
			lossCase{"CrossEntropy/ignore-index3/" + rs, func(in []*T) *T {
				return nn.CrossEntropyLoss{Weight: in[1], IgnoreIndex: new(3), LabelSmoothing: 0.1, Reduction: r}.Forward(in[0], cls)
			}, []*T{randIn(rng, 2, 5, 4), randRange(rng, 0.5, 1.5, 4)}},
			lossCase{"NLL/ignore/" + rs, func(in []*T) *T { return nn.NLLLoss{Weight: in[1], Reduction: r}.Forward(in[0], ign) },
				[]*T{randIn(rng, 2, 5, 4), randRange(rng, 0.5, 1.5, 4)}},
			lossCase{"NLL/ignore-index0/" + rs, func(in []*T) *T {
				return nn.NLLLoss{IgnoreIndex: new(0), Reduction: r}.Forward(in[0], cls)
			}, []*T{randIn(rng, 2, 5, 4)}},
		)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := gradcheck.Check(c.f, c.in, gradcheck.Options{Order: 2}); err != nil {
				t.Errorf("%s %s: %v", c.name, gradcheck.Describe(c.in), err)
			}
		})
	}
}
