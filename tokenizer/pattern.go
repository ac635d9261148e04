package tokenizer

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// The pre-tokenizer regexes of GPT-2, LLaMA 3 and Qwen2 were written for
// regex engines with lookahead and Unicode-aware \s (Oniguruma in Hugging
// Face's tokenizers, the regex module in Python). Go's RE2 has neither, so
// a pattern is translated before it is compiled:
//
//   - \s and \S become the class of Unicode's White_Space property (RE2's
//     \s is ASCII only);
//   - the alternatives `\s+(?!\S)|\s+`, which end every one of these
//     patterns, become one capturing `(\s+)`, and a match of that group
//     that is followed by more text gives back its last character, as the
//     lookahead would: a run of spaces before a word leaves its last
//     space to the word (" word"), and a run at the end of the text stays
//     whole.
//
// Any other lookaround is refused with an error naming the pattern.

// whiteSpace is the White_Space property of Unicode 15, as ranges for a
// character class.
const whiteSpace = `\t-\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}`

const lookaheadTail = `|\s+(?!\S)|\s+`

// pattern is a compiled pre-tokenizer regex.
type pattern struct {
	scan    func(s string) int // a hand-written scanner for the pattern, or nil
	re      *regexp.Regexp
	wsGroup int // index of the translated `(\s+)` group, or 0 if there is none
}

func compilePattern(src string) (*pattern, error) {
	p := &pattern{}
	body := src
	tail := strings.HasSuffix(body, lookaheadTail)
	if tail {
		body = strings.TrimSuffix(body, lookaheadTail)
	}
	tr, err := translateClasses(body)
	if err != nil {
		return nil, fmt.Errorf("pre-tokenizer pattern %q: %v", src, err)
	}
	if tail {
		tr += `|([` + whiteSpace + `]+)`
	}
	re, err := regexp.Compile(tr)
	if err != nil {
		return nil, fmt.Errorf("pre-tokenizer pattern %q: %v", src, err)
	}
	p.re = re
	p.scan = scanners[src]
	if tail {
		p.wsGroup = re.NumSubexp()
	}
	return p, nil
}

// translateClasses rewrites \s and \S as White_Space classes and refuses
// lookaround.
func translateClasses(s string) (string, error) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			e := s[i+1]
			i++
			switch {
			case e == 's' && inClass:
				b.WriteString(whiteSpace)
			case e == 's':
				b.WriteString("[" + whiteSpace + "]")
			case e == 'S' && inClass:
				return "", fmt.Errorf(`\S inside a character class is not supported`)
			case e == 'S':
				b.WriteString("[^" + whiteSpace + "]")
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		case c == '[' && !inClass:
			inClass = true
			b.WriteByte(c)
			// a ']' or '^]' right after '[' is a literal
			if i+1 < len(s) && s[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(s) && s[i+1] == ']' {
				b.WriteByte(']')
				i++
			}
		case c == ']' && inClass:
			inClass = false
			b.WriteByte(c)
		case c == '(' && !inClass && strings.HasPrefix(s[i:], "(?") && len(s) > i+2 && strings.ContainsRune("=!<", rune(s[i+2])):
			return "", fmt.Errorf("lookaround %q is not supported by Go's regexp", s[i:min(len(s), i+4)])
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// split calls emit with the pieces of s: every match, and the text between
// matches (Hugging Face's "Isolated" behaviour).
func (p *pattern) split(s string, emit func(string)) {
	if p.scan != nil {
		for len(s) > 0 {
			n := p.scan(s)
			emit(s[:n])
			s = s[n:]
		}
		return
	}
	for len(s) > 0 {
		loc := p.find(s)
		if loc == nil {
			emit(s)
			return
		}
		start, end := loc[0], loc[1]
		if start > 0 {
			emit(s[:start])
		}
		if end == start { // an empty match: step over one character
			_, n := utf8.DecodeRuneInString(s[start:])
			emit(s[start : start+n])
			s = s[start+n:]
			continue
		}
		if g := p.wsGroup; g > 0 && loc[2*g] >= 0 && end < len(s) {
			// \s+(?!\S): a run followed by text leaves its last
			// character to what follows, unless it has only one.
			if run := s[start:end]; utf8.RuneCountInString(run) > 1 {
				_, n := utf8.DecodeLastRuneInString(run)
				end -= n
			}
		}
		emit(s[start:end])
		s = s[end:]
	}
}

// window is the length of text a match is first looked for in. Go's regexp
// runs its backtracker, several times faster than its NFA, only on short
// inputs, and a pre-token is short, so each match is looked for in the
// next window of the text first; only a match that reaches the window's
// end (it might go on past it, or need the character after it for the
// lookahead) is looked for again in the whole rest.
const window = 512

func (p *pattern) find(s string) []int {
	if len(s) <= window {
		return p.re.FindStringSubmatchIndex(s)
	}
	w := window
	for w > window-utf8.UTFMax && !utf8.RuneStart(s[w]) {
		w--
	}
	if loc := p.re.FindStringSubmatchIndex(s[:w]); loc != nil && loc[1] < w-utf8.UTFMax {
		return loc
	}
	return p.re.FindStringSubmatchIndex(s)
}
