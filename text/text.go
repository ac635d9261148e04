// Package text turns text into token streams for language models and
// sequence tasks: character-level and byte-level tokenizers whose
// vocabulary travels with a checkpoint, a reader for UTF-8 text files, and
// a [data.Dataset] of fixed-length windows over a token stream (inputs and
// next-token targets) with a train/validation split.
//
// A typical language-model pipeline:
//
//	corpus, err := text.ReadFile(path)         // any UTF-8 text file
//	tok := text.NewCharTokenizer(corpus)       // vocabulary: its characters
//	ids, err := tok.Encode(corpus)
//	train, val, err := text.SplitTokens(ids, 0.1) // the last 10 % for validation
//	ds, err := text.NewWindows(train, 64, 64)  // (64 inputs, 64 targets) per sample
//	loader := data.NewLoader(ds, data.LoaderConfig{BatchSize: 32, Shuffle: true, Labels: true})
//	model := nn.NewLSTMLanguageModel(rng, tok.VocabSize(), 128, 256, 2, 0)
//	...
//	nn.Save(path, model, nn.WithMetadata(tok.Metadata()))
//	meta, err := nn.Load(path, model)
//	tok, err := text.FromMetadata(meta)
//
// Token ids are ints. The windows hold them as float32, the sample type of
// package data (exact up to 2^24); nn.Embedding and the losses take Int64
// indices: a loader with Labels set gives Int64 targets, and the inputs
// convert with To:
//
//	loss := model.Loss(b.X.To(nabla.Int64), b.Y)
package text

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"unicode/utf8"
)

// Tokenizer maps text to token ids in [0, VocabSize()) and back.
type Tokenizer interface {
	// Encode returns the ids of s's tokens, or an *UnknownError naming
	// the first character outside the vocabulary.
	Encode(s string) ([]int, error)
	// Decode returns the text of ids, or an error naming the first id out
	// of range.
	Decode(ids []int) (string, error)
	// VocabSize returns the number of distinct tokens.
	VocabSize() int
	// Metadata returns the tokenizer as checkpoint metadata (see
	// nn.WithMetadata), from which [FromMetadata] rebuilds it.
	Metadata() map[string]string
}

// UnknownError reports a character that is not in a tokenizer's
// vocabulary: the character and where it is in the encoded text.
type UnknownError struct {
	Char   rune // the character
	Index  int  // its position, in characters from the start
	Offset int  // its position, in bytes from the start
}

// Error formats the error as `text: character 'é' (U+00E9) at position 12
// (byte 13) is not in the vocabulary`.
func (e *UnknownError) Error() string {
	return fmt.Sprintf("text: character %q (%U) at position %d (byte %d) is not in the vocabulary", e.Char, e.Char, e.Index, e.Offset)
}

// InvalidUTF8Error reports text that is not valid UTF-8, with the offset
// of the first bad byte.
type InvalidUTF8Error struct {
	Name   string // the file name, or "" for text not read from a file
	Offset int    // the offset of the first byte that is not valid UTF-8
	Byte   byte   // that byte
}

// Error formats the error as "text: NAME: invalid UTF-8 at byte offset N (0xXX)".
func (e *InvalidUTF8Error) Error() string {
	name := ""
	if e.Name != "" {
		name = e.Name + ": "
	}
	return fmt.Sprintf("text: %sinvalid UTF-8 at byte offset %d (0x%02x)", name, e.Offset, e.Byte)
}

// CheckUTF8 returns an *InvalidUTF8Error naming the first byte of b that
// is not valid UTF-8, or nil.
func CheckUTF8(b []byte) error {
	for off := 0; off < len(b); {
		r, n := utf8.DecodeRune(b[off:])
		if r == utf8.RuneError && n <= 1 {
			return &InvalidUTF8Error{Offset: off, Byte: b[off]}
		}
		off += n
	}
	return nil
}

// ReadFile returns the contents of the UTF-8 text file at path. It fails
// with an *InvalidUTF8Error naming the file and the byte offset if the file
// is not valid UTF-8, and with the os error if it cannot be read.
func ReadFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("text: %w", err)
	}
	if err := CheckUTF8(b); err != nil {
		var u *InvalidUTF8Error
		errors.As(err, &u)
		u.Name = path
		return "", u
	}
	return string(b), nil
}

// CharTokenizer is a character-level tokenizer: each distinct Unicode
// character of its vocabulary is one token, numbered in code-point order.
type CharTokenizer struct {
	chars []rune       // id -> character, sorted
	ids   map[rune]int // character -> id
}

// NewCharTokenizer returns the tokenizer whose vocabulary is the distinct
// characters of corpus, which should be valid UTF-8 (see [ReadFile]); an
// invalid byte counts as U+FFFD.
func NewCharTokenizer(corpus string) *CharTokenizer {
	seen := map[rune]bool{}
	for _, r := range corpus {
		seen[r] = true
	}
	chars := make([]rune, 0, len(seen))
	for r := range seen {
		chars = append(chars, r)
	}
	slices.Sort(chars)
	t, _ := NewCharTokenizerVocab(chars)
	return t
}

// NewCharTokenizerVocab returns the tokenizer whose token i is chars[i].
// It fails if a character repeats.
func NewCharTokenizerVocab(chars []rune) (*CharTokenizer, error) {
	ids := make(map[rune]int, len(chars))
	for i, r := range chars {
		if j, dup := ids[r]; dup {
			return nil, fmt.Errorf("text: character %q is both token %d and token %d", r, j, i)
		}
		ids[r] = i
	}
	return &CharTokenizer{chars: slices.Clone(chars), ids: ids}, nil
}

