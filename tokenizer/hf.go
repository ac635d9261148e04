package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
	"golang.org/x/text/unicode/norm"
)

// MaxFileSize bounds the tokenizer.json files Load reads (LLaMA 3's is
// 9 MB, Qwen2's 7 MB).
const MaxFileSize = 256 << 20

// Load reads a Hugging Face tokenizer.json file.
func Load(path string) (*Tokenizer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("tokenizer: %s: larger than %d bytes", path, MaxFileSize)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// The parts of tokenizer.json that are read.
type fileJSON struct {
	AddedTokens []struct {
		ID      int    `json:"id"`
		Content string `json:"content"`
		LStrip  bool   `json:"lstrip"`
		RStrip  bool   `json:"rstrip"`
		Special bool   `json:"special"`
	} `json:"added_tokens"`
	Normalizer   json.RawMessage `json:"normalizer"`
	PreTokenizer json.RawMessage `json:"pre_tokenizer"`
	Decoder      json.RawMessage `json:"decoder"`
	Post         json.RawMessage `json:"post_processor"`
	Model        struct {
		Type         string            `json:"type"`
		Vocab        map[string]int    `json:"vocab"`
		Merges       []json.RawMessage `json:"merges"`
		UnkToken     *string           `json:"unk_token"`
		ByteFallback bool              `json:"byte_fallback"`
		FuseUnk      bool              `json:"fuse_unk"`
		IgnoreMerges bool              `json:"ignore_merges"`
		Prefix       *string           `json:"continuing_subword_prefix"`
		Suffix       *string           `json:"end_of_word_suffix"`
	} `json:"model"`
}

type component struct {
	Type string `json:"type"`
	// ByteLevel (and Metaspace's older add_prefix_space)
	AddPrefixSpace *bool `json:"add_prefix_space"`
	UseRegex       *bool `json:"use_regex"`
	// Metaspace
	Replacement   *string `json:"replacement"`
	PrependScheme *string `json:"prepend_scheme"`
	Split         *bool   `json:"split"`
	// Prepend (normalizer), Replace and Strip (content also)
	Prepend *string `json:"prepend"`
	Content *string `json:"content"`
	Start   int     `json:"start"`
	Stop    int     `json:"stop"`
	// Split
	Pattern struct {
		Regex  *string `json:"Regex"`
		String *string `json:"String"`
	} `json:"pattern"`
	Behavior string `json:"behavior"`
	Invert   bool   `json:"invert"`
	// Sequence
	PreTokenizers []json.RawMessage `json:"pretokenizers"`
	Normalizers   []json.RawMessage `json:"normalizers"`
	Decoders      []json.RawMessage `json:"decoders"`
}

// Parse reads a tokenizer from the bytes of a tokenizer.json file.
func Parse(data []byte) (*Tokenizer, error) {
	// the model type first: a Unigram or WordPiece vocab has another shape
	var head struct {
		Model struct {
			Type string `json:"type"`
		} `json:"model"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("tokenizer: not a tokenizer.json: %v", err)
	}
	if head.Model.Type != "BPE" {
		return nil, fmt.Errorf("tokenizer: model type %s is not supported (only BPE)", head.Model.Type)
	}
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("tokenizer: not a tokenizer.json: %v", err)
	}
	if f.Model.Prefix != nil && *f.Model.Prefix != "" || f.Model.Suffix != nil && *f.Model.Suffix != "" {
		return nil, fmt.Errorf("tokenizer: BPE with a continuing_subword_prefix or end_of_word_suffix is not supported")
	}
	t := &Tokenizer{ids: make(map[string]int32, len(f.Model.Vocab)), merges: make(map[[2]int32]merge, len(f.Model.Merges)), cache: map[string][]int32{}}
	var err error
	if t.norm, err = parseNormalizer(f.Normalizer); err != nil {
		return nil, err
	}
	byteLevel := false
	if t.pre, err = parsePre(f.PreTokenizer, &byteLevel); err != nil {
		return nil, err
	}
	if byteLevel && f.Model.ByteFallback {
		return nil, fmt.Errorf("tokenizer: byte_fallback with a ByteLevel pre-tokenizer is not supported")
	}
	maxID := -1
	for _, id := range f.Model.Vocab {
		maxID = max(maxID, id)
	}
	for _, a := range f.AddedTokens {
		maxID = max(maxID, a.ID)
	}
	if maxID >= 1<<24 {
		return nil, fmt.Errorf("tokenizer: id %d is too large", maxID)
	}
	t.tokens = make([]string, maxID+1)
	t.special = make([]bool, maxID+1)
	t.isAdded = make([]bool, maxID+1)
	for tok, id := range f.Model.Vocab {
		if id < 0 {
			return nil, fmt.Errorf("tokenizer: token %q has negative id %d", tok, id)
		}
		if t.tokens[id] != "" {
			return nil, fmt.Errorf("tokenizer: id %d is given to both %q and %q", id, t.tokens[id], tok)
		}
		t.tokens[id] = tok
		t.ids[tok] = int32(id)
	}
	if byteLevel {
		for b := range 256 {
			id, ok := t.ids[byteStr[b]]
			if !ok {
				return nil, fmt.Errorf("tokenizer: the vocabulary has no token for byte 0x%02x (%q): not a byte-level BPE", b, byteStr[b])
			}
			t.byteIDs[b] = id
		}
	}
	for i, raw := range f.Model.Merges {
		a, b, err := parseMerge(raw)
		if err != nil {
			return nil, fmt.Errorf("tokenizer: merge %d: %v", i, err)
		}
		ia, oka := t.ids[a]
		ib, okb := t.ids[b]
		into, oki := t.ids[a+b]
		if !oka || !okb || !oki {
			return nil, fmt.Errorf("tokenizer: merge %d (%q %q): a part or the result is not in the vocabulary", i, a, b)
		}
		if _, dup := t.merges[[2]int32{ia, ib}]; !dup {
			t.merges[[2]int32{ia, ib}] = merge{rank: int32(i), id: into}
		}
	}
	for _, a := range f.AddedTokens {
		if a.Content == "" || a.ID < 0 {
			return nil, fmt.Errorf("tokenizer: added token %d %q is empty or has a negative id", a.ID, a.Content)
		}
		if old := t.tokens[a.ID]; old != "" && old != a.Content {
			return nil, fmt.Errorf("tokenizer: added token %q has id %d, which the vocabulary gives to %q", a.Content, a.ID, old)
		}
		t.tokens[a.ID] = a.Content
		t.ids[a.Content] = int32(a.ID)
		t.special[a.ID] = a.Special
		t.isAdded[a.ID] = true
		t.first[a.Content[0]] = append(t.first[a.Content[0]], len(t.added))
		t.added = append(t.added, addedToken{id: int32(a.ID), content: a.Content, lstrip: a.LStrip, rstrip: a.RStrip, special: a.Special})
	}
	if err := t.parsePost(f.Post); err != nil {
		return nil, err
	}
	if !byteLevel {
		// no ByteLevel step: a BPE over characters, SentencePiece style
		if err := t.setupCharLevel(&f); err != nil {
			return nil, err
		}
		if err := parseSPMDecoder(f.Decoder, &t.dec); err != nil {
			return nil, err
		}
		return t, nil
	}
	if dec := decoderType(f.Decoder); dec != "ByteLevel" && dec != "" {
		return nil, fmt.Errorf("tokenizer: decoder %q is not supported with a ByteLevel pre-tokenizer (only ByteLevel)", dec)
	}
	return t, nil
}

func parseMerge(raw json.RawMessage) (a, b string, err error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		var ok bool
		if a, b, ok = strings.Cut(s, " "); !ok || a == "" || b == "" || strings.Contains(b, " ") {
			return "", "", fmt.Errorf("%q is not two tokens separated by a space", s)
		}
		return a, b, nil
	}
	var pair []string
	if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 || pair[0] == "" || pair[1] == "" {
		return "", "", fmt.Errorf("%s is neither \"a b\" nor [\"a\", \"b\"]", raw)
	}
	return pair[0], pair[1], nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

func decoderType(raw json.RawMessage) string {
	if isNull(raw) {
		return ""
	}
	var c component
	if json.Unmarshal(raw, &c) != nil {
		return "(unreadable)"
	}
	return c.Type
}

func parseNormalizer(raw json.RawMessage) (func(string) string, error) {
	if isNull(raw) {
		return nil, nil
	}
	var c component
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("tokenizer: normalizer: %v", err)
	}
	switch c.Type {
	case "NFC":
		return norm.NFC.String, nil
	case "NFD":
		return norm.NFD.String, nil
	case "NFKC":
		return norm.NFKC.String, nil
	case "NFKD":
		return norm.NFKD.String, nil
	case "Prepend":
		if c.Prepend == nil {
			return nil, fmt.Errorf("tokenizer: Prepend normalizer without prepend")
		}
		p := *c.Prepend
		return func(s string) string {
			if s == "" {
				return s
			}
			return p + s
		}, nil
	case "Replace":
		if c.Pattern.String == nil || c.Content == nil {
			return nil, fmt.Errorf("tokenizer: Replace normalizer with a regex pattern is not supported (only a string)")
		}
		r := strings.NewReplacer(*c.Pattern.String, *c.Content)
		return r.Replace, nil
	case "Lowercase":
		lower := cases.Lower(language.Und)
		return func(s string) string { return lower.String(s) }, nil
	case "Sequence":
		var steps []func(string) string
		for _, r := range c.Normalizers {
			n, err := parseNormalizer(r)
			if err != nil {
				return nil, err
			}
			if n != nil {
				steps = append(steps, n)
			}
		}
		return func(s string) string {
			for _, n := range steps {
				s = n(s)
			}
			return s
		}, nil
	}
	return nil, fmt.Errorf("tokenizer: normalizer %q is not supported", c.Type)
}

// gpt2Pattern is the regex the ByteLevel pre-tokenizer splits with when
// use_regex is on.
const gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

func parsePre(raw json.RawMessage, byteLevel *bool) ([]preStep, error) {
	if isNull(raw) {
		return nil, nil
	}
	var c component
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("tokenizer: pre-tokenizer: %v", err)
	}
	switch c.Type {
	case "ByteLevel":
		if *byteLevel {
			return nil, fmt.Errorf("tokenizer: two ByteLevel pre-tokenizers")
		}
		*byteLevel = true
		prefix := c.AddPrefixSpace != nil && *c.AddPrefixSpace
		var steps []preStep
		if c.UseRegex == nil || *c.UseRegex {
			p, err := compilePattern(gpt2Pattern)
			if err != nil {
				return nil, err
			}
			steps = append(steps, splitStep{p: p, prefixSpace: prefix})
		} else if prefix {
			steps = append(steps, splitStep{prefixSpace: true})
		}
		return append(steps, byteLevelStep{}), nil
	case "Split":
		if c.Behavior != "Isolated" || c.Invert {
			return nil, fmt.Errorf("tokenizer: Split pre-tokenizer with behavior %q, invert %v is not supported (only Isolated)", c.Behavior, c.Invert)
		}
		var src string
		switch {
		case c.Pattern.Regex != nil:
			src = *c.Pattern.Regex
		case c.Pattern.String != nil:
			src = regexp.QuoteMeta(*c.Pattern.String)
		default:
			return nil, fmt.Errorf("tokenizer: Split pre-tokenizer without a pattern")
		}
		if *byteLevel {
			return nil, fmt.Errorf("tokenizer: a Split after ByteLevel is not supported")
		}
		p, err := compilePattern(src)
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %v", err)
		}
		return []preStep{splitStep{p: p}}, nil
	case "Metaspace":
		if *byteLevel {
			return nil, fmt.Errorf("tokenizer: a Metaspace after ByteLevel is not supported")
		}
		m, err := parseMetaspace(c)
		if err != nil {
			return nil, err
		}
		return []preStep{m}, nil
	case "Sequence":
		var steps []preStep
		for _, r := range c.PreTokenizers {
			s, err := parsePre(r, byteLevel)
			if err != nil {
				return nil, err
			}
			steps = append(steps, s...)
		}
		return steps, nil
	}
	return nil, fmt.Errorf("tokenizer: pre-tokenizer %q is not supported", c.Type)
}

// splitStep splits each piece with a regex; with prefixSpace it first adds
// a space to a piece that does not start with one (GPT-2's
// add_prefix_space).
type splitStep struct {
	p           *pattern
	prefixSpace bool
}

func (s splitStep) apply(pieces []string, _ bool) []string {
	var out []string
	for _, piece := range pieces {
		if s.prefixSpace && !strings.HasPrefix(piece, " ") {
			piece = " " + piece
		}
		if s.p == nil {
			out = append(out, piece)
			continue
		}
		s.p.split(piece, func(x string) { out = append(out, x) })
	}
	return out
}

// byteLevelStep spells each piece in the byte-level alphabet.
type byteLevelStep struct{}

func (byteLevelStep) apply(pieces []string, _ bool) []string {
	var buf []byte
	for i, p := range pieces {
		buf = toByteLevel(buf[:0], p)
		pieces[i] = string(buf)
	}
	return pieces
}
