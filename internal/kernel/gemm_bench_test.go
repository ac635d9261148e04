// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

type benchShape struct {
	name           string
	m, k, n        int
	transA, transB bool
}

func benchShapes() []benchShape {
	var s []benchShape
	for _, n := range []int{256, 512, 1024, 2048} {
		s = append(s, benchShape{name: fmt.Sprint(n), m: n, k: n, n: n})
	}
	return append(s,
		// An MLP layer at batch 128: forward, then the two backward products.
		benchShape{name: "128x784x256", m: 128, k: 784, n: 256},
		benchShape{name: "128x256x784tB", m: 128, k: 256, n: 784, transB: true},
		benchShape{name: "784x128x256tA", m: 784, k: 128, n: 256, transA: true},
		// The W5 MLP at batch 1 (x·Wᵀ), and small batches of it.
		benchShape{name: "1x784x256tB", m: 1, k: 784, n: 256, transB: true},
		benchShape{name: "1x256x128tB", m: 1, k: 256, n: 128, transB: true},
		benchShape{name: "1x128x10tB", m: 1, k: 128, n: 10, transB: true},
		benchShape{name: "4x784x256tB", m: 4, k: 784, n: 256, transB: true},
		benchShape{name: "8x784x256tB", m: 8, k: 784, n: 256, transB: true},
		benchShape{name: "16x784x256tB", m: 16, k: 784, n: 256, transB: true},
		benchShape{name: "32x784x256tB", m: 32, k: 784, n: 256, transB: true},
		benchShape{name: "64x784x256tB", m: 64, k: 784, n: 256, transB: true},
		benchShape{name: "32x128x10tB", m: 32, k: 128, n: 10, transB: true},
		// The W3 MLP (784-256-128-10) at batch 128: forward x·Wᵀ, then
		// dX = dY·W and dW = dYᵀ·x for each layer.
		benchShape{name: "w3/fwd1", m: 128, k: 784, n: 256, transB: true},
		benchShape{name: "w3/fwd2", m: 128, k: 256, n: 128, transB: true},
		benchShape{name: "w3/fwd3", m: 128, k: 128, n: 10, transB: true},
		benchShape{name: "w3/dx2", m: 128, k: 128, n: 256},
		benchShape{name: "w3/dx3", m: 128, k: 10, n: 128},
		benchShape{name: "w3/dw1", m: 256, k: 128, n: 784, transA: true},
		benchShape{name: "w3/dw2", m: 128, k: 128, n: 256, transA: true},
		benchShape{name: "w3/dw3", m: 10, k: 128, n: 128, transA: true},
		// Its backward at batch 1: dX = dY·W.
		benchShape{name: "1x256x784", m: 1, k: 256, n: 784},
		benchShape{name: "4x256x784", m: 4, k: 256, n: 784},
		benchShape{name: "1x10x128", m: 1, k: 10, n: 128},
		benchShape{name: "8x256x784", m: 8, k: 256, n: 784},
		benchShape{name: "16x256x784", m: 16, k: 256, n: 784},
		benchShape{name: "32x256x784", m: 32, k: 256, n: 784},
	)
}

func randSlice[T float](n int) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = T(rand.Float64()*2 - 1)
	}
	return s
}

func benchGemm[T float](b *testing.B, s benchShape, f func(transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int)) {
	a, bb, c := randSlice[T](s.m*s.k), randSlice[T](s.k*s.n), randSlice[T](s.m*s.n)
	lda, ldb := s.k, s.n
	if s.transA {
		lda = s.m
	}
	if s.transB {
		ldb = s.k
	}
	for b.Loop() {
		f(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
	}
	flops := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// naiveGemmF32 is the plain triple loop, for comparison.
func naiveGemmF32(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				av, bv := a[i*lda+p], b[p*ldb+j]
				if transA {
					av = a[p*lda+i]
				}
				if transB {
					bv = b[j*ldb+p]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}

func BenchmarkGemm(b *testing.B) {
	for _, s := range benchShapes() {
		b.Run("f32/"+s.name, func(b *testing.B) { benchGemm(b, s, GemmF32) })
	}
	for _, n := range []int{256, 1024} {
		s := benchShape{name: fmt.Sprint(n), m: n, k: n, n: n}
		b.Run("f64/"+s.name, func(b *testing.B) { benchGemm(b, s, GemmF64) })
	}
	b.Run("naive/f32/128", func(b *testing.B) {
		benchGemm(b, benchShape{m: 128, k: 128, n: 128}, naiveGemmF32)
	})
}

func BenchmarkMicroKernel(b *testing.B) {
	var ks []*microKernel[float32]
	for _, kern := range kernelsF32() {
		ks = append(append(ks, kern), kern.edges...)
	}
	for _, kern := range ks {
		b.Run("f32/"+kern.name, func(b *testing.B) {
			const k = 256
			a, bb := randSlice[float32](kern.mr*k), randSlice[float32](kern.nr*k)
			c := make([]float32, kern.mr*kern.nr)
			for b.Loop() {
				kern.fn(k, a, bb, c, kern.nr, 1, 1)
			}
			b.ReportMetric(2*float64(kern.mr*kern.nr*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