// Vocab returns the characters in id order.
func (t *CharTokenizer) Vocab() []rune { return slices.Clone(t.chars) }

// VocabSize returns the number of characters in the vocabulary.
func (t *CharTokenizer) VocabSize() int { return len(t.chars) }

// Encode returns the ids of s's characters. It fails with an
// *UnknownError for the first character that is not in the vocabulary.
func (t *CharTokenizer) Encode(s string) ([]int, error) {
	out := make([]int, 0, len(s))
	i := 0
	for off, r := range s {
		id, ok := t.ids[r]
		if !ok {
			return nil, &UnknownError{Char: r, Index: i, Offset: off}
		}
		out = append(out, id)
		i++
	}
	return out, nil
}

// Decode returns the characters of ids. It fails for an id outside
// [0, VocabSize()), naming it and its position.
func (t *CharTokenizer) Decode(ids []int) (string, error) {
	b := make([]byte, 0, len(ids))
	for i, id := range ids {
		if id < 0 || id >= len(t.chars) {
			return "", fmt.Errorf("text: token %d at position %d is outside the vocabulary of %d characters", id, i, len(t.chars))
		}
		b = utf8.AppendRune(b, t.chars[id])
	}
	return string(b), nil
}

// The metadata keys a tokenizer is saved under.
const (
	MetaTokenizer = "text.tokenizer" // "char" or "byte"
	MetaVocab     = "text.vocab"     // a char tokenizer's characters, as a JSON string in id order
)

// Metadata returns {"text.tokenizer": "char", "text.vocab": the
// characters as one JSON string}.
func (t *CharTokenizer) Metadata() map[string]string {
	v, _ := json.Marshal(string(t.chars))
	return map[string]string{MetaTokenizer: "char", MetaVocab: string(v)}
}

// ByteTokenizer is a byte-level tokenizer: every byte of the UTF-8
// encoding is one token, so there are 256 and every text can be encoded.
type ByteTokenizer struct{}

// VocabSize returns 256.
func (ByteTokenizer) VocabSize() int { return 256 }

// Encode returns the bytes of s as ids; it never fails.
func (ByteTokenizer) Encode(s string) ([]int, error) {
	out := make([]int, len(s))
	for i := 0; i < len(s); i++ {
		out[i] = int(s[i])
	}
	return out, nil
}

// Decode returns the bytes ids as a string, which may not be valid UTF-8
// (a sampled sequence can stop inside a character). It fails for an id
// outside [0, 256), naming it and its position.
func (ByteTokenizer) Decode(ids []int) (string, error) {
	b := make([]byte, len(ids))
	for i, id := range ids {
		if id < 0 || id > 255 {
			return "", fmt.Errorf("text: token %d at position %d is not a byte", id, i)
		}
		b[i] = byte(id)
	}
	return string(b), nil
}

// Metadata returns {"text.tokenizer": "byte"}.
func (ByteTokenizer) Metadata() map[string]string {
	return map[string]string{MetaTokenizer: "byte"}
}

// FromMetadata rebuilds the tokenizer that [Tokenizer.Metadata] saved,
// from the metadata of a checkpoint (as nn.Load returns it). It fails if
// the metadata holds no tokenizer, an unknown kind, or a malformed
// vocabulary.
func FromMetadata(meta map[string]string) (Tokenizer, error) {
	switch kind := meta[MetaTokenizer]; kind {
	case "byte":
		return ByteTokenizer{}, nil
	case "char":
		var s string
		if err := json.Unmarshal([]byte(meta[MetaVocab]), &s); err != nil {
			return nil, fmt.Errorf("text: metadata %q is not a JSON string: %v", MetaVocab, err)
		}
		return NewCharTokenizerVocab([]rune(s))
	case "":
		return nil, fmt.Errorf("text: the metadata holds no tokenizer (no %q key)", MetaTokenizer)
	default:
		return nil, fmt.Errorf("text: unknown tokenizer %q in metadata (want \"char\" or \"byte\")", kind)
	}
}

// WriteVocab saves t as a JSON file at path (the object Metadata returns),
// for a tokenizer kept beside a checkpoint rather than inside it.
func WriteVocab(path string, t Tokenizer) error {
	b, err := json.MarshalIndent(t.Metadata(), "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadVocab loads a tokenizer that [WriteVocab] saved.
func ReadVocab(path string) (Tokenizer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	var meta map[string]string
	if err := json.Unmarshal(b, &meta); err != nil {
		return nil, fmt.Errorf("text: %s: %v", path, err)
	}
	return FromMetadata(meta)
}

// SplitTokens cuts a token stream in two at position ⌊(1-valFraction)·n⌋:
// the first part for training and the rest for validation, contiguous
// rather than shuffled, so that no validation window overlaps a training
// one. It fails if valFraction is outside [0, 1).
func SplitTokens(ids []int, valFraction float64) (train, val []int, err error) {
	if !(valFraction >= 0 && valFraction < 1) {
		return nil, nil, fmt.Errorf("text: validation fraction %v is outside [0, 1)", valFraction)
	}
	cut := int(float64(len(ids)) * (1 - valFraction))
	return ids[:cut], ids[cut:], nil
}
