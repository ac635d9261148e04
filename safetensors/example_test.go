package safetensors_test

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/nabla-go/nabla/safetensors"
)

// Encode two tensors into memory, decode them and read one back.
func Example() {
	tensors := []safetensors.Tensor{
		safetensors.FromFloat32s("layer.weight", []int{2, 2}, []float32{1, 2, 3, 4}),
		safetensors.FromFloat32s("layer.bias", []int{2}, []float32{0.5, -0.5}),
	}
	var buf bytes.Buffer
	if err := safetensors.Encode(&buf, tensors, map[string]string{"format": "pt"}); err != nil {
		log.Fatal(err)
	}
	f, err := safetensors.Decode(buf.Bytes())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(f.Names(), f.Metadata["format"])
	w, _ := f.Get("layer.weight")
	v, err := safetensors.Float32s(w)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(w.DType, w.Shape, v)
	// Output:
	// [layer.bias layer.weight] pt
	// F32 [2 2] [1 2 3 4]
}

// WriteFile replaces a file atomically; ReadFile validates it on the way in.
func ExampleWriteFile() {
	dir, err := os.MkdirTemp("", "safetensors-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")
	t := safetensors.FromFloat64s("x", []int{3}, []float64{1, 2, 3})
	if err := safetensors.WriteFile(path, []safetensors.Tensor{t}, nil); err != nil {
		log.Fatal(err)
	}
	f, err := safetensors.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	x, _ := f.Get("x")
	fmt.Println(x.DType, x.Shape, len(x.Data))
	// Output: F64 [3] 24
}

// Decode says what is wrong with a malformed file.
func ExampleDecode_error() {
	_, err := safetensors.Decode([]byte{0xff, 0, 0, 0, 0, 0, 0, 0, '{', '}'})
	fmt.Println(err)
	// Output: safetensors: invalid: header length 255 is larger than the 2 bytes that follow it
}

// Integer, boolean and half-precision tensors keep their dtypes; the
// half-precision ones travel as bit patterns.
func Example_dtypes() {
	tensors := []safetensors.Tensor{
		safetensors.FromInt64s("labels", []int{3}, []int64{2, 0, 1}),
		safetensors.FromBools("mask", []int{3}, []bool{true, false, true}),
		safetensors.FromBFloat16Bits("w", []int{2}, []uint16{0x3f80, 0xc000}), // 1, -2
	}
	var buf bytes.Buffer
	if err := safetensors.Encode(&buf, tensors, nil); err != nil {
		log.Fatal(err)
	}
	f, err := safetensors.Decode(buf.Bytes())
	if err != nil {
		log.Fatal(err)
	}
	labels, _ := f.Get("labels")
	mask, _ := f.Get("mask")
	w, _ := f.Get("w")
	l, _ := safetensors.Int64s(labels)
	m, _ := safetensors.Bools(mask)
	bits, _ := safetensors.BFloat16Bits(w)
	v, _ := safetensors.Float32s(w)
	fmt.Println(f.Names())
	fmt.Println(l, m)
	fmt.Printf("%#04x %v\n", bits, v)
	// Output:
	// [labels w mask]
	// [2 0 1] [true false true]
	// [0x3f80 0xc000] [1 -2]
}
