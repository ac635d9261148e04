// Package tokenizer turns text into token ids and back with the BPE
// tokenizers of Hugging Face tokenizer.json files: byte-level BPE (GPT-2,
// LLaMA 3, Qwen2) and SentencePiece-style BPE (LLaMA 2, Mistral,
// TinyLlama). It is pure Go and needs nothing else at run time.
//
// Encoding follows Hugging Face's pipeline: added tokens (special tokens
// such as <|endoftext|>) are split out of the text first and map to their
// ids; each remaining segment is normalized (NFC for Qwen2), split into
// pre-tokens by the model's regex, spelled in GPT-2's byte-level alphabet,
// and merged by the BPE merges, lowest rank first. Decoding concatenates
// the tokens' bytes, so Decode(Encode(s)) == s for every string s, valid
// UTF-8 or not, that the normalizer leaves unchanged.
//
// A tokenizer.json without a ByteLevel pre-tokenizer is a BPE over
// characters, as SentencePiece's BPE is: spaces are spelled "▁" by the
// normalizer (Prepend "▁", Replace " " -> "▁", LLaMA 2's form) or by a
// Metaspace pre-tokenizer (prepend_scheme always, first or never, or the
// older add_prefix_space; split on or off); a character the vocabulary
// lacks becomes one <0xXX> token per UTF-8 byte with byte_fallback, else
// the unk_token (consecutive ones fused with fuse_unk), else is dropped;
// ignore_merges is honoured. Its decoder (a Sequence of Replace,
// ByteFallback, Fuse and Strip, or Metaspace) turns "▁" back into spaces
// and byte tokens into bytes and strips the space the encoder prepended,
// so Decode(Encode(s)) == s for text that starts with no space and has no
// "▁". Unlike Hugging Face, byte tokens that do not form valid UTF-8
// decode to their bytes, not to U+FFFD, as byte-level decoding does.
//
// What is read: a BPE model (vocab and merges, in either the "a b" or the
// ["a", "b"] form), the ByteLevel, Split, Metaspace and Sequence
// pre-tokenizers, the NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace
// (with a string pattern) and Sequence normalizers, added tokens with
// lstrip and rstrip, the decoders above, and the post-processors
// (TemplateProcessing, RobertaProcessing, BertProcessing, ByteLevel and a
// Sequence of them) that add special tokens around a text, such as LLaMA
// 2's <s> before it. Encode returns the ids of the text alone, as
// add_special_tokens=False does; EncodeSpecial adds the post-processor's
// tokens, as Hugging Face's default add_special_tokens=True does, which is
// what a model expects its prompt to look like. A file that uses anything
// else (a WordPiece or Unigram model, another pre-tokenizer, decoder or
// post-processor) is refused with an error that names it.
package tokenizer

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// Tokenizer is a BPE tokenizer, byte-level or SentencePiece-style. It is
// safe for concurrent use.
type Tokenizer struct {
	tokens  []string         // id -> token ("" for an unused id)
	ids     map[string]int32 // token -> id
	merges  map[[2]int32]merge
	byteIDs [256]int32 // id of each byte-level character's token
	special []bool     // id -> is an added token marked special
	isAdded []bool     // id -> is an added token
	added   []addedToken
	first   [256][]int // byte -> indices into added of the tokens that start with it
	norm    func(string) string
	pre     []preStep

	// SentencePiece-style (character-level) BPE; see spm.go
	charLevel    bool
	byteFallback bool       // unknown characters become <0xXX> tokens
	byteTok      [256]int32 // id of each <0xXX> token, or -1
	byteOf       []int16    // id -> the byte a <0xXX> token stands for, or -1
	unk          int32      // id of unk_token, or -1
	fuseUnk      bool
	ignoreMerges bool
	dec          spmDecoder
	joined       map[[2]rune]bool // character pairs within a token

	// the ids the post-processor adds before and after a text (post.go)
	before, after []int

	mu    sync.Mutex
	cache map[string][]int32 // pre-token -> ids
}

type merge struct{ rank, id int32 }

