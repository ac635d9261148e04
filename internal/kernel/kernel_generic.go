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

// Register block of the pure-Go micro-kernel. Go keeps at most 15 floats in
// registers, and its scheduler hoists loads and products; 2×4 with the depth
// loop unrolled twice is the fastest shape measured.
const (
	goMR = 2
	goNR = 4
)

// gemmKernelGo is the pure-Go goMR×goNR micro-kernel, with the semantics of
// gemmKernelGeneric.
func gemmKernelGo[T float](k int, a, b, c []T, ldc int, alpha, beta T) {
	var c00, c01, c02, c03, c10, c11, c12, c13 T
	a = a[:goMR*k]
	b = b[:goNR*k]
	p := 0
	for ; p+2 <= k; p += 2 {
		aa := (*[2 * goMR]T)(a[goMR*p:])
		bb := (*[2 * goNR]T)(b[goNR*p:])
		c00 += aa[0]*bb[0] + aa[2]*bb[4]
		c01 += aa[0]*bb[1] + aa[2]*bb[5]
		c02 += aa[0]*bb[2] + aa[2]*bb[6]
		c03 += aa[0]*bb[3] + aa[2]*bb[7]
		c10 += aa[1]*bb[0] + aa[3]*bb[4]
		c11 += aa[1]*bb[1] + aa[3]*bb[5]
		c12 += aa[1]*bb[2] + aa[3]*bb[6]
		c13 += aa[1]*bb[3] + aa[3]*bb[7]
	}
	if p < k {
		aa := (*[goMR]T)(a[goMR*p:])
		bb := (*[goNR]T)(b[goNR*p:])
		c00 += aa[0] * bb[0]
		c01 += aa[0] * bb[1]
		c02 += aa[0] * bb[2]
		c03 += aa[0] * bb[3]
		c10 += aa[1] * bb[0]
		c11 += aa[1] * bb[1]
		c12 += aa[1] * bb[2]
		c13 += aa[1] * bb[3]
	}
	storeRow4(c[0:], alpha, beta, c00, c01, c02, c03)
	storeRow4(c[ldc:], alpha, beta, c10, c11, c12, c13)
}

func storeRow4[T float](c []T, alpha, beta, s0, s1, s2, s3 T) {
	c = c[:4]
	if beta == 0 {
		c[0], c[1], c[2], c[3] = alpha*s0, alpha*s1, alpha*s2, alpha*s3
		return
	}
	c[0] = alpha*s0 + beta*c[0]
	c[1] = alpha*s1 + beta*c[1]
	c[2] = alpha*s2 + beta*c[2]
	c[3] = alpha*s3 + beta*c[3]
}

// goKernel returns the pure-Go micro-kernel descriptor.
func goKernel[T float]() *microKernel[T] {
	return &microKernel[T]{
		name: "go",
		mr:   goMR, nr: goNR,
		fn: gemmKernelGo[T],
		kc: 256, mc: 512, nc: 512,
		smallM: 4, smallMT: 4, gemvT: gemvTGeneric[T], axpy: axpyGeneric[T],
	}
}
