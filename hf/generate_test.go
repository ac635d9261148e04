package hf

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
)

// TestGenerateCached checks that generation with the key-value cache gives
// PyTorch's greedy tokens (which the reference computed without a cache),
// one prompt at a time and all prompts in one left-padded batch.
func TestGenerateCached(t *testing.T) {
	for _, name := range referenceModels {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", name)
			m, err := LoadModel(dir)
			if err != nil {
				t.Fatal(err)
			}
			ref := loadReference(t, dir)
			var prompts, want [][]int
			for i, p := range ref.Prompts {
				got, err := m.Generate(context.Background(), [][]int{p.IDs}, GenerateOptions{MaxTokens: len(p.Greedy)})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got[0], p.Greedy) {
					t.Errorf("prompt %d alone: %v; want %v", i, got[0], p.Greedy)
				}
				prompts, want = append(prompts, p.IDs), append(want, p.Greedy)
			}
			got, err := m.Generate(context.Background(), prompts, GenerateOptions{MaxTokens: len(want[0])})
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if !slices.Equal(got[i], want[i]) {
					t.Errorf("prompt %d in a padded batch: %v; want %v", i, got[i], want[i])
				}
			}
		})
	}
}

func TestSampling(t *testing.T) {
	m, err := LoadModel(filepath.Join("testdata", "llama-tiny"))
	if err != nil {
		t.Fatal(err)
	}
	ref := loadReference(t, filepath.Join("testdata", "llama-tiny"))
	prompt := [][]int{ref.Prompts[0].IDs}
	gen := func(s Sampling, n int) []int {
		t.Helper()
		out, err := m.Generate(context.Background(), prompt, GenerateOptions{MaxTokens: n, Sampling: s})
		if err != nil {
			t.Fatal(err)
		}
		return out[0]
	}
	greedy := ref.Prompts[0].Greedy
	if got := gen(Sampling{Temperature: 1, TopK: 1, Rng: rand.New(rand.NewPCG(1, 1))}, len(greedy)); !slices.Equal(got, greedy) {
		t.Errorf("top-k 1 = %v; want greedy %v", got, greedy)
	}
	if got := gen(Sampling{Temperature: 1, TopP: 1e-9, Rng: rand.New(rand.NewPCG(1, 1))}, len(greedy)); !slices.Equal(got, greedy) {
		t.Errorf("top-p 1e-9 = %v; want greedy %v", got, greedy)
	}
	a := gen(Sampling{Temperature: 1.5, Rng: rand.New(rand.NewPCG(7, 7))}, 30)
	b := gen(Sampling{Temperature: 1.5, Rng: rand.New(rand.NewPCG(7, 7))}, 30)
	if !slices.Equal(a, b) {
		t.Errorf("the same seed gave %v and %v", a, b)
	}
	if slices.Equal(a, greedy[:min(len(greedy), len(a))]) {
		t.Errorf("sampling at temperature 1.5 gave the greedy tokens")
	}
	// a strong repetition penalty: no token of the prompt or the output
	// comes back while others are left
	rep := gen(Sampling{RepetitionPenalty: 1e6}, 10)
	seen := slices.Clone(prompt[0])
	for _, id := range rep {
		if slices.Contains(seen, id) {
			t.Errorf("repetition penalty 1e6 repeated %d in %v", id, rep)
		}
		seen = append(seen, id)
	}
}

func TestGenerateStopsAndStreams(t *testing.T) {
	m, err := LoadModel(filepath.Join("testdata", "gpt2-tiny"))
	if err != nil {
		t.Fatal(err)
	}
	ref := loadReference(t, filepath.Join("testdata", "gpt2-tiny"))
	p := ref.Prompts[1]
	stop := p.Greedy[3]
	var streamed []int
	out, err := m.Generate(context.Background(), [][]int{p.IDs}, GenerateOptions{MaxTokens: 20, Stop: []int{stop}, OnToken: func(row, tok int) bool {
		streamed = append(streamed, tok)
		return true
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := p.Greedy[:slices.Index(p.Greedy, stop)+1]
	if !slices.Equal(out[0], want) || !slices.Equal(streamed, want) {
		t.Errorf("stop at %d: got %v, streamed %v; want %v", stop, out[0], streamed, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	out, err = m.Generate(ctx, [][]int{p.IDs}, GenerateOptions{MaxTokens: 20, OnToken: func(int, int) bool {
		if n++; n == 2 {
			cancel()
		}
		return true
	}})
	if err != context.Canceled || len(out[0]) != 2 {
		t.Errorf("cancelled after 2 tokens: %d tokens, err %v", len(out[0]), err)
	}
	for _, bad := range []GenerateOptions{{MaxTokens: 1000}, {MaxTokens: 1, Sampling: Sampling{Temperature: 1}}, {MaxTokens: 1, Sampling: Sampling{TopP: 2}}} {
		if _, err := m.Generate(context.Background(), [][]int{p.IDs}, bad); err == nil {
			t.Errorf("Generate(%+v) = nil error", bad)
		}
	}
	if _, err := m.Generate(context.Background(), [][]int{{5, 100000}}, GenerateOptions{MaxTokens: 1}); err == nil {
		t.Error("a token id outside the vocabulary gave no error")
	}
}
