package gpt_test

import (
	"math/rand/v2"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/models/gpt"
	"github.com/nabla-go/nabla/optim"
)

// BenchmarkW6Step is one training step of the W6 configuration: 4
// layers, 4 heads, embedding 128, context 128, batch 32, a character
// vocabulary of 96, AdamW; forward, backward and update.
func BenchmarkW6Step(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	g, err := gpt.New(rng, gpt.Config{Vocab: 96, Context: 128, Layers: 4, Heads: 4, Embed: 128})
	if err != nil {
		b.Fatal(err)
	}
	opt := optim.NewAdamW(g.Params(), optim.AdamConfig{LR: 3e-4, WeightDecay: 0.01})
	x, y := make([]float32, 32*128), make([]float32, 32*128)
	for i := range x {
		x[i], y[i] = float32(rng.IntN(96)), float32(rng.IntN(96))
	}
	xt, yt := nabla.FromSlice(x, 32, 128).To(nabla.Int64), nabla.FromSlice(y, 32, 128).To(nabla.Int64)
	arena := nabla.NewArena()
	b.ResetTimer()
	for range b.N {
		opt.ZeroGrad()
		loss := g.Loss(xt.InArena(arena), yt)
		loss.Backward()
		opt.Step()
		arena.Reset()
	}
	b.ReportMetric(float64(32*128*b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkW8Generate generates 64 tokens with the KV cache from the W6
// model, batch 1.
func BenchmarkW8Generate(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	g, err := gpt.New(rng, gpt.Config{Vocab: 96, Context: 128, Layers: 4, Heads: 4, Embed: 128})
	if err != nil {
		b.Fatal(err)
	}
	prompt := nabla.FromSlice([]int64{1, 2, 3, 4}, 1, 4)
	for range b.N {
		if _, err := g.Generate(prompt, 64, gpt.Greedy, true); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(64*b.N)/b.Elapsed().Seconds(), "tokens/s")
}
