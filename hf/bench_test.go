package hf

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkGenerate is W10 (internal/workload) as a Go benchmark, for
// profiling: 32 new tokens after a 128-token prompt.
func BenchmarkGenerate(b *testing.B) {
	tied := false
	cfg := &Config{ModelType: "llama", VocabSize: 1000, HiddenSize: 256, IntermediateSize: 688, NumHiddenLayers: 4,
		NumAttentionHeads: 4, NumKeyValueHeads: 2, MaxPositionEmbeddings: 1024, RMSNormEps: 1e-5, RopeTheta: 500000, TieWordEmbeddings: &tied}
	m, err := NewRandomModel(cfg, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		b.Fatal(err)
	}
	for _, batch := range []int{1, 8} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(2, 2))
			ps := make([][]int, batch)
			for i := range ps {
				for range 128 {
					ps[i] = append(ps[i], rng.IntN(1000))
				}
			}
			const n = 32
			for b.Loop() {
				if _, err := m.Generate(context.Background(), ps, GenerateOptions{MaxTokens: n}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(batch*n*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
