// Copyright 2025 The nabla Authors. All rights reserved.

// Package gonum measures gonum's Sgemm, the bar the pure-Go GEMM of
// internal/kernel is compared with, beside nabla's own GemmF32 (through its
// public MatMul, whose overhead at these sizes is well under 1%). It is a
// module of its own so that nabla does not depend on gonum.
//
//	go test -bench . -cpu 1 -count 6                       # both with assembly
//	go test -tags noasm,purego -bench . -cpu 1 -count 6    # both in pure Go
//	GOEXPERIMENT=simd go test -tags noasm,purego -bench . -cpu 1 -count 6
package gonum

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/nabla-go/nabla"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

var sizes = []int{256, 1024}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

func reportGFLOPs(b *testing.B, n int) {
	b.ReportMetric(2*float64(n*n*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkSgemm(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range sizes {
		x, y, z := randSlice(r, n*n), randSlice(r, n*n), make([]float32, n*n)
		b.Run(fmt.Sprintf("gonum/%d", n), func(b *testing.B) {
			var impl gonum.Implementation
			for b.Loop() {
				impl.Sgemm(blas.NoTrans, blas.NoTrans, n, n, n, 1, x, n, y, n, 0, z, n)
			}
			reportGFLOPs(b, n)
		})
		b.Run(fmt.Sprintf("nabla/%d", n), func(b *testing.B) {
			tx := nabla.FromSlice(x, n, n)
			ty := nabla.FromSlice(y, n, n)
			for b.Loop() {
				tx.MatMul(ty)
			}
			reportGFLOPs(b, n)
		})
	}
}

// TestSameProduct checks that both libraries compute the same product, so
// that the benchmark compares like with like.
func TestSameProduct(t *testing.T) {
	const n = 64
	r := rand.New(rand.NewPCG(3, 4))
	x, y, z := randSlice(r, n*n), randSlice(r, n*n), make([]float32, n*n)
	var impl gonum.Implementation
	impl.Sgemm(blas.NoTrans, blas.NoTrans, n, n, n, 1, x, n, y, n, 0, z, n)
	got := nabla.FromSlice(x, n, n).MatMul(nabla.FromSlice(y, n, n)).Data32()
	for i := range z {
		if d := got[i] - z[i]; d > 1e-4 || d < -1e-4 {
			t.Fatalf("element %d: nabla %v, gonum %v", i, got[i], z[i])
		}
	}
}
