// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import (
	"math"
	"runtime"
	"sync"
)

// Products of float32 activations with bfloat16 weights (a model whose
// weights are kept in bfloat16 to halve their memory). The weights are
// never converted as a whole: with few rows of A (generation, one token
// per sequence) every output is a dot product computed straight from the
// bfloat16 row, widened in registers, so B is streamed once at 2 bytes an
// element; with more rows, blocks of B are widened into a float32 buffer
// and handed to GemmF32, where the widening costs 1/m of the product.
//
// A bfloat16 is the high half of a float32, so widening is exact and the
// products are float32 products: the results equal GemmF32's on the
// widened matrix up to the order of the additions.

// bf16GemvRows is the largest m computed by dot products from the
// bfloat16 rows (for op(B) = Bᵀ); larger products widen blocks of B.
const bf16GemvRows = 8

// bf16Block is the number of elements of B widened at a time: 2 MiB of
// float32, so that each GemmF32 call has hundreds of columns (or rows of
// depth) and packing A again per block costs little. Tests lower it.
var bf16Block = 1 << 19

var bf16Bufs = sync.Pool{New: func() any { s := make([]float32, bf16Block); return &s }}

// bf16Buf returns a buffer of bf16Block elements (and the pool entry).
func bf16Buf() ([]float32, *[]float32) {
	bp := bf16Bufs.Get().(*[]float32)
	if len(*bp) < bf16Block {
		*bp = make([]float32, bf16Block)
	}
	return (*bp)[:bf16Block], bp
}

// GemmF32BF16 computes C = alpha*A*op(B) + beta*C for a row-major float32
// A (m×k, row stride lda) and a row-major B of bfloat16 bit patterns:
// op(B) = Bᵀ with B n×k when transB, else op(B) = B with B k×n. C is m×n
// with row stride ldc. It panics if a slice is too short for its
// dimensions and strides.
func GemmF32BF16(transB bool, m, n, k int, alpha float32, a []float32, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(false, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	if transB && m <= bf16GemvRows {
		gemvTBF16Parallel(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	buf, bp := bf16Buf()
	defer bf16Bufs.Put(bp)
	if transB {
		// Blocks of rows of B are blocks of columns of C.
		rows := max(1, bf16Block/k)
		if rows >= 32 {
			rows &^= 31 // whole panels of the micro-kernels
		}
		for j := 0; j < n; j += rows {
			nb := min(rows, n-j)
			w := buf[:nb*k]
			for r := range nb {
				widenRowBF16(w[r*k:(r+1)*k], b[(j+r)*ldb:(j+r)*ldb+k])
			}
			GemmF32(false, true, m, nb, k, alpha, a, lda, w, k, beta, c[j:], ldc)
		}
		return
	}
	// Blocks of rows of B are blocks of the depth: the first block applies
	// beta, the others accumulate.
	rows := max(1, bf16Block/n)
	for p := 0; p < k; p += rows {
		kb := min(rows, k-p)
		w := buf[:kb*n]
		for r := range kb {
			widenRowBF16(w[r*n:(r+1)*n], b[(p+r)*ldb:(p+r)*ldb+n])
		}
		be := beta
		if p > 0 {
			be = 1
		}
		GemmF32(false, false, m, n, kb, alpha, a[p:], lda, w, n, be, c, ldc)
	}
}

// widenRowBF16 sets dst[i] to the float32 of the bfloat16 bits src[i]:
// the vector kernel for whole vectors, the rest here.
func widenRowBF16(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	for i := WidenBF16(dst, src); i < len(src); i++ {
		dst[i] = math.Float32frombits(uint32(src[i]) << 16)
	}
}

// gemvTBF16Parallel splits the columns of C between the workers in groups
// of four when the product is large enough to pay for it.
func gemvTBF16Parallel(m, n, k int, alpha float32, a []float32, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int) {
	f := func(lo, hi int) {
		gemvTBF16(m, hi-lo, k, alpha, a, lda, b[lo*ldb:], ldb, beta, c[lo:], ldc)
	}
	if m*n*k < gemvParallelThreshold || n < 8 {
		f(0, n)
		return
	}
	// one part per worker: a part per group would queue n/4 work items
	groups := (n + 3) / 4
	ParallelParts(groups, runtime.GOMAXPROCS(0), func(lo, hi int) { f(4*lo, min(4*hi, n)) })
}

// gemvTBF16Generic computes, for i < m and j < n,
//
//	c[i*ldc+j] = alpha*sum_p a[i*lda+p]*bf16(b[j*ldb+p]) (+ beta*c[i*ldc+j] if beta != 0)
//
// It is the pure-Go version and the reference of the assembly kernels.
func gemvTBF16Generic(m, n, k int, alpha float32, a []float32, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int) {
	for i := range m {
		x := a[i*lda : i*lda+k]
		cr := c[i*ldc : i*ldc+n]
		for j := range cr {
			row := b[j*ldb : j*ldb+k]
			var s0, s1 float32
			p := 0
			for ; p+2 <= k; p += 2 {
				s0 += x[p] * math.Float32frombits(uint32(row[p])<<16)
				s1 += x[p+1] * math.Float32frombits(uint32(row[p+1])<<16)
			}
			if p < k {
				s0 += x[p] * math.Float32frombits(uint32(row[p])<<16)
			}
			if beta == 0 {
				cr[j] = alpha * (s0 + s1)
			} else {
				cr[j] = alpha*(s0+s1) + beta*cr[j]
			}
		}
	}
}

// gemvTBF16Sig is the signature of the bfloat16 dot-product kernels.
type gemvTBF16Sig = func(m, n, k int, alpha float32, a []float32, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int)

// gemvTBF16Impl is a named implementation, for tests.
type gemvTBF16Impl struct {
	name string
	fn   gemvTBF16Sig
}

// gemvTBF16 is the best implementation on this CPU.
var gemvTBF16 = func() gemvTBF16Sig { ks := gemvTBF16Kernels(); return ks[len(ks)-1].fn }()
