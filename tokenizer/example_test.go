package tokenizer_test

import (
	"fmt"

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
