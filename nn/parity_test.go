package nn_test

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/optim"
)

// These tests pin down the PyTorch-parity options beyond what the
// reference values in testdata/ show: ignore_index, Embedding's
// padding_idx and max_norm, and BatchNorm without running statistics or
// with momentum=None.

func TestCrossEntropyIgnoreIndexDropsTargets(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	logits := nabla.RandN(rng, 5, 4)
	w := nabla.FromSlice([]float32{0.5, 2, 1, 1.5})
	// Ignoring rows 1 and 4 must give the loss of rows 0, 2 and 3 alone,
	// for every reduction but None (which keeps the positions, as 0).
	kept := nabla.Concat([]*nabla.Tensor{logits.Slice(0, 0, 1, 1), logits.Slice(0, 2, 4, 1)}, 0)
	for _, tt := range []struct {
		name   string
		loss   func(x, y *nabla.Tensor) *nabla.Tensor
		target *nabla.Tensor
	}{
		{"default -100", nn.CrossEntropyLoss{Weight: w, LabelSmoothing: 0.2}.Forward, labels32(2, -100, 0, 3, -100)},
		{"index 1", nn.CrossEntropyLoss{Weight: w, LabelSmoothing: 0.2, IgnoreIndex: new(1)}.Forward, labels32(2, 1, 0, 3, 1)},
		{"index 9, outside the classes", nn.CrossEntropyLoss{Weight: w, LabelSmoothing: 0.2, IgnoreIndex: new(9)}.Forward, labels32(2, 9, 0, 3, 9)},
		{"NLL index 0", func(x, y *nabla.Tensor) *nabla.Tensor {
			return nn.NLLLoss{Weight: w, IgnoreIndex: new(0)}.Forward(x.LogSoftmax(1), y)
		}, labels32(2, 0, 1, 3, 0)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.loss(kept, keepRows(tt.target)).Item()
			if got := tt.loss(logits, tt.target).Item(); math.Abs(got-want) > 1e-6 {
				t.Errorf("loss with ignored rows = %v; want %v, the loss of the other rows", got, want)
			}
		})
	}
}

// keepRows returns positions 0, 2 and 3 of a 5-element target.
func keepRows(y *nabla.Tensor) *nabla.Tensor {
	v := y.Float32s()
	return nabla.FromSlice([]float32{v[0], v[2], v[3]}).To(nabla.Int64)
}

func labels32(v ...float32) *nabla.Tensor { return nabla.FromSlice(v).To(nabla.Int64) }

func TestCrossEntropyIgnoreIndexReductions(t *testing.T) {
	logits := nabla.FromSlice([]float32{1, 2, 3, 0, 0, 0, 3, 2, 1}, 3, 3).RequireGrad()
	y := labels32(2, -100, 0)
	none := nn.CrossEntropyLoss{Reduction: nn.None, LabelSmoothing: 0.1}.Forward(logits, y).Float64s()
	if none[1] != 0 || none[0] <= 0 || none[2] <= 0 {
		t.Errorf("None = %v; want 0 at the ignored position 1 and positive losses elsewhere", none)
	}
	sum := nn.CrossEntropyLoss{Reduction: nn.Sum, LabelSmoothing: 0.1}.Forward(logits, y).Item()
	mean := nn.CrossEntropyLoss{LabelSmoothing: 0.1}.Forward(logits, y).Item()
	if math.Abs(sum-(none[0]+none[2])) > 1e-6 || math.Abs(mean-sum/2) > 1e-6 {
		t.Errorf("Sum = %v, Mean = %v; want %v and %v (Mean divides by the 2 targets left)", sum, mean, none[0]+none[2], (none[0]+none[2])/2)
	}
	nn.CrossEntropy(logits, y).Backward()
	if g := logits.Grad().Float64s()[3:6]; slices.ContainsFunc(g, func(v float64) bool { return v != 0 }) {
		t.Errorf("gradient of the ignored row = %v; want zeros", g)
	}
}