type addedToken struct {
	id             int32
	content        string
	lstrip, rstrip bool
	special        bool
}

// preStep is one pre-tokenizer: it splits each piece further. first says
// whether the text starts at the beginning of the input (not after an
// added token), which Metaspace's prepend_scheme "first" needs.
type preStep interface {
	apply(pieces []string, first bool) []string
}

// maxCache bounds the pre-token cache; it is cleared when full.
const maxCache = 1 << 16

// VocabSize returns the number of ids: one more than the largest id.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// Token returns the string of token id as the vocabulary spells it (in the
// byte-level alphabet, where a space is 'Ġ', or SentencePiece's, where it
// is '▁'), and false if id is unused or out of range.
func (t *Tokenizer) Token(id int) (string, bool) {
	if id < 0 || id >= len(t.tokens) || t.tokens[id] == "" {
		return "", false
	}
	return t.tokens[id], true
}

// ID returns the id of a token as the vocabulary spells it, or of an added
// token's content.
func (t *Tokenizer) ID(token string) (int, bool) {
	id, ok := t.ids[token]
	return int(id), ok
}

// IsSpecial reports whether id is an added token marked special.
func (t *Tokenizer) IsSpecial(id int) bool {
	return id >= 0 && id < len(t.special) && t.special[id]
}

// Encode returns the token ids of text. Added tokens in the text (such as
// "<|endoftext|>") become their ids.
func (t *Tokenizer) Encode(text string) []int {
	var out []int
	t.eachSegment(text, func(seg string, added int32, first bool) {
		if added >= 0 {
			out = append(out, int(added))
			return
		}
		out = t.appendOrdinary(out, seg, first)
	})
	return out
}

// EncodeOrdinary is Encode with added tokens treated as ordinary text.
func (t *Tokenizer) EncodeOrdinary(text string) []int {
	return t.appendOrdinary(nil, text, true)
}

func (t *Tokenizer) appendOrdinary(out []int, seg string, first bool) []int {
	if seg == "" {
		return out
	}
	if t.norm != nil {
		seg = t.norm(seg)
	}
	pieces := []string{seg}
	for _, p := range t.pre {
		pieces = p.apply(pieces, first)
	}
	for _, p := range pieces {
		if t.charLevel && !t.ignoreMerges {
			t.eachChunk(p, func(c string) {
				for _, id := range t.word(c) {
					out = append(out, int(id))
				}
			})
			continue
		}
		for _, id := range t.word(p) {
			out = append(out, int(id))
		}
	}
	return out
}

// eachSegment splits text at its added tokens (leftmost first, the longest
// where several start at one place) and calls f with each stretch of
// ordinary text (added = -1) and each added token's id; first is true for
// the text at the start of the input.
func (t *Tokenizer) eachSegment(text string, f func(seg string, added int32, first bool)) {
	start := 0 // start of the pending ordinary text
	for i := 0; i < len(text); {
		best := -1
		for _, k := range t.first[text[i]] {
			a := &t.added[k]
			if strings.HasPrefix(text[i:], a.content) && (best < 0 || len(a.content) > len(t.added[best].content)) {
				best = k
			}
		}
		if best < 0 {
			i++
			continue
		}
		a := &t.added[best]
		end := i + len(a.content)
		before := text[start:i]
		if a.lstrip {
			before = strings.TrimRight(before, " \t\n\r\v\f")
		}
		f(before, -1, start == 0)
		f(a.content, a.id, false)
		if a.rstrip {
			for end < len(text) && strings.IndexByte(" \t\n\r\v\f", text[end]) >= 0 {
				end++
			}
		}
		start, i = end, end
	}
	f(text[start:], -1, start == 0)
}

