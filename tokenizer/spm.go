package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// SentencePiece-style BPE, as the tokenizer.json files of LLaMA 2, Mistral
// and TinyLlama express it: the model's symbols are characters, not bytes;
// a space is spelled "▁" (U+2581), by a normalizer (Prepend "▁", Replace
// " " -> "▁") or by a Metaspace pre-tokenizer; a character the vocabulary
// lacks becomes one <0xXX> token per UTF-8 byte (byte_fallback) or the
// unk_token; the decoder turns "▁" back into spaces, byte tokens back into
// bytes, and strips the space the encoder prepended.

// maxCachedWord bounds the pre-tokens the cache keeps: without a
// pre-tokenizer a whole line is one word.
const maxCachedWord = 256

// metaspace is the Metaspace pre-tokenizer: spaces become the replacement
// character, which is prepended (always, or only to the text at the start
// of the input, "first") where the text does not start with it; with split
// the text is cut before each replacement character.
type metaspace struct {
	rep         string
	prepend     string // "always", "first" or "never"
	split       bool
	spaceToRepl *strings.Replacer
}

func (m metaspace) apply(pieces []string, first bool) []string {
	var out []string
	for _, p := range pieces {
		p = m.spaceToRepl.Replace(p)
		if (m.prepend == "always" || m.prepend == "first" && first) && !strings.HasPrefix(p, m.rep) {
			p = m.rep + p
		}
		if !m.split {
			out = append(out, p)
			continue
		}
		// the replacement is merged with what follows it
		for p != "" {
			i := strings.Index(p[1:], m.rep)
			if i < 0 {
				out = append(out, p)
				break
			}
			out = append(out, p[:i+1])
			p = p[i+1:]
		}
	}
	return out
}

// parseMetaspace reads a Metaspace pre-tokenizer or decoder: its
// replacement, and its prepend_scheme (or the older add_prefix_space,
// true meaning "always").
func parseMetaspace(c component) (metaspace, error) {
	m := metaspace{rep: "▁", prepend: "always", split: true}
	if c.Replacement != nil {
		m.rep = *c.Replacement
	}
	if utf8.RuneCountInString(m.rep) != 1 {
		return m, fmt.Errorf("tokenizer: Metaspace replacement %q is not one character", m.rep)
	}
	switch {
	case c.PrependScheme != nil:
		m.prepend = *c.PrependScheme
	case c.AddPrefixSpace != nil && !*c.AddPrefixSpace:
		m.prepend = "never"
	}
	if m.prepend != "always" && m.prepend != "first" && m.prepend != "never" {
		return m, fmt.Errorf("tokenizer: Metaspace prepend_scheme %q is not supported (always, first, never)", m.prepend)
	}
	if c.Split != nil {
		m.split = *c.Split
	}
	m.spaceToRepl = strings.NewReplacer(" ", m.rep)
	return m, nil
}

// spmDecoder is what the decoders of a SentencePiece-style tokenizer do:
// Replace (replaceFrom -> replaceTo in each token), ByteFallback (a <0xXX>
// token is its byte), Metaspace (the replacement is a space, and is dropped
// from the first token when the encoder prepends it), Fuse (implied: the
// tokens are concatenated) and Strip (up to stripStart leading and
// stripStop trailing stripChar of the whole text).
type spmDecoder struct {
	replaceFrom, replaceTo string
	byteFallback           bool
	metaspaceFirst         bool
	stripChar              string
	stripStart, stripStop  int
}

func (d *spmDecoder) strip(b []byte) []byte {
	if d.stripChar == "" {
		return b
	}
	for i := 0; i < d.stripStart && len(b) > 0 && strings.HasPrefix(string(b), d.stripChar); i++ {
		b = b[len(d.stripChar):]
	}
	for i := 0; i < d.stripStop && len(b) > 0 && strings.HasSuffix(string(b), d.stripChar); i++ {
		b = b[:len(b)-len(d.stripChar)]
	}
	return b
}

