package tokenizer_test

import (
	"fmt"
	"strings"

	"github.com/nabla-go/nabla/tokenizer"
)

func Example() {
	tok, err := tokenizer.Load("testdata/gpt2-tokenizer.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	ids := tok.Encode("Light is refracted.<|endoftext|>")
	text, _ := tok.Decode(ids, true)
	last, _ := tok.Token(ids[len(ids)-1])
	fmt.Println(len(ids) > 1, last, text)
	// Output: true <|endoftext|> Light is refracted.
}

// A SentencePiece-style tokenizer (LLaMA 2's form): spaces are "▁", a
// character outside the vocabulary falls back to its UTF-8 bytes, and
// EncodeSpecial adds the beginning-of-text token <s> that the file's
// post-processor puts before a text, as the model expects its prompt.
func Example_sentencePiece() {
	tok, err := tokenizer.Load("testdata/llama2-tokenizer.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	ids := tok.EncodeSpecial("the light 光")
	var pieces []string
	for _, id := range ids {
		s, _ := tok.Token(id)
		pieces = append(pieces, s)
	}
	text, _ := tok.Decode(ids, true)
	fmt.Println(strings.Join(pieces, " "))
	fmt.Printf("%q\n", text)
	// Output:
	// <s> ▁the ▁l ight ▁ <0xE5> <0x85> <0x89>
	// "the light 光"
}
