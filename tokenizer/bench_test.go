package tokenizer

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// BenchmarkEncode encodes Isaac Newton's Opticks (567 KB, shipped with Go)
// with each reference tokenizer and reports MB/s: the three byte-level
// ones, and the SentencePiece-style one in LLaMA 2's form (no
// pre-tokenizer: the whole text is one word, cut where no merge can join) and in the Metaspace form (split at every "▁"). The
// pre-token cache is cleared before every run, so the figure includes the
// BPE merges.
func BenchmarkEncode(b *testing.B) {
	text, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "src", "testdata", "Isaac.Newton-Opticks.txt"))
	if err != nil {
		b.Skip("Opticks not found:", err)
	}
	for _, kind := range []string{"gpt2", "llama3", "qwen2", "llama2", "metaspace"} {
		b.Run(kind, func(b *testing.B) {
			tok, err := Load(filepath.Join("testdata", kind+"-tokenizer.json"))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				clear(tok.cache)
				tok.Encode(string(text))
			}
		})
	}
}