// parseSPMDecoder reads the decoder of a character-level BPE.
func parseSPMDecoder(raw json.RawMessage, d *spmDecoder) error {
	if isNull(raw) {
		return nil
	}
	var c component
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("tokenizer: decoder: %v", err)
	}
	switch c.Type {
	case "Sequence":
		for _, r := range c.Decoders {
			if err := parseSPMDecoder(r, d); err != nil {
				return err
			}
		}
	case "Replace":
		if c.Pattern.String == nil || c.Content == nil {
			return fmt.Errorf("tokenizer: Replace decoder without a string pattern and content is not supported")
		}
		d.replaceFrom, d.replaceTo = *c.Pattern.String, *c.Content
	case "ByteFallback":
		d.byteFallback = true
	case "Fuse":
	case "Strip":
		if c.Content == nil || *c.Content == "" {
			return fmt.Errorf("tokenizer: Strip decoder without content")
		}
		d.stripChar, d.stripStart, d.stripStop = *c.Content, c.Start, c.Stop
	case "Metaspace":
		m, err := parseMetaspace(c)
		if err != nil {
			return err
		}
		d.replaceFrom, d.replaceTo = m.rep, " "
		d.metaspaceFirst = m.prepend != "never"
	default:
		return fmt.Errorf("tokenizer: decoder %q is not supported with a SentencePiece-style BPE (Replace, ByteFallback, Fuse, Strip, Metaspace)", c.Type)
	}
	return nil
}

// appendPiece appends what the decoder makes of model token id, spelled s.
func (t *Tokenizer) appendPiece(dst []byte, id int, s string) []byte {
	if t.dec.byteFallback && t.byteOf[id] >= 0 {
		return append(dst, byte(t.byteOf[id]))
	}
	if t.dec.replaceFrom == "" {
		return append(dst, s...)
	}
	for {
		i := strings.Index(s, t.dec.replaceFrom)
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(append(dst, s[:i]...), t.dec.replaceTo...)
		s = s[i+len(t.dec.replaceFrom):]
	}
}

// appendFirst decodes the first token for the Metaspace decoder, which
// drops every replacement character of it instead of making it a space.
func (t *Tokenizer) appendFirst(dst []byte, id int) ([]byte, error) {
	s, ok := t.Token(id)
	if !ok || t.isAddedID(int32(id)) || t.dec.byteFallback && t.byteOf[id] >= 0 {
		return t.AppendToken(dst, id)
	}
	return append(dst, strings.ReplaceAll(s, t.dec.replaceFrom, "")...), nil
}

// setupCharLevel reads the parts of a character-level BPE model: its byte
// tokens, unk_token and flags.
func (t *Tokenizer) setupCharLevel(f *fileJSON) error {
	t.charLevel = true
	t.byteFallback = f.Model.ByteFallback
	t.fuseUnk = f.Model.FuseUnk
	t.ignoreMerges = f.Model.IgnoreMerges
	t.unk = -1
	if f.Model.UnkToken != nil {
		id, ok := t.ids[*f.Model.UnkToken]
		if !ok {
			return fmt.Errorf("tokenizer: unk_token %q is not in the vocabulary", *f.Model.UnkToken)
		}
		t.unk = id
	}
	// the character pairs that some token has, where eachChunk cannot cut
	t.joined = map[[2]rune]bool{}
	for _, tok := range t.tokens {
		var r0 rune = -1
		for _, r := range tok {
			if r0 >= 0 {
				t.joined[[2]rune{r0, r}] = true
			}
			r0 = r
		}
	}
	t.byteOf = make([]int16, len(t.tokens))
	for i := range t.byteOf {
		t.byteOf[i] = -1
	}
	for b := range 256 {
		t.byteTok[b] = -1
		if id, ok := t.ids[fmt.Sprintf("<0x%02X>", b)]; ok {
			t.byteTok[b] = id
			t.byteOf[id] = int16(b)
		}
	}
	return nil
}

