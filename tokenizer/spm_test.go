package tokenizer

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// spmJSON builds a small SentencePiece-style tokenizer.json: <unk> <s> </s>,
// the 256 byte tokens when bytes is set, then tokens, with merges; edit
// changes the decoded map before it is encoded.
func spmJSON(t *testing.T, tokens []string, merges []string, bytes bool, edit func(m map[string]any)) []byte {
	t.Helper()
	vocab := map[string]any{"<unk>": 0, "<s>": 1, "</s>": 2}
	if bytes {
		for b := range 256 {
			vocab[fmt.Sprintf("<0x%02X>", b)] = len(vocab)
		}
	}
	for _, tok := range tokens {
		vocab[tok] = len(vocab)
	}
	ms := make([]any, len(merges))
	for i, m := range merges {
		ms[i] = m
	}
	m := map[string]any{
		"added_tokens": []any{
			map[string]any{"id": 1, "content": "<s>", "special": true},
			map[string]any{"id": 2, "content": "</s>", "special": true},
		},
		"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Prepend", "prepend": "▁"},
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": " "}, "content": "▁"},
		}},
		"decoder": map[string]any{"type": "Sequence", "decoders": []any{
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": "▁"}, "content": " "},
			map[string]any{"type": "ByteFallback"},
			map[string]any{"type": "Fuse"},
			map[string]any{"type": "Strip", "content": " ", "start": 1, "stop": 0},
		}},
		"model": map[string]any{"type": "BPE", "unk_token": "<unk>", "byte_fallback": bytes, "fuse_unk": true, "vocab": vocab, "merges": ms},
	}
	if edit != nil {
		edit(m)
	}
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// tokensOf spells ids as tokens, for readable failures.
func tokensOf(tok *Tokenizer, ids []int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i], _ = tok.Token(id)
	}
	return out
}

func metaspacePre(scheme any, split bool) func(m map[string]any) {
	return func(m map[string]any) {
		pre := map[string]any{"type": "Metaspace", "replacement": "▁", "split": split}
		switch s := scheme.(type) {
		case string:
			pre["prepend_scheme"] = s
		case bool: // the older form
			pre["add_prefix_space"] = s
		}
		m["normalizer"] = nil
		m["pre_tokenizer"] = pre
		m["decoder"] = map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always"}
	}
}

// TestSentencePieceRules checks the rules of SentencePiece-style BPE one at
// a time on a hand-made vocabulary, with the tokens Hugging Face's
// tokenizers library gives by those rules.
func TestSentencePieceRules(t *testing.T) {
	toks := []string{"▁", "a", "b", "c", "▁a", "ab", "▁ab", "▁▁", "é", "bc", "abc"}
	merges := []string{"▁ a", "a b", "▁a b", "▁ ▁", "b c"}
	noFallback := func(m map[string]any) { m["model"].(map[string]any)["byte_fallback"] = false }
	cases := []struct {
		name  string
		bytes bool
		edit  func(m map[string]any)
		text  string
		want  []string
	}{
		{"prepend and replace", true, nil, "ab a", []string{"▁ab", "▁a"}},
		{"space runs", true, nil, "  a", []string{"▁▁", "▁a"}},
		{"rank order", true, nil, "abc", []string{"▁ab", "c"}}, // "▁ a", then "▁a b"; "b c" ranks last
		{"known character", true, nil, "é", []string{"▁", "é"}},
		{"byte fallback", true, nil, "ü", []string{"▁", "<0xC3>", "<0xBC>"}},
		{"byte fallback 4 bytes", true, nil, "a😀", []string{"▁a", "<0xF0>", "<0x9F>", "<0x98>", "<0x80>"}},
		{"specials split first", true, nil, "a<s>b", []string{"▁a", "<s>", "▁", "b"}},
		{"unk fused", false, noFallback, "aüüb", []string{"▁a", "<unk>", "b"}},
		{"unk not fused", false, func(m map[string]any) {
			noFallback(m)
			m["model"].(map[string]any)["fuse_unk"] = false
		}, "aüü", []string{"▁a", "<unk>", "<unk>"}},
		{"no unk: dropped", false, func(m map[string]any) {
			noFallback(m)
			m["model"].(map[string]any)["unk_token"] = nil
		}, "aüb", []string{"▁ab"}}, // the neighbours then merge
		{"merges not ignored", true, func(m map[string]any) { m["normalizer"] = nil }, "abc", []string{"ab", "c"}},
		{"ignore_merges", true, func(m map[string]any) {
			m["normalizer"] = nil
			m["model"].(map[string]any)["ignore_merges"] = true
		}, "abc", []string{"abc"}},
		{"metaspace always", true, metaspacePre("always", true), "a ab", []string{"▁a", "▁ab"}},
		{"metaspace no double prefix", true, metaspacePre("always", true), " a", []string{"▁a"}},
		{"metaspace always after special", true, metaspacePre("always", true), "<s>a", []string{"<s>", "▁a"}},
		{"metaspace first after special", true, metaspacePre("first", true), "<s>a", []string{"<s>", "a"}},
		{"metaspace first at start", true, metaspacePre("first", true), "a<s>b", []string{"▁a", "<s>", "b"}},
		{"metaspace never", true, metaspacePre("never", true), "a b", []string{"a", "▁", "b"}},
		{"metaspace add_prefix_space false", true, metaspacePre(false, true), "ab", []string{"ab"}},
		{"metaspace add_prefix_space true", true, metaspacePre(true, true), "ab", []string{"▁ab"}},
		{"metaspace split", true, metaspacePre("always", true), "a  ", []string{"▁a", "▁", "▁"}},
		{"metaspace no split", true, metaspacePre("always", false), "a  ", []string{"▁a", "▁▁"}},
	}
	for _, c := range cases {
		tok, err := Parse(spmJSON(t, toks, merges, c.bytes, c.edit))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := tokensOf(tok, tok.Encode(c.text)); !slices.Equal(got, c.want) {
			t.Errorf("%s: Encode(%q) = %q; want %q", c.name, c.text, got, c.want)
		}
	}
}

