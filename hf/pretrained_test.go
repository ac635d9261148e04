package hf

import (
	"math"
	"path/filepath"
	"testing"
)

func TestEmbed(t *testing.T) {
	dir := filepath.Join("testdata", "qwen2-tiny")
	p, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ref := loadReference(t, dir)
	emb, err := p.Embed([]string{ref.Prompts[0].Text, ref.Prompts[1].Text})
	if err != nil {
		t.Fatal(err)
	}
	if r := worstRel(emb[0], ref.Prompts[0].MeanHidden); r > 1e-4 {
		t.Errorf("embedding differs from PyTorch's mean hidden state by %.2g relative", r)
	}
	if len(emb[1]) != p.Config.HiddenSize || math.Abs(float64(emb[1][0]-emb[0][0])) == 0 {
		t.Errorf("second embedding: %d values, first %v (the first text's %v)", len(emb[1]), emb[1][0], emb[0][0])
	}
	if _, err := p.Embed([]string{""}); err == nil {
		t.Error("Embed of an empty text: no error")
	}
}

func TestGenerateText(t *testing.T) {
	dir := filepath.Join("testdata", "gpt2-tiny")
	p, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ref := loadReference(t, dir)
	got, err := p.GenerateText(ref.Prompts[0].Text, GenerateOptions{MaxTokens: 5})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := p.Tokenizer.Decode(ref.Prompts[0].Greedy[:5], true)
	if got != want {
		t.Errorf("GenerateText = %q; want %q", got, want)
	}
}
