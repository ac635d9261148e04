package hf

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTextStream(t *testing.T) {
	p, err := Load(filepath.Join("testdata", "llama-tiny"))
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"Colours 😀 and 水", "naïve café — 光の屈折", "<|begin_of_text|>Light<|end_of_text|>"} {
		ids := p.Tokenizer.Encode(text)
		want, _ := p.Tokenizer.Decode(ids, true)
		s := NewTextStream(p.Tokenizer)
		var got strings.Builder
		split := false
		for _, id := range ids {
			piece, err := s.Add(id)
			if err != nil {
				t.Fatal(err)
			}
			if !utf8.ValidString(piece) {
				t.Errorf("%q: piece %q is not valid UTF-8", text, piece)
			}
			if piece == "" && !p.Tokenizer.IsSpecial(id) {
				split = true // a token ended inside a character
			}
			got.WriteString(piece)
		}
		got.WriteString(s.Flush())
		if got.String() != want {
			t.Errorf("streamed %q; Decode gives %q", got.String(), want)
		}
		if strings.Contains(text, "😀") && !split {
			t.Errorf("%q: no token ended inside a character, so the test shows nothing", text)
		}
	}
	for _, c := range []struct {
		in   string
		want int
	}{{"", 0}, {"ab", 2}, {"a\xe6\xb0", 1}, {"a\xf0\x9f\x98", 1}, {"a\xf0\x9f\x98\x80", 5}, {"a\x80", 2}, {"a\xff", 2}, {"\xc3", 0}} {
		if got := completeUTF8([]byte(c.in)); got != c.want {
			t.Errorf("completeUTF8(%q) = %d; want %d", c.in, got, c.want)
		}
	}
}
