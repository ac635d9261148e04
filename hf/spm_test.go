package hf

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// spmFolder copies the tiny LLaMA folder with the SentencePiece-style
// tokenizer.json of the tokenizer package's testdata (LLaMA 2's form,
// trained on Opticks, whose post-processor puts <s> before a text) in
// place of its byte-level one, and tokenizerConfig as its
// tokenizer_config.json unless it is empty.
func spmFolder(t *testing.T, tokenizerConfig string) string {
	t.Helper()
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
	if tokenizerConfig != "" {
		if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(tokenizerConfig), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestEncodePromptBOS checks that a prompt gets the <s> that the
// tokenizer.json's post-processor (or tokenizer_config.json's
// add_bos_token and add_eos_token, for a LLaMA tokenizer class) puts
// around it, once, and that GenerateText continues that.
func TestEncodePromptBOS(t *testing.T) {
	const text = "Light is refracted"
	cases := []struct {
		name, config string
		bos, eos     bool
	}{
		{"tokenizer.json's template", "", true, false},
		{"another class keeps it", `{"tokenizer_class": "PreTrainedTokenizerFast", "add_bos_token": false}`, true, false},
		{"llama defaults", `{"tokenizer_class": "LlamaTokenizerFast"}`, true, false},
		{"add_bos_token false", `{"tokenizer_class": "LlamaTokenizerFast", "add_bos_token": false}`, false, false},
		{"add_eos_token", `{"tokenizer_class": "LlamaTokenizer", "add_eos_token": true, "bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>"}`, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Load(spmFolder(t, c.config))
			if err != nil {
				t.Fatal(err)
			}
			plain := p.Tokenizer.Encode(text)
			want := plain
			if c.bos {
				want = append([]int{1}, want...)
			}
			if c.eos {
				want = append(slices.Clone(want), 2)
			}
			if got := p.EncodePrompt(text); !slices.Equal(got, want) {
				t.Errorf("EncodePrompt(%q) = %v; want %v", text, got, want)
			}
			// written with its own <s> (and </s>): not a second one
			own := "<s>" + text
			if c.eos {
				own += "</s>"
			}
			if got := p.EncodePrompt(own); !slices.Equal(got, p.Tokenizer.Encode(own)) {
				t.Errorf("EncodePrompt(%q) = %v; want %v", own, got, p.Tokenizer.Encode(own))
			}
			o := GenerateOptions{MaxTokens: 4, Stop: []int{}}
			got, err := p.GenerateText(text, o)
			if err != nil {
				t.Fatal(err)
			}
			out, err := p.Generate(context.Background(), [][]int{want}, o)
			if err != nil {
				t.Fatal(err)
			}
			if s, _ := p.Tokenizer.Decode(out[0], true); s != got {
				t.Errorf("GenerateText = %q; Generate from %v gives %q", got, want, s)
			}
		})
	}
	for _, bad := range []struct{ config, want string }{
		{`{"tokenizer_class": "LlamaTokenizerFast", "bos_token": "<bos>"}`, `no token "<bos>"`},
		{`{"tokenizer_class": "LlamaTokenizerFast", "bos_token": 7}`, "neither a token nor an object"},
		{`{"tokenizer_class": `, "tokenizer_config.json"},
	} {
		if _, err := Load(spmFolder(t, bad.config)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("tokenizer_config.json %s: err = %v; want one containing %q", bad.config, err, bad.want)
		}
	}
}

// TestLoadSentencePieceTokenizer loads the tiny LLaMA folder with the
// SentencePiece-style tokenizer.json of the tokenizer package's testdata
// (LLaMA 2's form, trained on Opticks) in place of its byte-level one,
// through Load as nabla generate --hf does, encodes a prompt with its <s>
// and streams a greedy continuation as the command does.
func TestLoadSentencePieceTokenizer(t *testing.T) {
	p, err := Load(spmFolder(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Tokenizer.ID("<0xE5>"); !ok {
		t.Fatal("the loaded tokenizer has no byte-fallback tokens: not the SentencePiece-style one")
	}
	prompt := "Light is refracted 光"
	ids := p.EncodePrompt(prompt)
	if back, err := p.Tokenizer.Decode(ids, true); err != nil || back != prompt || ids[0] != 1 {
		t.Fatalf("EncodePrompt(%q) = %v, which decodes to %q, %v; want <s> (1) first", prompt, ids, back, err)
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
