package gpt_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/models/gpt"
	"github.com/nabla-go/nabla/nn"
)

func smallGPT(t *testing.T, tied bool) *gpt.GPT {
	t.Helper()
	g, err := gpt.New(rand.New(rand.NewPCG(1, 2)), gpt.Config{Vocab: 11, Context: 24, Layers: 2, Heads: 2, Embed: 16, Tied: tied})
	if err != nil {
		t.Fatal(err)
	}
	// Larger weights than GPT-2's init, so that the logits are far apart
	// and the sampled tokens depend on the whole prefix.
	for _, p := range g.Params() {
		if p.Tensor.Dim() > 1 {
			nn.Normal(rand.New(rand.NewPCG(3, uint64(len(p.Name)))), p.Tensor, 0, 0.5)
		}
	}
	nn.SetTraining(g, false)
	return g
}

// TestCachedGenerationMatches: generation through the key-value cache
// gives exactly the tokens of rerunning the model on the whole prefix,
// greedy and sampled (the same generator seed on both sides).
func TestCachedGenerationMatches(t *testing.T) {
	for _, tied := range []bool{false, true} {
		g := smallGPT(t, tied)
		prompt := nabla.FromSlice([]int64{1, 5, 2, 3, 7, 0, 0, 9}, 2, 4)
		for _, name := range []string{"greedy", "sampled"} {
			sampler := func() gpt.Sampler {
				if name == "greedy" {
					return gpt.Greedy
				}
				return gpt.Sampling(rand.New(rand.NewPCG(5, 6)), 0.9, 6, 0.95)
			}
			// 30 new tokens: past the context of 24, where the cache restarts
			a, err := g.Generate(prompt, 30, sampler(), true)
			if err != nil {
				t.Fatal(err)
			}
			b, err := g.Generate(prompt, 30, sampler(), false)
			if err != nil {
				t.Fatal(err)
			}
			if a.DType() != nabla.Int64 {
				t.Errorf("generated tokens are %v, want Int64", a.DType())
			}
			if !slices.Equal(a.Ints(), b.Ints()) {
				t.Errorf("tied=%v %s: cached %v, uncached %v", tied, name, a.Ints(), b.Ints())
			}
			if slices.Equal(a.Ints()[4:34], a.Ints()[38:68]) {
				t.Errorf("tied=%v %s: both rows generated the same tokens; the test would not see a mix-up", tied, name)
			}
		}
	}
}

// TestStepMatchesForward: the logits of a prefill plus single steps
// through the cache equal the full forward pass's at every position.
func TestStepMatchesForward(t *testing.T) {
	g := smallGPT(t, false)
	nn.To(g, nabla.Float64)
	ids := nabla.FromSlice([]int64{1, 5, 2, 3, 7, 0, 4, 9, 8, 10, 6, 2}, 2, 6)
	full := g.Forward(ids)
	c := g.NewCache()
	parts := []*nabla.Tensor{g.Step(ids.Slice(1, 0, 3, 1), c)}
	parts = append(parts, g.Step(ids.Slice(1, 3, 5, 1), c)) // two at once after a prefix: the offset mask
	parts = append(parts, g.Step(ids.Slice(1, 5, 6, 1), c))
	got := nabla.Concat(parts, 1)
	x, y := got.Float64s(), full.Float64s()
	for i := range x {
		if d := x[i] - y[i]; d > 1e-10 || d < -1e-10 {
			t.Fatalf("logit %d: cached %v, full %v", i, x[i], y[i])
		}
	}
	if c.Len != 6 {
		t.Errorf("cache length %d, want 6", c.Len)
	}
}

func TestSampling(t *testing.T) {
	logits := []float64{0, 3, 1, 2.9, -1}
	rng := rand.New(rand.NewPCG(1, 1))
	counts := map[int]int{}
	s := gpt.Sampling(rng, 1, 2, 0)
	for range 2000 {
		counts[s(logits)]++
	}
	if len(counts) != 2 || counts[1] == 0 || counts[3] == 0 {
		t.Errorf("top-2 sampling drew %v, want only tokens 1 and 3", counts)
	}
	// top-p 0.5: token 1 holds 0.47 of the probability, so the nucleus
	// needs token 3 (0.43) too.
	counts = map[int]int{}
	s = gpt.Sampling(rng, 1, 0, 0.5)
	for range 2000 {
		counts[s(logits)]++
	}
	if len(counts) != 2 {
		t.Errorf("top-p sampling drew %v, want tokens 1 and 3", counts)
	}
	if got := gpt.Sampling(rng, 0, 0, 0)(logits); got != 1 {
		t.Errorf("temperature 0 chose %d, want the argmax 1", got)
	}
}

func TestGPTBadInput(t *testing.T) {
	g := smallGPT(t, false)
	if _, err := gpt.New(rand.New(rand.NewPCG(1, 1)), gpt.Config{Vocab: 5, Context: 4, Layers: 1, Heads: 3, Embed: 8}); err == nil || !strings.Contains(err.Error(), "multiple of Heads") {
		t.Errorf("bad config: got %v", err)
	}
	if _, err := g.Generate(nabla.Zeros(1, 25), 1, gpt.Greedy, true); err == nil || !strings.Contains(err.Error(), "exceeds the context") {
		t.Errorf("long prompt: got %v", err)
	}
	if err := nabla.Maybe(func() { g.Forward(nabla.Zeros(1, 25)) }); err == nil || !strings.Contains(err.Error(), "exceed the context") {
		t.Errorf("long forward: got %v", err)
	}
	if err := nabla.Maybe(func() { g.Forward(nabla.FromSlice([]int64{3, 11}, 1, 2)) }); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("token outside the vocabulary: got %v", err)
	}
}
