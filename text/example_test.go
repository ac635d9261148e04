package text_test

import (
	"fmt"

	"github.com/nabla-go/nabla/text"
)

func ExampleCharTokenizer() {
	tok := text.NewCharTokenizer("to be or not to be")
	ids, _ := tok.Encode("bent")
	fmt.Println(tok.VocabSize(), ids)
	s, _ := tok.Decode(ids)
	fmt.Println(s)
	_, err := tok.Encode("bean")
	fmt.Println(err)
	// Output:
	// 7 [1 2 3 6]
	// bent
	// text: character 'a' (U+0061) at position 2 (byte 2) is not in the vocabulary
}

func ExampleNewWindows() {
	w, _ := text.NewWindows([]int{5, 6, 7, 8, 9}, 2, 2)
	x, y := make([]float32, 2), make([]float32, 2)
	for i := range w.Len() {
		w.Get(i, x, y)
		fmt.Println(x, "->", y)
	}
	// Output:
	// [5 6] -> [6 7]
	// [7 8] -> [8 9]
}