// With every target ignored, Mean is 0/0: NaN, as in PyTorch, but the
// gradient is zero, not NaN, in both dtypes and with class weights.
func TestCrossEntropyAllIgnored(t *testing.T) {
	for _, dt := range []nabla.DType{nabla.Float32, nabla.Float64} {
		for _, l := range []nn.CrossEntropyLoss{{}, {Weight: nabla.Ones(3), LabelSmoothing: 0.3}} {
			x := nabla.RandN(rand.New(rand.NewPCG(2, 2)), 2, 3).To(dt).RequireGrad()
			loss := l.Forward(x, labels32(-100, -100))
			if !math.IsNaN(loss.Item()) {
				t.Errorf("%v, weighted %v: mean over no target = %v; want NaN", dt, l.Weight != nil, loss.Item())
			}
			loss.Backward()
			for _, g := range x.Grad().Float64s() {
				if g != 0 {
					t.Errorf("%v, weighted %v: gradient %v; want zeros", dt, l.Weight != nil, x.Grad().Float64s())
					break
				}
			}
			if s := (nn.CrossEntropyLoss{Weight: l.Weight, Reduction: nn.Sum}).Forward(x, labels32(-100, -100)).Item(); s != 0 {
				t.Errorf("Sum over no target = %v; want 0", s)
			}
		}
	}
}

func TestEmbeddingPadded(t *testing.T) {
	plain := nn.NewEmbedding(rand.New(rand.NewPCG(3, 3)), 6, 4)
	e := nn.NewEmbeddingPadded(rand.New(rand.NewPCG(3, 3)), 6, 4, -2)
	if e.PaddingIdx == nil || *e.PaddingIdx != 4 {
		t.Fatalf("PaddingIdx = %v; want 4 (-2 counted from the end of 6 rows)", e.PaddingIdx)
	}
	if got, want := e.String(), "Embedding(6, 4, padding_idx=4)"; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
	w, p := e.Weight.Float32s(), plain.Weight.Float32s()
	for i := range w {
		if row := i / 4; row == 4 && w[i] != 0 {
			t.Fatalf("padding row = %v; want zeros", w[16:20])
		} else if row != 4 && w[i] != p[i] {
			t.Fatalf("row %d = %v; want %v, NewEmbedding's draw from the same rng", row, w[row*4:row*4+4], p[row*4:row*4+4])
		}
	}

	// Give the padding row values: lookups return them, but the gradient
	// of the row stays zero, so an optimizer step leaves it alone.
	for j := range 4 {
		e.Weight.Set(float64(j+1), 4, j)
	}
	opt := optim.NewSGD(e.Params(), optim.SGDConfig{LR: 0.5})
	idx := nabla.FromSlice([]int64{4, 1, 4, 0}, 2, 2)
	out := e.Forward(idx)
	if got := out.Index(0, 0).Index(0, 0).Float32s(); !slices.Equal(got, []float32{1, 2, 3, 4}) {
		t.Errorf("lookup of the padding row = %v; want the row, [1 2 3 4]", got)
	}
	out.Sum().Backward()
	g := e.Weight.Grad()
	for j := range 4 {
		if g.At(4, j) != 0 || g.At(1, j) != 1 || g.At(0, j) != 1 || g.At(2, j) != 0 {
			t.Fatalf("weight gradient = %v; want ones in rows 0 and 1, zeros elsewhere (row 4 pads)", g.Float32s())
		}
	}
	opt.Step()
	if got := e.Weight.Index(0, 4).Float32s(); !slices.Equal(got, []float32{1, 2, 3, 4}) {
		t.Errorf("padding row after a step = %v; want it unchanged", got)
	}
	if got := e.Weight.At(1, 0); got == float64(w[4]) {
		t.Errorf("row 1 did not move in the step")
	}
}

