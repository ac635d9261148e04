package workload

import (
	"context"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/hf"
)

// W10Config is the LLaMA-style decoder of W10, the same on both sides
// (bench/torch_bench.py's w10): 4 layers, hidden 256, 4 heads of which 2
// key/value heads, SwiGLU width 688, vocabulary 1,000, LLaMA 3 rope.
func W10Config() *hf.Config {
	tied := false
	return &hf.Config{
		ModelType: "llama", VocabSize: 1000, HiddenSize: 256, IntermediateSize: 688, NumHiddenLayers: 4,
		NumAttentionHeads: 4, NumKeyValueHeads: 2, MaxPositionEmbeddings: 1024, RMSNormEps: 1e-5,
		RopeTheta: 500000, TieWordEmbeddings: &tied, HiddenAct: "silu",
	}
}

// generation measures W10: greedy generation of 128 new tokens after a
// 128-token prompt at batch 1 and 8 (tokens per second, prompt included
// in the time, as the new tokens per second a user sees), and the time to
// the first token after a 512-token prompt.
func generation(ctx context.Context, cfg Config, emit func(Result)) error {
	m, err := hf.NewRandomModel(W10Config(), rand.New(rand.NewPCG(10, 10)))
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 1))
	prompt := func(b, n int) [][]int {
		ps := make([][]int, b)
		for i := range ps {
			ps[i] = make([]int, n)
			for j := range ps[i] {
				ps[i][j] = rng.IntN(1000)
			}
		}
		return ps
	}
	reps, newTokens := 3, 128
	if cfg.Quick {
		reps, newTokens = 1, 16
	}
	// The same weights with the matrices kept in bfloat16 (hf.WeightDType),
	// nabla only: a generation step streams every weight once, so half
	// the bytes is what a bandwidth-bound step gains.
	m16, err := hf.NewRandomModel(W10Config(), rand.New(rand.NewPCG(10, 10)))
	if err != nil {
		return err
	}
	for _, p := range m16.Params() {
		if len(p.Tensor.Shape()) == 2 {
			m16.SetParam(p.Name, p.Tensor.To(nabla.BFloat16))
		}
	}
	for _, c := range []struct {
		name  string
		m     *hf.Model
		batch int
	}{{"llama", m, 1}, {"llama", m, 8}, {"llama-bf16weights", m16, 1}, {"llama-bf16weights", m16, 8}} {
		ps := prompt(c.batch, 128)
		var per []float64
		for range reps {
			start := time.Now()
			if _, err := c.m.Generate(ctx, ps, hf.GenerateOptions{MaxTokens: newTokens}); err != nil {
				return err
			}
			per = append(per, float64(c.batch*newTokens)/time.Since(start).Seconds())
		}
		emit(Result{Case: c.name + "-prompt128-new" + strconv.Itoa(newTokens) + "-batch" + strconv.Itoa(c.batch), Metric: "tokens_per_sec", Unit: "tokens/s", Value: median(per)})
	}
	ps := prompt(1, 512)
	var per []float64
	for range reps {
		start := time.Now()
		if _, err := m.Generate(ctx, ps, hf.GenerateOptions{MaxTokens: 1}); err != nil {
			return err
		}
		per = append(per, time.Since(start).Seconds()*1e3)
	}
	emit(Result{Case: "llama-prompt512", Metric: "ttft_ms", Unit: "ms", Value: median(per)})
	return nil
}
