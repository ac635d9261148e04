package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// Go's regexp takes about a microsecond per pre-token on the patterns of
// GPT-2, LLaMA 3 and Qwen2, which made it most of Encode's time. These
// patterns are fixed strings in every tokenizer.json that uses them, so
// each has a hand-written scanner here that gives the same pieces as the
// regex (TestScannersMatchRegexp and FuzzScanners check it); any other
// pattern runs on regexp.

// llama3Pattern and qwen2Pattern are the Split regexes of LLaMA 3's and
// Qwen2's tokenizer.json; they differ only in how many digits a piece
// may hold.
const (
	llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	qwen2Pattern  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// scanners maps a pattern to its scanner: a function returning the length
// in bytes of the piece at the start of a non-empty s.
var scanners = map[string]func(s string) int{
	gpt2Pattern:   scanGPT2,
	llama3Pattern: func(s string) int { return scanLlama(s, 3, true) },
	qwen2Pattern:  func(s string) int { return scanLlama(s, 1, true) },
}

func isSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}

func isLetter(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
	}
	return unicode.IsLetter(r)
}

func isNumber(r rune) bool {
	if r < utf8.RuneSelf {
		return '0' <= r && r <= '9'
	}
	return unicode.IsNumber(r)
}

// isOther is [^\s\p{L}\p{N}].
func isOther(r rune) bool { return !isSpace(r) && !isLetter(r) && !isNumber(r) }

// run returns the length of the longest prefix of s whose runes satisfy f.
func run(s string, f func(rune) bool) int {
	for i, r := range s {
		if !f(r) {
			return i
		}
	}
	return len(s)
}

func first(s string) (rune, int) {
	if s == "" {
		return -1, 0
	}
	if c := s[0]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s)
}

// contraction returns the length of 's, 't, 're, 've, 'm, 'll or 'd at the
// start of s (any case if fold, as (?i:...) with Go's simple folding, in
// which ſ is an s), or 0.
func contraction(s string, fold bool) int {
	if len(s) < 2 || s[0] != '\'' {
		return 0
	}
	c, n := first(s[1:])
	lower := func(r rune) rune {
		if fold && 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		if fold && r == 'ſ' { // folds to s in Go's (?i), as in Unicode
			return 's'
		}
		return r
	}
	switch lower(c) {
	case 's', 't', 'm', 'd':
		return 1 + n
	case 'r', 'v':
		if d, m := first(s[1+n:]); lower(d) == 'e' {
			return 1 + n + m
		}
	case 'l':
		if d, m := first(s[1+n:]); lower(d) == 'l' {
			return 1 + n + m
		}
	}
	return 0
}

// spaces is `\s+(?!\S)|\s+` at a whitespace rune: the run, less its last
// rune when more text follows and the run has more than one.
func spaces(s string) int {
	e := run(s, isSpace)
	if e == len(s) {
		return e
	}
	_, last := utf8.DecodeLastRuneInString(s[:e])
	if last == e {
		return e
	}
	return e - last
}

// scanGPT2 is 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
func scanGPT2(s string) int {
	if n := contraction(s, false); n > 0 {
		return n
	}
	c, _ := first(s)
	i := 0
	if c == ' ' {
		if d, _ := first(s[1:]); d >= 0 && !isSpace(d) {
			i, c = 1, d
		}
	}
	switch {
	case isLetter(c):
		return i + run(s[i:], isLetter)
	case isNumber(c):
		return i + run(s[i:], isNumber)
	case !isSpace(c):
		return i + run(s[i:], isOther)
	}
	return spaces(s)
}

func isCRLF(r rune) bool { return r == '\r' || r == '\n' }

// scanLlama is LLaMA 3's pattern with digits = 3, and Qwen2's with 1:
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,digits}|
// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func scanLlama(s string, digits int, fold bool) int {
	if n := contraction(s, fold); n > 0 {
		return n
	}
	c, n := first(s)
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if isLetter(c) {
		return run(s, isLetter)
	}
	if !isCRLF(c) && !isNumber(c) {
		if d, _ := first(s[n:]); d >= 0 && isLetter(d) {
			return n + run(s[n:], isLetter)
		}
	}
	// \p{N}{1,digits}
	if isNumber(c) {
		i := 0
		for k := 0; k < digits && i < len(s); k++ {
			r, m := first(s[i:])
			if !isNumber(r) {
				break
			}
			i += m
		}
		return i
	}
	// ' '?[^\s\p{L}\p{N}]+[\r\n]*
	i := 0
	if c == ' ' {
		if d, _ := first(s[1:]); d >= 0 && isOther(d) {
			i, c = 1, d
		}
	}
	if isOther(c) {
		i += run(s[i:], isOther)
		return i + run(s[i:], isCRLF)
	}
	// \s*[\r\n]+: the whitespace run up to its last line break
	e := run(s, isSpace)
	last := -1
	for j, r := range s[:e] {
		if isCRLF(r) {
			last = j + 1
		}
	}
	if last > 0 {
		return last
	}
	return spaces(s)
}
