// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestGemmPackedF32 checks GemmPackedF32 against the naive product on
// shapes with partial panels of rows and columns and several depth blocks,
// B transposed or not, beta 0 and not, serial and split between workers.
func TestGemmPackedF32(t *testing.T) {
	old := parallelThreshold
	defer func() { parallelThreshold = old }()
	rng := rand.New(rand.NewPCG(4, 4))
	for _, thr := range []int{old, 1} {
		parallelThreshold = thr
		for _, s := range [][3]int{{1, 1, 1}, {5, 33, 7}, {13, 100, 256}, {32, 1024, 256}, {32, 256, 1024}, {40, 70, 600}} {
			m, n, k := s[0], s[1], s[2]
			for _, tb := range []bool{false, true} {
				for _, beta := range []float32{0, 0.5} {
					t.Run(fmt.Sprintf("thr%d/%dx%dx%d/tb=%v/beta=%v", thr, m, n, k, tb, beta), func(t *testing.T) {
						lda, ldc := k+3, n+2
						ldb := n + 1
						if tb {
							ldb = k + 1
						}
						a := randSlice[float32](m * lda)
						b := randSlice[float32](max(n, k) * ldb)
						c := make([]float32, m*ldc)
						for i := range c {
							c[i] = float32(rng.NormFloat64())
						}
						want := append([]float32(nil), c...)
						naiveGemmF32(false, tb, m, n, k, 1.5, a, lda, b, ldb, beta, want, ldc)
						GemmPackedF32(m, 1.5, a, lda, PackBF32(tb, k, n, b, ldb), beta, c, ldc)
						for i := range m {
							for j := range ldc {
								got, w := c[i*ldc+j], want[i*ldc+j]
								if math.Abs(float64(got-w)) > 1e-4*math.Sqrt(float64(k))*(1+math.Abs(float64(w))) {
									t.Fatalf("c[%d][%d] = %v, want %v", i, j, got, w)
								}
							}
						}
					})
				}
			}
		}
	}
}

// BenchmarkRecurrentProduct is an LSTM step's recurrent products at batch
// 32, hidden 256 (h·W_hhᵀ: 32×1024×256; da·W_hh: 32×256×1024), by GemmF32
// on the stored weight and by GemmPackedF32 on the weight packed once.
func BenchmarkRecurrentProduct(b *testing.B) {
	for _, s := range []struct {
		name   string
		n, k   int
		transB bool
		stored int // ldb of W as stored
	}{{"hWT", 1024, 256, true, 256}, {"daW", 256, 1024, false, 256}} {
		a, w, c := randSlice[float32](32*s.k), randSlice[float32](s.n*s.k), make([]float32, 32*s.n)
		b.Run(s.name+"/GemmF32", func(b *testing.B) {
			for b.Loop() {
				GemmF32(false, s.transB, 32, s.n, s.k, 1, a, s.k, w, s.stored, 0, c, s.n)
			}
		})
		b.Run(s.name+"/GemmPackedF32", func(b *testing.B) {
			p := PackBF32(s.transB, s.k, s.n, w, s.stored)
			for b.Loop() {
				GemmPackedF32(32, 1, a, s.k, p, 0, c, s.n)
			}
		})
	}
}
