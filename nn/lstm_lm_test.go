package nn_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/optim"
)

// cyclic returns (B, T) Int64 inputs and next-token targets cut from the stream
// 0, 1, ..., v-1, 0, 1, ... at random offsets.
func cyclic(rng *rand.Rand, b, t, v int) (x, y *nabla.Tensor) {
	xs, ys := make([]int64, b*t), make([]int64, b*t)
	for i := range b {
		o := rng.IntN(v)
		for j := range t {
			xs[i*t+j] = int64((o + j) % v)
			ys[i*t+j] = int64((o + j + 1) % v)
		}
	}
	return nabla.FromSlice(xs, b, t), nabla.FromSlice(ys, b, t)
}

func TestLSTMLanguageModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := nn.NewLSTMLanguageModel(rng, 7, 8, 16, 2, 0)
	var names []string
	for _, p := range m.Params() {
		names = append(names, p.Name)
	}
	for _, want := range []string{"embedding.weight", "lstm.weight_ih_l0", "lstm.bias_hh_l1", "head.weight", "head.bias"} {
		if !slices.Contains(names, want) {
			t.Errorf("no parameter %q in %v", want, names)
		}
	}
	opt := optim.NewAdam(m.Params(), optim.AdamConfig{LR: 1e-2})
	var first, last float64
	for step := range 60 {
		x, y := cyclic(rng, 8, 10, 7)
		loss := m.Loss(x, y)
		opt.ZeroGrad()
		loss.Backward()
		opt.Step()
		if step == 0 {
			first = loss.Item()
		}
		last = loss.Item()
	}
	if !(last < 0.2*first) {
		t.Errorf("loss %.3f after 60 steps from %.3f; want a fifth of it", last, first)
	}

	// Feeding the states back one token at a time gives the logits of
	// the whole sequence at once.
	x, _ := cyclic(rng, 2, 5, 7)
	full := m.Forward(x).Float32s()
	var h, c *nabla.Tensor
	var steps []float32
	for j := range 5 {
		var y *nabla.Tensor
		y, h, c = m.ForwardState(x.Slice(1, j, j+1, 1), h, c)
		steps = append(steps, y.Float32s()...)
	}
	// steps is in (T, B, V) order; full in (B, T, V)
	for j := range 5 {
		for b := range 2 {
			got := steps[(j*2+b)*7 : (j*2+b+1)*7]
			want := full[(b*5+j)*7 : (b*5+j+1)*7]
			for k := range got {
				if d := got[k] - want[k]; d > 1e-5 || d < -1e-5 {
					t.Fatalf("step %d row %d: stepwise logits %v, whole-sequence %v", j, b, got, want)
				}
			}
		}
	}
	if err := nabla.Maybe(func() { m.Forward(nabla.Zeros(5)) }); err == nil || !strings.Contains(err.Error(), "(B, T)") {
		t.Errorf("1-d input: %v", err)
	}
}

// BenchmarkLSTMLanguageModelStep times one Adam training step of the W7
// model: vocabulary 96, embedding 128, a 2-layer LSTM of 256 hidden units,
// context 64, batch 32.
func BenchmarkLSTMLanguageModelStep(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := nn.NewLSTMLanguageModel(rng, 96, 128, 256, 2, 0)
	opt := optim.NewAdam(m.Params(), optim.AdamConfig{LR: 1e-3})
	x, y := cyclic(rng, 32, 64, 96)
	b.ResetTimer()
	for range b.N {
		loss := m.Loss(x, y)
		opt.ZeroGrad()
		loss.Backward()
		opt.Step()
	}
}
