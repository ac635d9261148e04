package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

type refCase struct {
	Text    string  `json:"text"`
	IDs     []int   `json:"ids"`
	Decoded *string `json:"decoded"`
	// the ids with the post-processor's special tokens, where the
	// reference gives them (add_special_tokens=True)
	IDsSpecial []int `json:"ids_special"`
}

func loadCases(t *testing.T, kind string) (*Tokenizer, []refCase) {
	t.Helper()
	tok, err := Load(filepath.Join("testdata", kind+"-tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("testdata", kind+"-cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []refCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	return tok, cases
}

// TestReference checks Encode, EncodeSpecial and Decode against the
// reference BPE of bench/reference/make_bpe_reference.py, on its
// tokenizers trained on Opticks (three byte-level ones, and a
// SentencePiece-style one in LLaMA 2's form and in the Metaspace form,
// whose post-processor prepends <s>) and three thousand lines of prose,
// accents, CJK, emoji, whitespace runs and special tokens.
func TestReference(t *testing.T) {
	for _, kind := range []string{"gpt2", "llama3", "qwen2", "llama2", "metaspace"} {
		t.Run(kind, func(t *testing.T) {
			tok, cases := loadCases(t, kind)
			charLevel := kind == "llama2" || kind == "metaspace"
			bad, special := 0, 0
			for i, c := range cases {
				got := tok.Encode(c.Text)
				if !slices.Equal(got, c.IDs) {
					if bad++; bad <= 5 {
						t.Errorf("case %d: Encode(%q)\n got %v\nwant %v", i, c.Text, got, c.IDs)
					}
					continue
				}
				// the byte-level files have no post-processor: there
				// EncodeSpecial is Encode
				want := c.IDsSpecial
				if want != nil {
					special++
				} else if !charLevel {
					want = c.IDs
				}
				if s := tok.EncodeSpecial(c.Text); want != nil && !slices.Equal(s, want) {
					if bad++; bad <= 5 {
						t.Errorf("case %d: EncodeSpecial(%q)\n got %v\nwant %v", i, c.Text, s, want)
					}
					continue
				}
				text := c.Text
				if c.Decoded != nil {
					text = *c.Decoded
				}
				if s, err := tok.Decode(got, false); err != nil || s != text {
					if bad++; bad <= 5 {
						t.Errorf("case %d: Decode = %q, %v; want %q", i, s, err, text)
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d cases differ", bad, len(cases))
			}
			if charLevel && special < 300 {
				t.Errorf("only %d cases have ids_special: the reference files predate the post-processor", special)
			}
		})
	}
}

func TestRoundTripBytes(t *testing.T) {
	tok, _ := loadCases(t, "gpt2")
	for _, s := range []string{"", "\xff\xfe invalid \x80 utf-8", "\x00\x01\x02", strings.Repeat("ab ", 100), "<|endoftext|>x<|endoftext|>"} {
		got, err := tok.Decode(tok.Encode(s), false)
		if err != nil || got != s {
			t.Errorf("Decode(Encode(%q)) = %q, %v", s, got, err)
		}
	}
}

func TestSpecialTokens(t *testing.T) {
	tok, _ := loadCases(t, "gpt2")
	eot, ok := tok.ID("<|endoftext|>")
	if !ok || !tok.IsSpecial(eot) {
		t.Fatalf("ID(<|endoftext|>) = %d, %v; special %v", eot, ok, tok.IsSpecial(eot))
	}
	ids := tok.Encode("a<|endoftext|>b")
	if len(ids) != 3 || ids[1] != eot {
		t.Errorf("Encode(a<|endoftext|>b) = %v; want the special id %d in the middle", ids, eot)
	}
	if slices.Contains(tok.EncodeOrdinary("a<|endoftext|>b"), eot) {
		t.Error("EncodeOrdinary produced the special id")
	}
	s, err := tok.Decode(ids, true)
	if err != nil || s != "ab" {
		t.Errorf("Decode(skipSpecial) = %q, %v; want ab", s, err)
	}
	if _, err := tok.Decode([]int{5, 1 << 20}, false); err == nil || !strings.Contains(err.Error(), "position 1") {
		t.Errorf("Decode of an unknown id: err = %v; want one naming position 1", err)
	}
}

// TestAppendToken decodes one token at a time, as generation streams them:
// the concatenation is the text even where a token ends inside a character.
func TestAppendToken(t *testing.T) {
	tok, _ := loadCases(t, "llama3")
	text := "水😀 émoji ﬁne"
	var b []byte
	split := false
	for _, id := range tok.Encode(text) {
		var err error
		if b, err = tok.AppendToken(b, id); err != nil {
			t.Fatal(err)
		}
		if !utf8.Valid(b) {
			split = true
		}
	}
	if string(b) != text {
		t.Errorf("streamed %q; want %q", b, text)
	}
	if !split {
		t.Log("no token ended inside a character in this text")
	}
}

func TestPatternLookahead(t *testing.T) {
	p, err := compilePattern(gpt2Pattern)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		in   string
		want []string
	}{
		{"hello  world", []string{"hello", " ", " world"}},
		{"a   ", []string{"a", "   "}},
		{"\tx", []string{"\t", "x"}},
		{"x\u00a0\u00a0y", []string{"x", "\u00a0", "\u00a0", "y"}}, // only a plain space joins the word
		{"it's 12", []string{"it", "'s", " 12"}},
	}
	for _, c := range cases {
		var got []string
		p.split(c.in, func(s string) { got = append(got, s) })
		if !slices.Equal(got, c.want) {
			t.Errorf("split(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}

func TestBadFiles(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "gpt2-tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	model := func(m map[string]any) map[string]any { return m["model"].(map[string]any) }
	cases := []struct {
		name, want string
		data       []byte
	}{
		{"not json", "not a tokenizer.json", []byte("{")},
		{"wordpiece", "model type WordPiece is not supported", edit(func(m map[string]any) { model(m)["type"] = "WordPiece" })},
		{"unigram", "model type Unigram is not supported", edit(func(m map[string]any) {
			m["model"] = map[string]any{"type": "Unigram", "unk_id": 0, "vocab": []any{[]any{"<unk>", 0.0}, []any{"▁a", -1.5}}}
		})},
		{"byte fallback", "byte_fallback with a ByteLevel pre-tokenizer", edit(func(m map[string]any) { model(m)["byte_fallback"] = true })},
		{"missing byte", "no token for byte", edit(func(m map[string]any) { delete(model(m)["vocab"].(map[string]any), "Ġ") })},
		{"bad merge", "merge 0", edit(func(m map[string]any) { model(m)["merges"] = []any{"Ġ"} })},
		{"merge outside vocab", "not in the vocabulary", edit(func(m map[string]any) { model(m)["merges"] = []any{"q Z"} })},
		{"metaspace with ByteLevel decoder", `decoder "ByteLevel" is not supported with a SentencePiece-style BPE`, edit(func(m map[string]any) { m["pre_tokenizer"] = map[string]any{"type": "Metaspace"} })},
		{"metaspace scheme", `prepend_scheme "sometimes" is not supported`, edit(func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "Metaspace", "prepend_scheme": "sometimes"}
		})},
		{"unknown pre-tokenizer", `pre-tokenizer "Digits" is not supported`, edit(func(m map[string]any) { m["pre_tokenizer"] = map[string]any{"type": "Digits"} })},
		{"regex replace", "Replace normalizer with a regex pattern", edit(func(m map[string]any) {
			m["normalizer"] = map[string]any{"type": "Replace", "pattern": map[string]any{"Regex": " +"}, "content": "▁"}
		})},
		{"ctc decoder", `decoder "CTC" is not supported`, edit(func(m map[string]any) {
			m["pre_tokenizer"] = nil
			m["decoder"] = map[string]any{"type": "CTC"}
		})},
		{"unk outside vocab", `unk_token "<nope>" is not in the vocabulary`, edit(func(m map[string]any) {
			m["pre_tokenizer"] = nil
			m["decoder"] = nil
			model(m)["unk_token"] = "<nope>"
		})},
		{"lookbehind", "lookaround", edit(func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
				map[string]any{"type": "Split", "pattern": map[string]any{"Regex": `(?<=a)b`}, "behavior": "Isolated"},
				map[string]any{"type": "ByteLevel", "use_regex": false}}}
		})},
		{"huge id", "too large", edit(func(m map[string]any) { model(m)["vocab"].(map[string]any)["zz"] = 1 << 30 })},
	}
	for _, c := range cases {
		_, err := Parse(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v; want one containing %q", c.name, err, c.want)
		}
	}
}

// regexSplit splits s as pattern.split does, with regexp searching the
// whole rest of the text every time: the reference for the scanners and
// for the windowed search.
func regexSplit(p *pattern, s string) []string {
	var out []string
	for len(s) > 0 {
		loc := p.re.FindStringSubmatchIndex(s)
		if loc == nil {
			return append(out, s)
		}
		end := loc[1]
		if g := p.wsGroup; g > 0 && loc[2*g] >= 0 && end < len(s) && utf8.RuneCountInString(s[loc[0]:end]) > 1 {
			_, n := utf8.DecodeLastRuneInString(s[loc[0]:end])
			end -= n
		}
		if loc[0] > 0 {
			out = append(out, s[:loc[0]])
		}
		out = append(out, s[loc[0]:end])
		s = s[end:]
	}
	return out
}

var scannerPatterns = []string{gpt2Pattern, llama3Pattern, qwen2Pattern}

// scannerTexts are Opticks and texts made to cross the windowed search's
// window and to hit each alternative of the patterns.
func scannerTexts(t testing.TB) []string {
	texts := []string{
		strings.Repeat("a", 3000) + "  b", strings.Repeat(" ", 1500) + "x", strings.Repeat("水", 700) + "'re",
		strings.Repeat("1", 1200) + "\r\n\r\n  z", "it's IT'S 'Ll 'ſ 'RE 've 'd'm''t", " \t\n x\n\n\t y  \r\n", "a1b22c333d4444 ١٢٣ ½",
		"!!! ?.\n\n;; 'x  \u00a0\u2003y\u3000", "é\u0301 ﬁ Ⅻ 😀😀 a😀b", "",
	}
	if opticks, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "src", "testdata", "Isaac.Newton-Opticks.txt")); err == nil {
		texts = append(texts, string(opticks[:200000]))
	}
	return texts
}

