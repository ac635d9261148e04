package onnx

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/nabla-go/nabla"
)

// BenchmarkResNet18 is W9: inference of torchvision's resnet18 on 224×224
// images at batch 1 and 16, from the file that make_onnx_reference.py
// --large writes into NABLA_ONNX_MODELS.
func BenchmarkResNet18(b *testing.B) {
	dir := os.Getenv("NABLA_ONNX_MODELS")
	if dir == "" {
		b.Skip("NABLA_ONNX_MODELS is not set")
	}
	m, err := Load(filepath.Join(dir, "resnet18.onnx"))
	if err != nil {
		b.Fatal(err)
	}
	for _, batch := range []int{1, 16} {
		b.Run(map[int]string{1: "batch1", 16: "batch16"}[batch], func(b *testing.B) {
			x := nabla.Rand(rand.New(rand.NewPCG(1, 1)), batch, 3, 224, 224)
			in := map[string]*nabla.Tensor{"input": x}
			var err error
			nabla.NoGrad(func() {
				for b.Loop() {
					if _, err = m.Run(in); err != nil {
						break
					}
				}
			}, paramTensors(m)...)
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}

func paramTensors(m *Model) []*nabla.Tensor {
	ts := make([]*nabla.Tensor, len(m.Params()))
	for i, p := range m.Params() {
		ts[i] = p.Tensor
	}
	return ts
}
