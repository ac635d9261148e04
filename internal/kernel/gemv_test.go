// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// testGemvT checks kern.gemvT directly against the reference product on
// rows of A and B inside NaN-guarded buffers with padded strides.
func testGemvT[T float](t *testing.T, kern *microKernel[T]) {
	rnd := rand.New(rand.NewPCG(7, 8))
	fill := func() T { return T(rnd.Float64()*2 - 1) }
	for _, m := range []int{1, 2, 3, 4, 5, 8, 9} {
		for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 9, 17} {
			for ki, k := range elemSizes[1:] {
				pad := (m + n + ki) % 3
				lda, ldb, ldc := k+pad, k+2*pad, n+pad
				a, abuf, aoff := guarded[T](m, k, lda, fill)
				b, bbuf, boff := guarded[T](n, k, ldb, fill)
				prod, pmag := naiveProd(false, true, m, n, k, a, lda, b, ldb)
				for _, ab := range alphaBetas[:3] {
					alpha, beta := T(ab.alpha), T(ab.beta)
					cfill := fill
					if beta == 0 {
						cfill = func() T { return T(math.NaN()) }
					}
					c, cbuf, coff := guarded[T](m, n, ldc, cfill)
					want, mag := naiveGemm(m, n, prod, pmag, alpha, beta, c, ldc)
					kern.gemvT(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
					name := fmt.Sprintf("%s m=%d n=%d k=%d alpha=%v beta=%v", kern.name, m, n, k, alpha, beta)
					tol := 2 * eps[T]() * float64(k+2)
				loop:
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							got, w := float64(c[i*ldc+j]), want[i*n+j]
							if math.IsNaN(got) || math.Abs(got-w) > tol*mag[i*n+j]+1e-30 {
								t.Errorf("%s: C[%d][%d]: got %v; want %v", name, i, j, got, w)
								break loop
							}
						}
					}
					checkGuards(t, name+" C", cbuf, coff, m, n, ldc)
					if t.Failed() {
						return
					}
				}
				checkGuards(t, "A", abuf, aoff, m, k, lda)
				checkGuards(t, "B", bbuf, boff, n, k, ldb)
			}
		}
	}
}

func TestGemvTF32(t *testing.T) {
	for _, kern := range kernelsF32() {
		t.Run(kern.name, func(t *testing.T) { testGemvT(t, kern) })
	}
}

func TestGemvTF64(t *testing.T) {
	for _, kern := range kernelsF64() {
		t.Run(kern.name, func(t *testing.T) { testGemvT(t, kern) })
	}
}

// TestGemmPaths checks that the small-m paths are the ones taken.
func TestGemmPaths(t *testing.T) {
	kern := f32Kernel
	for _, tc := range []struct {
		m, n, k        int
		transA, transB bool
		want           gemmPath
	}{
		{1, 256, 784, false, true, pathGemvT},
		{1, 10, 128, false, true, pathGemvT},
		{kern.smallM, 256, 784, false, false, pathGemvN},
		{kern.smallM, 256, 784, true, false, pathGemvN},
		{kern.smallM + 1, 256, 784, false, false, pathPacked},
		{kern.smallMT + 1, 256, 784, false, true, pathPacked},
		{128, kern.nr / 4, 128, false, true, pathGemvT}, // few columns
		{128, kern.nr / 2, 784, false, true, pathGemvT},
		{128, kern.nr/2 + 1, 784, false, true, pathPacked},
		{128, kern.nr / 2, kern.nr/2 - 1, false, true, pathPacked},
		{1, 256, 784, true, true, pathPacked},
	} {
		g := gemmArgs[float32]{transA: tc.transA, transB: tc.transB, m: tc.m, n: tc.n, k: tc.k}
		if got := kern.choosePath(&g); got != tc.want {
			t.Errorf("%+v: got path %d; want %d", tc, got, tc.want)
		}
	}
}
