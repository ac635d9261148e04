package hf

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadSentencePieceTokenizer loads the tiny LLaMA folder with the
// SentencePiece-style tokenizer.json of the tokenizer package's testdata
// (LLaMA 2's form, trained on Opticks) in place of its byte-level one,
// through Load as nabla generate --hf does, and streams a greedy
// continuation as the command does.
func TestLoadSentencePieceTokenizer(t *testing.T) {
	src := filepath.Join("testdata", "llama-tiny")
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		from := filepath.Join(src, e.Name())
		if e.Name() == "tokenizer.json" {
			from = filepath.Join("..", "tokenizer", "testdata", "llama2-tokenizer.json")
		}
		if err := copyFile(from, filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	p, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Tokenizer.ID("<0xE5>"); !ok {
		t.Fatal("the loaded tokenizer has no byte-fallback tokens: not the SentencePiece-style one")
	}
	prompt := "Light is refracted 光"
	ids := p.Tokenizer.Encode(prompt)
	if back, err := p.Tokenizer.Decode(ids, false); err != nil || back != prompt {
		t.Fatalf("Decode(Encode(%q)) = %q, %v", prompt, back, err)
	}
	ts := NewTextStream(p.Tokenizer)
	var streamed strings.Builder
	o := GenerateOptions{MaxTokens: 6, OnToken: func(_, tok int) bool {
		piece, err := ts.Add(tok)
		if err != nil {
			t.Error(err)
		}
		streamed.WriteString(piece)
		return true
	}}
	out, err := p.Generate(context.Background(), [][]int{ids}, o)
	if err != nil {
		t.Fatal(err)
	}
	streamed.WriteString(ts.Flush())
	if len(out[0]) != 6 {
		t.Fatalf("generated %d tokens; want 6", len(out[0]))
	}
	// Decode strips the space SentencePiece prepends to a text; a stream
	// continues the prompt and keeps it
	want, _ := p.Tokenizer.Decode(out[0], true)
	if got := streamed.String(); got != want && strings.TrimPrefix(got, " ") != want {
		t.Errorf("streamed %q; Decode of the same tokens %q", got, want)
	}
}
