package onnx

import (
	"os"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the decoder and the graph builder
// (which runs the constant nodes): they must return a model or an error,
// never panic, and never allocate beyond what the input holds. The seeds
// are the committed models; crashers found are kept in
// testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"ops_op13", "ops_op17"} {
		b, err := os.ReadFile("testdata/" + name + ".onnx")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := LoadBytes(b, "")
		if err == nil && m == nil {
			t.Fatal("no model and no error")
		}
	})
}