func TestEmbeddingMaxNorm(t *testing.T) {
	for _, tt := range []struct {
		normType float64
		norm     func(row []float64) float64
	}{
		{0, func(r []float64) float64 { return math.Hypot(math.Hypot(r[0], r[1]), r[2]) }},
		{1, func(r []float64) float64 { return math.Abs(r[0]) + math.Abs(r[1]) + math.Abs(r[2]) }},
		{math.Inf(1), func(r []float64) float64 { return max(math.Abs(r[0]), math.Abs(r[1]), math.Abs(r[2])) }},
	} {
		e := nn.NewEmbedding(rand.New(rand.NewPCG(4, 4)), 4, 3)
		nn.To(e, nabla.Float64)
		e.MaxNorm, e.NormType = 0.5, tt.normType
		before := e.Weight.Clone()
		e.Weight.Set(0.1, 2, 0) // row 2: norm well inside the bound
		e.Weight.Set(0, 2, 1)
		e.Weight.Set(0, 2, 2)
		out := e.Forward(nabla.FromSlice([]int64{0, 2, 0}))
		for r := range 4 {
			row := e.Weight.Index(0, r).Float64s()
			orig := before.Index(0, r).Float64s()
			switch r {
			case 0: // looked up and over the bound: rescaled to it
				if n := tt.norm(row); math.Abs(n-0.5) > 1e-6 || tt.norm(orig) <= 0.5 {
					t.Errorf("p=%v: row 0 has norm %v (was %v); want 0.5", tt.normType, n, tt.norm(orig))
				}
				if !slices.Equal(out.Index(0, 0).Float64s(), row) {
					t.Errorf("p=%v: lookup %v; want the rescaled row %v", tt.normType, out.Index(0, 0).Float64s(), row)
				}
			case 2:
				if !slices.Equal(row, []float64{0.1, 0, 0}) {
					t.Errorf("p=%v: row 2 = %v; want it unchanged, inside the bound", tt.normType, row)
				}
			default: // not looked up: unchanged, whatever its norm
				if !slices.Equal(row, orig) {
					t.Errorf("p=%v: row %d = %v; want it unchanged (%v), not looked up", tt.normType, r, row, orig)
				}
			}
		}
	}
	e := nn.NewEmbedding(rand.New(rand.NewPCG(4, 4)), 4, 3)
	e.MaxNorm, e.NormType = 1.5, 3
	if got, want := e.String(), "Embedding(4, 3, max_norm=1.5, norm_type=3)"; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
}

// noStats returns a BatchNorm1d without running statistics, as PyTorch's
// track_running_stats=False.
func noStats(c int) *nn.BatchNorm1d {
	m := nn.NewBatchNorm1d(c)
	m.RunningMean, m.RunningVar, m.NumBatchesTracked = nil, nil, nil
	return m
}

func TestBatchNormWithoutRunningStats(t *testing.T) {
	m := noStats(3)
	if b := m.Buffers(); len(b) != 0 {
		t.Errorf("Buffers() = %v; want none", b)
	}
	if got, want := m.String(), "BatchNorm1d(3, track_running_stats=False)"; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
	m.Weight, m.Bias = nil, nil
	if got, want := m.String(), "BatchNorm1d(3, track_running_stats=False)"; got != want {
		t.Errorf("without affine, String() = %q; want %q (the channel count is kept)", got, want)
	}
	m2 := nn.NewBatchNorm2d(2)
	m2.RunningMean, m2.RunningVar, m2.NumBatchesTracked = nil, nil, nil
	m2.Weight, m2.Bias = nil, nil
	m2.CumulativeAverage = true
	if got, want := m2.String(), "BatchNorm2d(2, momentum=None, track_running_stats=False)"; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}

	// Evaluation mode normalises with the batch's statistics too.
	x := nabla.RandN(rand.New(rand.NewPCG(5, 5)), 6, 3).MulScalar(3).AddScalar(1)
	bn := noStats(3)
	train := bn.Forward(x).Float32s()
	nn.SetTraining(bn, false)
	eval := bn.Forward(x).Float32s()
	if !slices.Equal(train, eval) {
		t.Errorf("evaluation output %v; want the training output %v", eval, train)
	}
	if mean := nabla.FromSlice(eval, 6, 3).Mean(0).Float64s(); math.Abs(mean[0]) > 1e-5 {
		t.Errorf("evaluation output has channel means %v; want 0", mean)
	}
	nn.To(bn, nabla.Float64)
	if bn.Weight.DType() != nabla.Float64 || bn.RunningMean != nil {
		t.Errorf("To(Float64): weight %v, running mean %v; want float64 and still nil", bn.Weight.DType(), bn.RunningMean)
	}
}

