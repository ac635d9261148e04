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

// Register block of the pure-Go micro-kernel.
const (
	goMR = 4
	goNR = 4
)

// gemmKernelGo is the pure-Go goMR×goNR micro-kernel, with the semantics of
// gemmKernelGeneric.
func gemmKernelGo[T float](k int, a, b, c []T, ldc int, alpha, beta T) {
	var c00, c01, c02, c03 T
	var c10, c11, c12, c13 T
	var c20, c21, c22, c23 T
	var c30, c31, c32, c33 T
	a = a[:k*goMR]
	b = b[:k*goNR]
	for len(a) >= goMR && len(b) >= goNR {
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		a0 := a[0]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 := a[1]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a2 := a[2]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		a3 := a[3]
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
		a = a[goMR:]
		b = b[goNR:]
	}
	storeRow4(c[0*ldc:], alpha, beta, c00, c01, c02, c03)
	storeRow4(c[1*ldc:], alpha, beta, c10, c11, c12, c13)
	storeRow4(c[2*ldc:], alpha, beta, c20, c21, c22, c23)
	storeRow4(c[3*ldc:], alpha, beta, c30, c31, c32, c33)
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
	}
}