// eachChunk calls f with pieces of w that BPE can merge independently:
// w is cut between two characters, both in the vocabulary, that no token
// has next to each other, so no merge can join them. (An unknown character
// is never a cut's neighbour: fuse_unk and dropped characters join their
// neighbours.) Not with ignore_merges, which looks up the whole word. A
// LLaMA 2-form text, one word, thus becomes word-sized
// pieces for the cache and short merges.
func (t *Tokenizer) eachChunk(w string, f func(string)) {
	start := 0
	var r0 rune
	known0 := false
	for i := 0; i < len(w); {
		r, n := utf8.DecodeRuneInString(w[i:])
		_, known := t.ids[w[i:i+n]]
		known = known && (r != utf8.RuneError || n > 1)
		if known && known0 && i > start && !t.joined[[2]rune{r0, r}] {
			f(w[start:i])
			start = i
		}
		r0, known0 = r, known
		i += n
	}
	f(w[start:])
}

// bpeChars merges the characters of w by rank, lowest first and leftmost
// among equals, as bpe does, but with a heap of candidate pairs over a
// linked list of symbols: without a pre-tokenizer w is a whole text.
func (t *Tokenizer) bpeChars(w string) []int32 {
	sym := make([]int32, 0, len(w))
	for i := 0; i < len(w); {
		r, n := utf8.DecodeRuneInString(w[i:])
		c := w[i : i+n] // an invalid byte stands for itself
		i += n
		if id, ok := t.ids[c]; ok && (r != utf8.RuneError || n > 1) {
			sym = append(sym, id)
			continue
		}
		if t.byteFallback && t.hasByteTokens(c) {
			for j := 0; j < len(c); j++ {
				sym = append(sym, t.byteTok[c[j]])
			}
			continue
		}
		if t.unk >= 0 && !(t.fuseUnk && len(sym) > 0 && sym[len(sym)-1] == t.unk) {
			sym = append(sym, t.unk)
		}
		// with no unk_token the character is dropped, as Hugging Face does
	}
	if len(sym) < 2 {
		return sym
	}
	n := len(sym)
	next := make([]int32, n) // -1 at the end
	prev := make([]int32, n)
	for i := range n {
		next[i], prev[i] = int32(i+1), int32(i-1)
	}
	next[n-1] = -1
	var h pairHeap
	push := func(i int32) {
		if i < 0 || next[i] < 0 {
			return
		}
		if m, ok := t.merges[[2]int32{sym[i], sym[next[i]]}]; ok {
			h.push(int64(m.rank)<<32 | int64(i))
		}
	}
	for i := range n - 1 {
		push(int32(i))
	}
	for len(h) > 0 {
		k := h.pop()
		rank, i := int32(k>>32), int32(k&0xffffffff)
		j := next[i]
		if sym[i] < 0 || j < 0 {
			continue // i was merged into its left neighbour, or is last now
		}
		m, ok := t.merges[[2]int32{sym[i], sym[j]}]
		if !ok || m.rank != rank {
			continue // stale: i or its right neighbour changed
		}
		sym[i], sym[j] = m.id, -1
		next[i] = next[j]
		if next[i] >= 0 {
			prev[next[i]] = i
		}
		push(prev[i])
		push(i)
	}
	out := sym[:0]
	for _, s := range sym {
		if s >= 0 {
			out = append(out, s)
		}
	}
	return out
}

func (t *Tokenizer) hasByteTokens(c string) bool {
	for i := 0; i < len(c); i++ {
		if t.byteTok[c[i]] < 0 {
			return false
		}
	}
	return true
}

// pairHeap is a min-heap of rank<<32 | position.
type pairHeap []int64

func (h *pairHeap) push(x int64) {
	*h = append(*h, x)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p] <= s[i] {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *pairHeap) pop() int64 {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s[l] < s[m] {
			m = l
		}
		if r < len(s) && s[r] < s[m] {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}
