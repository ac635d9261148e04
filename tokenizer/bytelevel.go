package tokenizer

import "unicode/utf8"

// GPT-2's byte-level alphabet maps each of the 256 byte values to one
// visible character, so that BPE can work on strings of characters while
// any byte sequence, valid UTF-8 or not, stays representable: the printable
// bytes '!'..'~', '¡'..'¬' and '®'..'ÿ' stand for themselves, and the other
// 68 (controls, space, DEL, NBSP, the soft hyphen) take the code points from
// U+0100 up, in byte order. A space is therefore 'Ġ' (U+0120) and a newline
// 'Ċ' (U+010A) in the vocabularies of GPT-2, LLaMA 3 and Qwen2.
var (
	byteRune [256]rune   // byte value -> its character
	runeByte [324]int16  // character -> byte value, or -1
	byteStr  [256]string // byteRune as one-character strings
)

func init() {
	for i := range runeByte {
		runeByte[i] = -1
	}
	next := rune(256)
	for b := range 256 {
		r := rune(b)
		if !(b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE) {
			r = next
			next++
		}
		byteRune[b] = r
		runeByte[r] = int16(b)
		byteStr[b] = string(r)
	}
}

// toByteLevel appends the byte-level spelling of s to dst.
func toByteLevel(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		dst = utf8.AppendRune(dst, byteRune[s[i]])
	}
	return dst
}

// fromByteLevel appends the bytes that the byte-level string s spells. A
// character outside the alphabet (in a token that is not byte-level, such
// as an added token's content) is copied as its UTF-8 encoding.
func fromByteLevel(dst []byte, s string) []byte {
	for _, r := range s {
		if r >= 0 && int(r) < len(runeByte) && runeByte[r] >= 0 {
			dst = append(dst, byte(runeByte[r]))
		} else {
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst
}
