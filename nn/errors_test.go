package nn_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
)

func TestBadInputs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	mlp := nn.NewSequential(nn.NewLinear(rng, 4, 3), nn.ReLU{}, nn.NewLinear(rng, 5, 2))
	logits := nabla.Zeros(3, 4)
	for _, tt := range []struct {
		name  string
		f     func()
		shape bool     // *nabla.ShapeError (else *nabla.ValueError)
		want  []string // substrings of the message
	}{
		{"Linear features", func() { nn.NewLinear(rng, 784, 256).Forward(nabla.Zeros(128, 100)) }, true,
			[]string{"Linear(784→256)", "[128 100]", "[* 784]", "last dimension 100"}},
		{"Linear scalar", func() { nn.NewLinear(rng, 3, 2).Forward(nabla.Scalar(1)) }, true,
			[]string{"Linear(3→2)", "[* 3]", "scalar"}},
		{"Sequential names the layer", func() { mlp.Forward(nabla.Zeros(2, 4)) }, true,
			[]string{"Linear(5→2)", "[2 3]", "[* 5]"}},
		{"Conv2d channels", func() { nn.NewConv2d(rng, 3, 16, [2]int{3, 3}, nabla.ConvOptions{}).Forward(nabla.Zeros(2, 4, 8, 8)) }, true,
			[]string{"Conv2d(3→16, 3×3)", "[2 4 8 8]", "[N 3 H W]", "4 channels"}},
		{"Conv2d rank", func() { nn.NewConv2d(rng, 3, 16, [2]int{3, 3}, nabla.ConvOptions{}).Forward(nabla.Zeros(3, 8, 8)) }, true,
			[]string{"Conv2d(3→16, 3×3)", "[3 8 8]", "4-d", "3-d"}},
		{"Conv2d too small", func() {
			nn.NewConv2d(rng, 1, 1, [2]int{5, 5}, nabla.ConvOptions{Padding: [2]int{1, 1}}).Forward(nabla.Zeros(1, 1, 2, 9))
		}, true, []string{"Conv2d(1→1, 5×5, padding [1 1])", "height 2", "span 5"}},
		{"Conv2d groups", func() { nn.NewConv2d(rng, 3, 4, [2]int{1, 1}, nabla.ConvOptions{Groups: 2}) }, false,
			[]string{"NewConv2d", "groups=2"}},
		{"MaxPool2d rank", func() { nn.NewMaxPool2d([2]int{2, 2}, [2]int{}, [2]int{}).Forward(nabla.Zeros(4, 4)) }, true,
			[]string{"MaxPool2d(kernel [2 2]", "[4 4]", "4-d"}},
		{"AvgPool2d padding", func() { nn.NewAvgPool2d([2]int{2, 2}, [2]int{}, [2]int{2, 0}).Forward(nabla.Zeros(1, 1, 4, 4)) }, true,
			[]string{"AvgPool2d", "padding 2 is more than half the kernel 2"}},
		{"AdaptiveAvgPool2d rank", func() { nn.NewAdaptiveAvgPool2d(1, 1).Forward(nabla.Zeros(2, 3)) }, true,
			[]string{"AdaptiveAvgPool2d([1 1])", "[2 3]", "4-d"}},
		{"BatchNorm1d channels", func() { nn.NewBatchNorm1d(3).Forward(nabla.Zeros(8, 4)) }, true,
			[]string{"BatchNorm1d(3)", "[8 4]", "want 3 channels", "got 4"}},
		{"BatchNorm1d rank", func() { nn.NewBatchNorm1d(3).Forward(nabla.Zeros(1, 3, 2, 2)) }, true,
			[]string{"BatchNorm1d(3)", "[1 3 2 2]", "got 4-d"}},
		{"BatchNorm2d rank", func() { nn.NewBatchNorm2d(3).Forward(nabla.Zeros(8, 3)) }, true,
			[]string{"BatchNorm2d(3)", "[8 3]", "4-d"}},
		{"BatchNorm one value", func() { nn.NewBatchNorm1d(3).Forward(nabla.Zeros(1, 3)) }, false,
			[]string{"BatchNorm1d(3)", "more than 1 value per channel"}},
		{"LayerNorm shape", func() { nn.NewLayerNorm(3, 4).Forward(nabla.Zeros(2, 4, 3)) }, true,
			[]string{"LayerNorm([3 4])", "[2 4 3]", "[* 3 4]"}},
		{"Flatten rank", func() { nn.NewFlatten().Forward(nabla.Zeros(3)) }, true,
			[]string{"Flatten(1, -1)", "[3]", "1-d"}},
		{"Embedding index", func() { nn.NewEmbedding(rng, 10, 3).Forward(nabla.FromSlice([]int64{1, 10, 2})) }, false,
			[]string{"Embedding(10, 3)", "index 10", "position 1", "size 10"}},
		{"Embedding float index", func() { nn.NewEmbedding(rng, 10, 3).Forward(nabla.FromSlice([]float32{1, 2})) }, false,
			[]string{"Embedding(10, 3)", "float32", ".To(nabla.Int64)"}},
		{"CrossEntropy label too large", func() { nn.CrossEntropy(logits, nabla.FromSlice([]int64{0, 4, 1})) }, false,
			[]string{"CrossEntropyLoss", "label 4", "4 classes"}},
		{"CrossEntropy negative label", func() { nn.CrossEntropy(logits, nabla.FromSlice([]int64{0, 1, -1})) }, false,
			[]string{"CrossEntropyLoss", "label -1", "position 2", "4 classes"}},
		{"CrossEntropy fractional label", func() { nn.CrossEntropy(logits, nabla.FromSlice([]float32{0.5, 1, 1})) }, false,
			[]string{"CrossEntropyLoss", "float32", "int64 or int32", ".To(nabla.Int64)"}},
		{"CrossEntropy target shape", func() { nn.CrossEntropy(logits, nabla.Zeros(3, 1)) }, true,
			[]string{"CrossEntropyLoss", "[3 4] and [3 1]", "[3]"}},
		{"CrossEntropy weight shape", func() {
			nn.CrossEntropyLoss{Weight: nabla.Ones(3)}.Forward(logits, nabla.ZerosOf(nabla.Int64, 3))
		}, true, []string{"CrossEntropyLoss", "class weight must have shape [4]"}},
		{"NLL label", func() { nn.NLL(logits, nabla.FromSlice([]int64{7, 0, 0})) }, false,
			[]string{"NLLLoss", "label 7", "4 classes"}},
		{"MSE shapes", func() { nn.MSE(nabla.Zeros(4, 1), nabla.Zeros(4)) }, true,
			[]string{"MSELoss", "[4 1] and [4]", "differ"}},
		{"BCE range", func() { nn.BCE(nabla.FromSlice([]float32{0.5, 1.5}), nabla.Zeros(2)) }, false,
			[]string{"BCELoss", "input 1.5", "[0, 1]", "BCEWithLogitsLoss"}},
		{"Embedding padding_idx too large", func() { nn.NewEmbeddingPadded(rng, 5, 3, 5) }, false,
			[]string{"nn.NewEmbeddingPadded", "padding index 5", "5 rows", "[-5, 5)"}},
		{"Embedding padding_idx too negative", func() { nn.NewEmbeddingPadded(rng, 5, 3, -6) }, false,
			[]string{"nn.NewEmbeddingPadded", "padding index -6", "[-5, 5)"}},
		{"Embedding padding_idx field out of range", func() {
			e := nn.NewEmbedding(rng, 5, 3)
			e.PaddingIdx = new(7)
			e.Forward(nabla.FromSlice([]int64{1}))
		}, false, []string{"Embedding(5, 3, padding_idx=7)", "padding index 7", "[-5, 5)"}},
		{"Embedding index with padding", func() { nn.NewEmbeddingPadded(rng, 5, 3, 0).Forward(nabla.FromSlice([]int64{0, -1})) }, false,
			[]string{"Embedding(5, 3, padding_idx=0)", "index -1", "position 1", "size 5"}},
		{"Embedding max_norm negative", func() {
			e := nn.NewEmbedding(rng, 5, 3)
			e.MaxNorm = -1
			e.Forward(nabla.FromSlice([]int64{1}))
		}, false, []string{"Embedding(5, 3, max_norm=-1)", "max_norm must be positive"}},
		{"Embedding norm_type negative", func() {
			e := nn.NewEmbedding(rng, 5, 3)
			e.MaxNorm, e.NormType = 1, -2
			e.Forward(nabla.FromSlice([]int64{1}))
		}, false, []string{"Embedding(5, 3, max_norm=1, norm_type=-2)", "norm_type=-2"}},
		{"Embedding max_norm weight not contiguous", func() {
			e := nn.NewEmbedding(rng, 3, 3)
			e.SetParam("weight", nabla.Zeros(3, 3).T())
			e.MaxNorm = 1
			e.Forward(nabla.FromSlice([]int64{1}))
		}, false, []string{"Embedding(3, 3, max_norm=1)", "contiguous"}},
		{"CrossEntropy ignore index with probabilities", func() {
			nn.CrossEntropyLoss{IgnoreIndex: new(1)}.Forward(logits, nabla.Full(0.25, 3, 4))
		}, false, []string{"CrossEntropyLoss", "ignore index 1", "probability"}},
		{"CrossEntropy -100 with another ignore index", func() {
			nn.CrossEntropyLoss{IgnoreIndex: new(-1)}.Forward(logits, nabla.FromSlice([]int64{0, -1, -100}))
		}, false, []string{"CrossEntropyLoss", "label -100", "position 2", "4 classes"}},
		{"NLL fractional label with ignore index", func() {
			nn.NLLLoss{IgnoreIndex: new(2)}.Forward(logits, nabla.FromSlice([]float32{2, 2.5, 0}))
		}, false, []string{"NLLLoss", "float32", ".To(nabla.Int64)"}},
		{"BatchNorm some buffers nil", func() {
			m := nn.NewBatchNorm1d(3)
			m.RunningVar = nil
			m.Forward(nabla.Zeros(4, 3))
		}, false, []string{"BatchNorm1d(3)", "running_mean, running_var and num_batches_tracked", "all set or all nil"}},
		{"BatchNorm no stats, one value in eval", func() {
			m := nn.NewBatchNorm2d(3)
			m.RunningMean, m.RunningVar, m.NumBatchesTracked = nil, nil, nil
			m.Training = false
			m.Forward(nabla.Zeros(1, 3, 1, 1))
		}, false, []string{"BatchNorm2d(3, track_running_stats=False)", "more than 1 value per channel"}},
		{"BatchNorm no stats SetParam", func() {
			m := nn.NewBatchNorm1d(3)
			m.RunningMean, m.RunningVar, m.NumBatchesTracked = nil, nil, nil
			m.SetParam("running_mean", nabla.Zeros(3))
		}, false, []string{"BatchNorm1d(3, track_running_stats=False)", `"running_mean"`}},
		{"BatchNorm no stats channels", func() {
			m := nn.NewBatchNorm1d(3)
			m.RunningMean, m.RunningVar, m.NumBatchesTracked, m.Weight, m.Bias = nil, nil, nil, nil, nil
			m.Forward(nabla.Zeros(4, 2))
		}, true, []string{"BatchNorm1d(3, track_running_stats=False)", "want 3 channels", "got 2"}},
		{"SetParam unknown", func() { nn.SetParam(mlp, "2.gamma", nabla.Zeros(2)) }, false,
			[]string{"Linear(5→2)", `"gamma"`}},
		{"SetParam shape", func() { nn.SetParam(mlp, "0.weight", nabla.Zeros(4, 3)) }, true,
			[]string{"Linear(4→3)", "weight must keep shape [3 4]"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := nabla.Maybe(tt.f)
			if err == nil {
				t.Fatal("got no panic; want one")
			}
			var se *nabla.ShapeError
			var ve *nabla.ValueError
			if tt.shape && !errors.As(err, &se) {
				t.Errorf("got %T (%v); want *nabla.ShapeError", err, err)
			}
			if !tt.shape && !errors.As(err, &ve) {
				t.Errorf("got %T (%v); want *nabla.ValueError", err, err)
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("got message %q; want it to contain %q", err, s)
				}
			}
		})
	}
}
