package gpt_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/models/gpt"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/optim"
)

// TestTrainingMatchesPyTorch starts a 2-layer GPT from PyTorch's initial
// weights (testdata/gpt_init.safetensors, written by
// bench/reference/make_seq_reference.py), trains it on the same 200
// batches of Opticks windows with AdamW (lr 1e-3, torch's default weight
// decay 0.01), float32 with Int64 token ids, no dropout, and checks every loss against
// PyTorch's to 1e-3 relative.
func TestTrainingMatchesPyTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/gpt_train.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Config struct {
			Vocab, Context, Layers, Heads, Embed, Batch, Seq int
			LR                                               float64
			WeightDecay                                      float64 `json:"weight_decay"`
		}
		IDs    []int64
		Starts [][]int
		Losses []float64
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	c := ref.Config
	g, err := gpt.New(rand.New(rand.NewPCG(1, 1)), gpt.Config{Vocab: c.Vocab, Context: c.Context, Layers: c.Layers, Heads: c.Heads, Embed: c.Embed})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nn.Load("testdata/gpt_init.safetensors", g); err != nil {
		t.Fatal(err)
	}
	opt := optim.NewAdamW(g.Params(), optim.AdamConfig{LR: c.LR, WeightDecay: c.WeightDecay})
	B, T := c.Batch, c.Seq
	worst, worstStep := 0.0, 0
	for step, starts := range ref.Starts {
		x, y := make([]int64, 0, B*T), make([]int64, 0, B*T)
		for _, s := range starts {
			x = append(x, ref.IDs[s:s+T]...)
			y = append(y, ref.IDs[s+1:s+T+1]...)
		}
		opt.ZeroGrad()
		loss := g.Loss(nabla.FromSlice(x, B, T).To(nabla.Int64), nabla.FromSlice(y, B, T).To(nabla.Int64))
		loss.Backward()
		opt.Step()
		got, want := loss.Float64s()[0], ref.Losses[step]
		if d := math.Abs(got-want) / want; d > worst || math.IsNaN(d) {
			worst, worstStep = d, step
		}
	}
	t.Logf("worst relative loss difference %.2e at step %d (loss %.4f -> %.4f over %d steps)", worst, worstStep, ref.Losses[0], ref.Losses[len(ref.Losses)-1], len(ref.Losses))
	if !(worst <= 1e-3) {
		t.Errorf("losses differ from PyTorch's by up to %.2e (step %d), want <= 1e-3", worst, worstStep)
	}
	if !(ref.Losses[len(ref.Losses)-1] < ref.Losses[0]*0.8) {
		t.Errorf("the reference loss barely moved; the test would not see a wrong update")
	}
}