func TestBatchNormWithoutRunningStatsCheckpoint(t *testing.T) {
	newModel := func(seed uint64) *nn.Sequential {
		rng := rand.New(rand.NewPCG(seed, 1))
		return nn.NewSequential(nn.NewLinear(rng, 4, 3), noStats(3), nn.NewBatchNorm1d(3), nn.Tanh{})
	}
	m := newModel(1)
	trainSteps(nn.NewSequential(m, nn.NewLinear(rand.New(rand.NewPCG(9, 9)), 3, 2)), 2)
	names := paramNames(nn.StateDict(m))
	for _, n := range names {
		if strings.HasPrefix(n, "1.running") || strings.HasPrefix(n, "1.num") {
			t.Errorf("state dict holds %q; the layer without running statistics has no buffers", n)
		}
	}
	if !slices.Contains(names, "2.running_mean") || !slices.Contains(names, "1.weight") {
		t.Errorf("state dict %v; want 1.weight and 2.running_mean", names)
	}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := nn.Save(path, m); err != nil {
		t.Fatal(err)
	}
	fresh := newModel(2)
	if _, err := nn.Load(path, fresh); err != nil {
		t.Fatal(err)
	}
	sameValues(t, values(fresh), values(m))
	// A layer that tracks statistics does not load from one that does not.
	tracking := nn.NewSequential(nn.NewLinear(rand.New(rand.NewPCG(1, 1)), 4, 3), nn.NewBatchNorm1d(3), nn.NewBatchNorm1d(3), nn.Tanh{})
	if _, err := nn.Load(path, tracking); err == nil || !strings.Contains(err.Error(), `missing "1.running_mean"`) {
		t.Errorf("Load into a model with running statistics: err = %v; want missing 1.running_mean", err)
	}
}

// momentum=None: after k batches from a fresh layer the running mean is
// the plain average of the k batch means, and the running variance that of
// the k unbiased batch variances.
func TestBatchNormCumulativeAverage(t *testing.T) {
	m := nn.NewBatchNorm1d(2)
	m.CumulativeAverage = true
	m.Momentum = 0.9 // unused
	if got, want := m.String(), "BatchNorm1d(2, momentum=None)"; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
	rng := rand.New(rand.NewPCG(6, 6))
	var means, vars [2]float64
	const k = 5
	for range k {
		x := nabla.RandN(rng, 4, 2).To(nabla.Float64).MulScalar(2).AddScalar(1)
		m.Forward(x)
		for c := range 2 {
			means[c] += x.Mean(0).At(c) / k
			vars[c] += x.Var(1, 0).At(c) / k
		}
	}
	if n := m.NumBatchesTracked.Item(); n != k {
		t.Errorf("NumBatchesTracked = %v; want %d", n, k)
	}
	for c := range 2 {
		if got := m.RunningMean.At(c); math.Abs(got-means[c]) > 1e-5 {
			t.Errorf("running mean[%d] = %v; want the average %v", c, got, means[c])
		}
		if got := m.RunningVar.At(c); math.Abs(got-vars[c]) > 1e-5 {
			t.Errorf("running var[%d] = %v; want the average %v", c, got, vars[c])
		}
	}
}
