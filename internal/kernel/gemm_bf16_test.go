// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// bf16Matrix returns random bfloat16 bit patterns for a rows×cols matrix
// with row stride ld, and the same values widened to float32.
func bf16Matrix(rnd *rand.Rand, rows, cols, ld int) ([]uint16, []float32) {
	n := 0
	if rows > 0 {
		n = (rows-1)*ld + cols
	}
	h := make([]uint16, n)
	w := make([]float32, n)
	for i := range h {
		h[i] = uint16(math.Float32bits(float32(rnd.Float64()*2-1)) >> 16)
		w[i] = math.Float32frombits(uint32(h[i]) << 16)
	}
	return h, w
}

// checkBF16Product compares c (m×n, stride ldc) with the float64 product
// of a and the widened b, scaled by alpha and beta as GemmF32 defines.
func checkBF16Product(t *testing.T, name string, transB bool, m, n, k int, alpha, beta float32, a []float32, lda int, bw []float32, ldb int, c0, c []float32, ldc int) {
	t.Helper()
	prod, pmag := naiveProd(false, transB, m, n, k, a, lda, bw, ldb)
	want, mag := naiveGemm(m, n, prod, pmag, alpha, beta, c0, ldc)
	tol := 2 * eps[float32]() * float64(k+2)
	for i := range m {
		for j := range n {
			got, w := float64(c[i*ldc+j]), want[i*n+j]
			if math.IsNaN(got) || math.Abs(got-w) > tol*mag[i*n+j]+1e-30 {
				t.Fatalf("%s: C[%d][%d]: got %v; want %v", name, i, j, got, w)
			}
		}
	}
}

// TestGemvTBF16 checks every dot-product implementation against the
// float64 product with the widened weights, on depths that straddle the
// vector widths (the assembly leaves k%vw to Go).
func TestGemvTBF16(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	for _, impl := range gemvTBF16Kernels() {
		t.Run(impl.name, func(t *testing.T) {
			for _, m := range []int{1, 2, 3, 4, 5, 8} {
				for _, n := range []int{1, 3, 4, 5, 9, 17} {
					for _, k := range elemSizes[1:] {
						pad := (m + n + k) % 3
						lda, ldb, ldc := k+pad, k+2*pad, n+pad
						a, _, _ := guarded[float32](m, k, lda, func() float32 { return float32(rnd.Float64()*2 - 1) })
						b, bw := bf16Matrix(rnd, n, k, ldb)
						for _, ab := range alphaBetas[:3] {
							c, _, _ := guarded[float32](m, n, ldc, func() float32 { return float32(rnd.Float64()) })
							c0 := append([]float32(nil), c...)
							if ab.beta == 0 {
								for i := range c {
									c[i] = float32(math.NaN()) // must not be read
								}
							}
							impl.fn(m, n, k, float32(ab.alpha), a, lda, b, ldb, float32(ab.beta), c, ldc)
							name := fmt.Sprintf("%s m=%d n=%d k=%d alpha=%v beta=%v", impl.name, m, n, k, ab.alpha, ab.beta)
							checkBF16Product(t, name, true, m, n, k, float32(ab.alpha), float32(ab.beta), a, lda, bw, ldb, c0, c, ldc)
						}
					}
				}
			}
		})
	}
}

// TestGemmF32BF16 checks the public entry on both layouts of B, on the
// dot-product path (few rows) and the widening path (many rows, blocks of
// B smaller than the matrix).
func TestGemmF32BF16(t *testing.T) {
	defer func(b int) { bf16Block = b }(bf16Block)
	bf16Block = 5000 // several blocks of B for the larger cases
	rnd := rand.New(rand.NewPCG(5, 6))
	for _, transB := range []bool{true, false} {
		for _, sz := range [][3]int{{1, 1, 1}, {1, 300, 257}, {3, 70, 33}, {8, 64, 64}, {9, 64, 64}, {40, 300, 257}, {20, 5, 2000}, {17, 2000, 40}} {
			m, n, k := sz[0], sz[1], sz[2]
			lda, ldc := k+1, n+2
			br, bc := n, k
			if !transB {
				br, bc = k, n
			}
			ldb := bc + 3
			a, _, _ := guarded[float32](m, k, lda, func() float32 { return float32(rnd.Float64()*2 - 1) })
			b, bw := bf16Matrix(rnd, br, bc, ldb)
			for _, ab := range alphaBetas {
				c, _, _ := guarded[float32](m, n, ldc, func() float32 { return float32(rnd.Float64()) })
				c0 := append([]float32(nil), c...)
				GemmF32BF16(transB, m, n, k, float32(ab.alpha), a, lda, b, ldb, float32(ab.beta), c, ldc)
				name := fmt.Sprintf("transB=%v m=%d n=%d k=%d alpha=%v beta=%v", transB, m, n, k, ab.alpha, ab.beta)
				checkBF16Product(t, name, transB, m, n, k, float32(ab.alpha), float32(ab.beta), a, lda, bw, ldb, c0, c, ldc)
			}
		}
	}
}

func TestGemmF32BF16Panics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("a B too short for its dimensions did not panic")
		}
	}()
	GemmF32BF16(true, 1, 2, 4, 1, make([]float32, 4), 4, make([]uint16, 7), 4, 0, make([]float32, 2), 2)
}

// BenchmarkGemmF32BF16 compares the products of one and eight rows with a
// 2048×2048 weight kept in bfloat16 against the same product in float32
// (a weight of 16 MiB, beyond the caches: the bfloat16 one reads half the
// bytes), and a 128-row product, which widens blocks of the weight.
func BenchmarkGemmF32BF16(b *testing.B) {
	const n, k = 2048, 2048
	rnd := rand.New(rand.NewPCG(1, 1))
	h, w := bf16Matrix(rnd, n, k, k)
	for _, m := range []int{1, 8, 128} {
		a := make([]float32, m*k)
		for i := range a {
			a[i] = float32(rnd.Float64())
		}
		c := make([]float32, m*n)
		flops := 2 * float64(m*n*k)
		b.Run(fmt.Sprintf("m=%d/bf16", m), func(b *testing.B) {
			for b.Loop() {
				GemmF32BF16(true, m, n, k, 1, a, k, h, k, 0, c, n)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(fmt.Sprintf("m=%d/f32", m), func(b *testing.B) {
			for b.Loop() {
				GemmF32(false, true, m, n, k, 1, a, k, w, k, 0, c, n)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
