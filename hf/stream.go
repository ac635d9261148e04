package hf

import (
	"unicode/utf8"

	"github.com/nabla-go/nabla/tokenizer"
)

// TextStream turns generated tokens into text one token at a time, for
// streaming: a token can end inside a multi-byte UTF-8 character that the
// next one completes, so the bytes of an unfinished character are held
// back until it is whole. Special tokens are left out, as Decode with
// skipSpecial does.
type TextStream struct {
	tok     *tokenizer.Tokenizer
	pending []byte
}

// NewTextStream returns a TextStream decoding with tok.
func NewTextStream(tok *tokenizer.Tokenizer) *TextStream { return &TextStream{tok: tok} }

// Add decodes token id and returns the text that is now complete (often
// "" inside a character, sometimes more than one token's worth).
func (s *TextStream) Add(id int) (string, error) {
	if s.tok.IsSpecial(id) {
		return "", nil
	}
	var err error
	if s.pending, err = s.tok.AppendToken(s.pending, id); err != nil {
		return "", err
	}
	n := completeUTF8(s.pending)
	out := string(s.pending[:n])
	s.pending = append(s.pending[:0], s.pending[n:]...)
	return out, nil
}

// Flush returns the bytes held back, complete or not (at the end of a
// generation).
func (s *TextStream) Flush() string {
	out := string(s.pending)
	s.pending = s.pending[:0]
	return out
}

// completeUTF8 returns the length of the longest prefix of b that does not
// end inside a UTF-8 sequence that more bytes could complete. Invalid bytes
// count as complete: no continuation would make them valid.
func completeUTF8(b []byte) int {
	for back := 1; back <= utf8.UTFMax-1 && back <= len(b); back++ {
		c := b[len(b)-back]
		if utf8.RuneStart(c) {
			if c >= 0xC0 && !utf8.FullRune(b[len(b)-back:]) {
				return len(b) - back
			}
			return len(b)
		}
	}
	return len(b)
}