func TestSentencePieceDecode(t *testing.T) {
	toks := []string{"▁", "a", "b", "▁a", "▁▁"}
	ids := func(tok *Tokenizer, names ...string) []int {
		var out []int
		for _, n := range names {
			id, ok := tok.ID(n)
			if !ok {
				t.Fatalf("no token %q", n)
			}
			out = append(out, id)
		}
		return out
	}
	seq, err := Parse(spmJSON(t, toks, []string{"▁ a", "▁ ▁"}, true, nil))
	if err != nil {
		t.Fatal(err)
	}
	meta, err := Parse(spmJSON(t, toks, []string{"▁ a", "▁ ▁"}, true, metaspacePre("always", true)))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name        string
		tok         *Tokenizer
		tokens      []string
		skipSpecial bool
		want        string
	}{
		{"strip one space", seq, []string{"▁▁", "▁a"}, false, "  a"},
		{"bytes", seq, []string{"▁a", "<0xC3>", "<0xBC>", "b"}, false, "aüb"},
		{"special kept", seq, []string{"<s>", "▁a"}, false, "<s> a"},
		{"special skipped", seq, []string{"<s>", "▁a", "</s>"}, true, "a"},
		{"invalid bytes kept", seq, []string{"<0xFF>", "a"}, false, "\xffa"},
		{"metaspace first token", meta, []string{"▁▁", "▁a"}, false, " a"},
		{"metaspace special first", meta, []string{"<s>", "▁a"}, false, "<s> a"},
		{"metaspace special skipped", meta, []string{"<s>", "▁a", "▁a"}, true, "a a"},
	}
	for _, c := range cases {
		got, err := c.tok.Decode(ids(c.tok, c.tokens...), c.skipSpecial)
		if err != nil || got != c.want {
			t.Errorf("%s: Decode(%q) = %q, %v; want %q", c.name, c.tokens, got, err, c.want)
		}
	}
	// streaming keeps the first space: the prompt's text came before it
	var b []byte
	for _, id := range ids(seq, "▁a", "▁a") {
		b, _ = seq.AppendToken(b, id)
	}
	if string(b) != " a a" {
		t.Errorf("AppendToken: %q; want %q", b, " a a")
	}
}

// TestSentencePieceRoundTrip: with byte fallback, Decode(Encode(s)) is s
// for any text without "▁" and not starting with a space (which the
// decoder strips), invalid UTF-8 included.
func TestSentencePieceRoundTrip(t *testing.T) {
	tok, err := Load(filepath.Join("testdata", "llama2-tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	texts := append([]string{"", "\xff\xfe invalid \x80 utf-8", "水😀 émoji ﬁne", "a\n\n\tb  c   "}, scannerTexts(t)...)
	for _, s := range texts {
		if strings.HasPrefix(s, " ") || strings.Contains(s, "▁") {
			continue
		}
		got, err := tok.Decode(tok.Encode(s), false)
		if err != nil || got != s {
			n := 0
			for n < min(len(got), len(s)) && got[n] == s[n] {
				n++
			}
			t.Errorf("Decode(Encode(%.40q)) differs at byte %d (%d bytes), %v", s, n, len(s), err)
		}
	}
}

// TestChunksMatchWholeWord checks that cutting a word where no merge can
// join (eachChunk) gives what merging the whole word does, on Opticks and
// the scanner texts in LLaMA 2's form (one word per text).
func TestChunksMatchWholeWord(t *testing.T) {
	tok, err := Load(filepath.Join("testdata", "llama2-tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var chunks []string
	tok.eachChunk(tok.norm("the light of the Sun"), func(c string) { chunks = append(chunks, c) })
	if want := []string{"▁the", "▁light", "▁of", "▁the", "▁Sun"}; !slices.Equal(chunks, want) {
		t.Errorf("chunks %q; want %q", chunks, want)
	}
	for _, s := range append([]string{"a  b\u2581\u2581c 水水 \xff\xfe", "ab🙂🙂cd"}, scannerTexts(t)...) {
		if s == "" {
			continue
		}
		var want []int
		for _, id := range tok.bpeChars(tok.norm(s)) {
			want = append(want, int(id))
		}
		if got := tok.EncodeOrdinary(s); !slices.Equal(got, want) {
			n := 0
			for n < min(len(got), len(want)) && got[n] == want[n] {
				n++
			}
			t.Errorf("text of %d bytes: token %d differs: chunked %v, whole %v", len(s), n, got[n:min(n+5, len(got))], want[n:min(n+5, len(want))])
		}
	}
}
