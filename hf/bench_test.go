package hf

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/nabla-go/nabla"
)

// BenchmarkGenerate is W10 (internal/workload) as a Go benchmark, for
// profiling: 32 new tokens after a 128-token prompt, and the time to the
// first token after 512.
func BenchmarkGenerate(b *testing.B) {
	tied := false
	cfg := &Config{ModelType: "llama", VocabSize: 1000, HiddenSize: 256, IntermediateSize: 688, NumHiddenLayers: 4,
		NumAttentionHeads: 4, NumKeyValueHeads: 2, MaxPositionEmbeddings: 1024, RMSNormEps: 1e-5, RopeTheta: 500000, TieWordEmbeddings: &tied}
	m, err := NewRandomModel(cfg, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		b.Fatal(err)
	}
	// the same weights with the matrices kept in bfloat16 (WeightDType)
	m16, err := NewRandomModel(cfg, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range m16.Params() {
		if len(p.Tensor.Shape()) == 2 {
			m16.SetParam(p.Name, p.Tensor.To(nabla.BFloat16))
		}
	}
	for _, c := range []struct {
		dtype string
		batch int
		m     *Model
	}{{"float32", 1, m}, {"float32", 8, m}, {"bfloat16", 1, m16}, {"bfloat16", 8, m16}} {
		m, batch := c.m, c.batch
		b.Run(fmt.Sprintf("weights=%s/batch=%d", c.dtype, batch), func(b *testing.B) {
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
	// W10's time to the first token: a 512-token prompt and one new token
	b.Run("weights=float32/prompt=512/ttft", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(3, 3))
		p := make([]int, 512)
		for i := range p {
			p[i] = rng.IntN(1000)
		}
		for b.Loop() {
			if _, err := m.Generate(context.Background(), [][]int{p}, GenerateOptions{MaxTokens: 1}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/prompt")
	})
}
