// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

// gemmKernelGeneric is the reference micro-kernel: it computes the mr×nr tile
//
//	c[i*ldc+j] = alpha*sum_p a[p*mr+i]*b[p*nr+j] (+ beta*c[i*ldc+j] if beta != 0)
//
// from a packed mr×k panel of A and a packed k×nr panel of B.
func gemmKernelGeneric[T float](mr, nr, k int, a, b, c []T, ldc int, alpha, beta T) {
	a = a[:mr*k]
	b = b[:nr*k]
	for i := 0; i < mr; i++ {
		row := c[i*ldc : i*ldc+nr]
		for j := range row {
			var s T
			for p := 0; p < k; p++ {
				s += a[p*mr+i] * b[p*nr+j]
			}
			if beta == 0 {
				row[j] = alpha * s
			} else {
				row[j] = alpha*s + beta*row[j]
			}
		}
	}
}

// Register block of the pure-Go micro-kernel. Go's amd64 compiler keeps at
// most 15 floats in registers (X15 is reserved) and emits scalar SSE, where a
// multiply-add costs three instructions (a load or register copy, MULSS,
// ADDSS): the instruction rate (about 4.5 a cycle on Zen 4), not the
// accumulator chains or the loop overhead, is the limit. A 2×3 tile holds 6
// accumulators and at most 2 values of A and 2 of B with their copies, so
// the scheduler's reordering of the unrolled body never spills; 2×4 and 2×6
// spill, 3×4 and 1×N are slower. The depth loop is unrolled 8 times and
// advances the slices rather than indexing them, which leaves no bounds
// check in its body. Measured on Zen 4 (1024³, one core, GFLOP/s): 2×3 10.7;
// 2×3 indexed 9.9; 2×3 unrolled 4 times 9.4, 12 or 16 times 9.8; 1×6 10.0;
// 1×10 9.8; the former 2×4 unrolled twice 6.9.
const (
	goMR = 2
	goNR = 3
	goKU = 8 // depth unrolling
)

// gemmKernelGo is the pure-Go goMR×goNR micro-kernel, with the semantics of
// gemmKernelGeneric.
func gemmKernelGo[T float](k int, a, b, c []T, ldc int, alpha, beta T) {
	var c00, c01, c02, c10, c11, c12 T
	a = a[:goMR*k]
	b = b[:goNR*k]
	for len(a) >= goKU*goMR && len(b) >= goKU*goNR {
		aa := (*[goKU * goMR]T)(a)
		bb := (*[goKU * goNR]T)(b)
		c00 += aa[0] * bb[0]
		c01 += aa[0] * bb[1]
		c02 += aa[0] * bb[2]
		c10 += aa[1] * bb[0]
		c11 += aa[1] * bb[1]
		c12 += aa[1] * bb[2]
		c00 += aa[2] * bb[3]
		c01 += aa[2] * bb[4]
		c02 += aa[2] * bb[5]
		c10 += aa[3] * bb[3]
		c11 += aa[3] * bb[4]
		c12 += aa[3] * bb[5]
		c00 += aa[4] * bb[6]
		c01 += aa[4] * bb[7]
		c02 += aa[4] * bb[8]
		c10 += aa[5] * bb[6]
		c11 += aa[5] * bb[7]
		c12 += aa[5] * bb[8]
		c00 += aa[6] * bb[9]
		c01 += aa[6] * bb[10]
		c02 += aa[6] * bb[11]
		c10 += aa[7] * bb[9]
		c11 += aa[7] * bb[10]
		c12 += aa[7] * bb[11]
		c00 += aa[8] * bb[12]
		c01 += aa[8] * bb[13]
		c02 += aa[8] * bb[14]
		c10 += aa[9] * bb[12]
		c11 += aa[9] * bb[13]
		c12 += aa[9] * bb[14]
		c00 += aa[10] * bb[15]
		c01 += aa[10] * bb[16]
		c02 += aa[10] * bb[17]
		c10 += aa[11] * bb[15]
		c11 += aa[11] * bb[16]
		c12 += aa[11] * bb[17]
		c00 += aa[12] * bb[18]
		c01 += aa[12] * bb[19]
		c02 += aa[12] * bb[20]
		c10 += aa[13] * bb[18]
		c11 += aa[13] * bb[19]
		c12 += aa[13] * bb[20]
		c00 += aa[14] * bb[21]
		c01 += aa[14] * bb[22]
		c02 += aa[14] * bb[23]
		c10 += aa[15] * bb[21]
		c11 += aa[15] * bb[22]
		c12 += aa[15] * bb[23]
		a = a[goKU*goMR:]
		b = b[goKU*goNR:]
	}
	for len(a) >= goMR && len(b) >= goNR {
		aa := (*[goMR]T)(a)
		bb := (*[goNR]T)(b)
		c00 += aa[0] * bb[0]
		c01 += aa[0] * bb[1]
		c02 += aa[0] * bb[2]
		c10 += aa[1] * bb[0]
		c11 += aa[1] * bb[1]
		c12 += aa[1] * bb[2]
		a = a[goMR:]
		b = b[goNR:]
	}
	storeRow3(c[0:], alpha, beta, c00, c01, c02)
	storeRow3(c[ldc:], alpha, beta, c10, c11, c12)
}

func storeRow3[T float](c []T, alpha, beta, s0, s1, s2 T) {
	c = c[:3]
	if beta == 0 {
		c[0], c[1], c[2] = alpha*s0, alpha*s1, alpha*s2
		return
	}
	c[0] = alpha*s0 + beta*c[0]
	c[1] = alpha*s1 + beta*c[1]
	c[2] = alpha*s2 + beta*c[2]
}

// goKernel returns the pure-Go micro-kernel descriptor.
func goKernel[T float]() *microKernel[T] {
	return &microKernel[T]{
		name: "go",
		mr:   goMR, nr: goNR,
		fn: gemmKernelGo[T],
		kc: 256, mc: 512, nc: 510, // nc: a multiple of goNR
		smallM: 4, smallMT: 4, gemvT: gemvTGeneric[T], axpy: axpyGeneric[T],
	}
}
