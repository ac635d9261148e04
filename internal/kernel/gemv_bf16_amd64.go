// Copyright 2025 The nabla Authors. All rights reserved.

//go:build amd64 && !purego

package kernel

// Dot-product kernels against bfloat16 rows (gemvbf16_amd64.s, generated
// by mkasm.go): as gemvTF32x<mr>, with b holding bfloat16 bit patterns and
// k a multiple of the vector width (8 for AVX2, 16 for AVX-512).

//go:noescape
func gemvTBF16x1AVX512(k int, a *float32, lda int, b *uint16, ldb int, n int, c *float32, ldc int, alpha, beta float32)

//go:noescape
func gemvTBF16x2AVX512(k int, a *float32, lda int, b *uint16, ldb int, n int, c *float32, ldc int, alpha, beta float32)

//go:noescape
func gemvTBF16x3AVX512(k int, a *float32, lda int, b *uint16, ldb int, n int, c *float32, ldc int, alpha, beta float32)

//go:noescape
func gemvTBF16x4AVX512(k int, a *float32, lda int, b *uint16, ldb int, n int, c *float32, ldc int, alpha, beta float32)

//go:noescape
func gemvTBF16x1AVX2(k int, a *float32, lda int, b *uint16, ldb int, n int, c *float32, ldc int, alpha, beta float32)

//go:noescape
func gemvTBF16x2AVX2(k int, a *float32, lda int, b *uint16, ldb int, n int, c *float32, ldc int, alpha, beta float32)

type gemvTBF16Func = func(k int, a *float32, lda int, b *uint16, ldb int, n int, c *float32, ldc int, alpha, beta float32)

// gemvTBF16Kernels lists the implementations usable on this CPU, best
// last; tests run all of them.
func gemvTBF16Kernels() []gemvTBF16Impl {
	ks := []gemvTBF16Impl{{"go", gemvTBF16Generic}}
	if hasAVX2 {
		ks = append(ks, gemvTBF16Impl{"avx2", gemvTBF16Asm(8, []gemvTBF16Func{gemvTBF16x1AVX2, gemvTBF16x2AVX2})})
	}
	if hasAVX512 {
		ks = append(ks, gemvTBF16Impl{"avx512", gemvTBF16Asm(16, []gemvTBF16Func{gemvTBF16x1AVX512, gemvTBF16x2AVX512, gemvTBF16x3AVX512, gemvTBF16x4AVX512})})
	}
	return ks
}

// gemvTBF16Asm runs the kernels fs (fs[r-1] handles r rows of A) on blocks
// of up to len(fs) rows over the first k-k%vw elements of each row, and
// adds the products of the last k%vw in Go.
func gemvTBF16Asm(vw int, fs []gemvTBF16Func) gemvTBF16Sig {
	return func(m, n, k int, alpha float32, a []float32, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int) {
		kv := k &^ (vw - 1)
		if kv == 0 {
			gemvTBF16Generic(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
			return
		}
		_ = b[(n-1)*ldb+k-1]
		for i := 0; i < m; i += len(fs) {
			r := min(len(fs), m-i)
			_ = a[(i+r-1)*lda+k-1]
			_ = c[(i+r-1)*ldc+n-1]
			fs[r-1](kv, &a[i*lda], lda, &b[0], ldb, n, &c[i*ldc], ldc, alpha, beta)
		}
		if kv < k {
			// the tail: c += alpha * a[:, kv:] · bf16(b[:, kv:])ᵀ
			gemvTBF16Generic(m, n, k-kv, alpha, a[kv:], lda, b[kv:], ldb, 1, c, ldc)
		}
	}
}