// TestScannersMatchRegexp checks the hand-written scanners against the
// translated regexes, and the windowed regexp search (used for other
// patterns) against the whole-text one.
func TestScannersMatchRegexp(t *testing.T) {
	for _, src := range scannerPatterns {
		p, err := compilePattern(src)
		if err != nil {
			t.Fatal(err)
		}
		if p.scan == nil {
			t.Fatalf("pattern %.30q has no scanner", src)
		}
		windowed := &pattern{re: p.re, wsGroup: p.wsGroup}
		for _, text := range scannerTexts(t) {
			want := regexSplit(p, text)
			for name, q := range map[string]*pattern{"scanner": p, "windowed regexp": windowed} {
				var got []string
				q.split(text, func(s string) { got = append(got, s) })
				if !slices.Equal(got, want) {
					n := 0
					for n < min(len(got), len(want)) && got[n] == want[n] {
						n++
					}
					t.Errorf("%s, pattern %.30q, text of %d bytes: piece %d is %q, regexp's %q", name, src, len(text), n, at(got, n), at(want, n))
				}
			}
		}
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "(none)"
}

// FuzzScanners compares the scanners with the regexes on random text.
func FuzzScanners(f *testing.F) {
	for _, s := range scannerTexts(f) {
		if len(s) < 5000 {
			f.Add(s)
		}
	}
	var ps []*pattern
	for _, src := range scannerPatterns {
		p, err := compilePattern(src)
		if err != nil {
			f.Fatal(err)
		}
		ps = append(ps, p)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range ps {
			var got []string
			p.split(s, func(x string) { got = append(got, x) })
			if want := regexSplit(p, s); !slices.Equal(got, want) {
				t.Errorf("%q: scanner %q, regexp %q", s, got, want)
			}
		}
	})
}