// word returns the ids of one pre-token, spelled in the byte-level
// alphabet (or, SentencePiece style, in characters). A byte-level word
// that is a token is that token (LLaMA 3's ignore_merges, harmless for the
// others); a SentencePiece-style one only with ignore_merges.
func (t *Tokenizer) word(w string) []int32 {
	if id, ok := t.ids[w]; ok && !t.isAddedID(id) && (!t.charLevel || t.ignoreMerges) {
		return []int32{id}
	}
	if t.charLevel && len(w) > maxCachedWord {
		return t.bpeChars(w) // a whole line or text: not worth caching
	}
	t.mu.Lock()
	ids, ok := t.cache[w]
	t.mu.Unlock()
	if ok {
		return ids
	}
	if t.charLevel {
		ids = t.bpeChars(w)
	} else {
		ids = t.bpe(w)
	}
	t.mu.Lock()
	if len(t.cache) >= maxCache {
		clear(t.cache)
	}
	t.cache[w] = ids
	t.mu.Unlock()
	return ids
}

func (t *Tokenizer) isAddedID(id int32) bool {
	return int(id) < len(t.isAdded) && t.isAdded[id]
}

// bpe merges the characters of w: the adjacent pair of lowest rank is
// merged, leftmost first, until no pair has a merge. (A merge made from a
// pair of rank r was learned after both its parts existed, so the pairs it
// forms with its neighbours rank above r: merging leftmost-first one pair
// at a time gives what merging every occurrence of the pair at once does.)
func (t *Tokenizer) bpe(w string) []int32 {
	syms := make([]int32, 0, len(w))
	for _, r := range w {
		if r >= 0 && int(r) < len(runeByte) && runeByte[r] >= 0 {
			syms = append(syms, t.byteIDs[runeByte[r]])
			continue
		}
		// not in the alphabet (the pipeline always ends in ByteLevel,
		// so this is defensive): the character's UTF-8 bytes
		var buf [utf8.UTFMax]byte
		for _, c := range buf[:utf8.EncodeRune(buf[:], r)] {
			syms = append(syms, t.byteIDs[c])
		}
	}
	for len(syms) > 1 {
		best, at := int32(-1), -1
		var into int32
		for i := 0; i+1 < len(syms); i++ {
			if m, ok := t.merges[[2]int32{syms[i], syms[i+1]}]; ok && (best < 0 || m.rank < best) {
				best, at, into = m.rank, i, m.id
			}
		}
		if at < 0 {
			break
		}
		syms[at] = into
		syms = slices.Delete(syms, at+1, at+2)
	}
	return syms
}

// Decode returns the text of ids: the bytes of their tokens, concatenated
// (for a SentencePiece-style tokenizer, with its decoder's "▁" -> " " and
// leading-space strip applied). With skipSpecial, special added tokens are
// left out. An unknown id is an error naming it and its position.
func (t *Tokenizer) Decode(ids []int, skipSpecial bool) (string, error) {
	var b []byte
	n := 0 // tokens decoded so far
	for i, id := range ids {
		if skipSpecial && t.IsSpecial(id) {
			continue
		}
		var err error
		if t.charLevel && n == 0 && t.dec.metaspaceFirst {
			b, err = t.appendFirst(b, id)
		} else {
			b, err = t.AppendToken(b, id)
		}
		if err != nil {
			return "", fmt.Errorf("tokenizer: Decode: id %d at position %d: %w", id, i, err)
		}
		n++
	}
	if t.charLevel {
		b = t.dec.strip(b)
	}
	return string(b), nil
}

// AppendToken appends the bytes of token id to dst, for decoding one token
// at a time as a model generates them. A token can end inside a UTF-8
// sequence that the next one completes; utf8.Valid tells when the bytes so
// far can be shown. For a SentencePiece-style tokenizer a token's "▁" is a
// space, and the decoder's strip of the text's first space is not applied
// (a generated token continues a prompt, whose space is real).
func (t *Tokenizer) AppendToken(dst []byte, id int) ([]byte, error) {
	s, ok := t.Token(id)
	if !ok {
		return dst, fmt.Errorf("no token has id %d (vocabulary of %d)", id, len(t.tokens))
	}
	if t.IsSpecial(id) || t.isAddedID(int32(id)) {
		return append(dst, s...), nil
	}
	if t.charLevel {
		return t.appendPiece(dst, id, s), nil
	}
	return fromByteLevel(dst, s), nil
}
