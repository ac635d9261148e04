package data_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/nabla-go/nabla/data"
)

// Write a tiny 2x3 ubyte array in the IDX format and read it back.
func ExampleReadIDX() {
	var buf bytes.Buffer
	img := &data.IDX{Type: data.IDXUint8, Dims: []int{2, 3}, Data: []byte{0, 128, 255, 1, 2, 3}}
	if err := data.WriteIDX(&buf, img); err != nil {
		log.Fatal(err)
	}
	x, err := data.ReadIDX(&buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(x.Dims, x.Float32s())
	// Output: [2 3] [0 128 255 1 2 3]
}
