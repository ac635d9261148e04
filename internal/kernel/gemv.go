// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

// Products with few rows of op(A) (a matrix-vector product, or a handful of
// them, as in inference at batch 1) do not pay for packing: packing B costs
// as much as the product itself when each element of B is used m < mr
// times. They are computed directly on the unpacked operands instead.
//
// With op(B) = Bᵀ the rows of B are contiguous, so every element of C is a
// dot product of a row of A with a row of B (gemvT). Without the transpose
// every row of C is a combination of rows of B, accumulated with axpy
// (gemvN).

// smallMTElems is the largest B (n×k elements) that microKernel.smallMT
// applies to: B must stay in the L2 cache between blocks of rows of A.
const smallMTElems = 1 << 18

// gemvTGeneric computes, for i < m and j < n,
//
//	c[i*ldc+j] = alpha*sum_p a[i*lda+p]*b[j*ldb+p] (+ beta*c[i*ldc+j] if beta != 0)
//
// reading each row of A once per four rows of B. It requires k > 0 and
// slices long enough for the strides.
func gemvTGeneric[T float](m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	for i := 0; i < m; i++ {
		x := a[i*lda : i*lda+k]
		cr := c[i*ldc : i*ldc+n]
		j := 0
		for ; j+4 <= n; j += 4 {
			b0 := b[j*ldb : j*ldb+k]
			b1 := b[(j+1)*ldb : (j+1)*ldb+k]
			b2 := b[(j+2)*ldb : (j+2)*ldb+k]
			b3 := b[(j+3)*ldb : (j+3)*ldb+k]
			var s0, s1, s2, s3 T
			for p, v := range x {
				s0 += v * b0[p]
				s1 += v * b1[p]
				s2 += v * b2[p]
				s3 += v * b3[p]
			}
			q := (*[4]T)(cr[j:])
			if beta == 0 {
				q[0], q[1], q[2], q[3] = alpha*s0, alpha*s1, alpha*s2, alpha*s3
			} else {
				q[0] = alpha*s0 + beta*q[0]
				q[1] = alpha*s1 + beta*q[1]
				q[2] = alpha*s2 + beta*q[2]
				q[3] = alpha*s3 + beta*q[3]
			}
		}
		for ; j < n; j++ {
			b0 := b[j*ldb : j*ldb+k]
			var s0, s1 T
			p := 0
			for ; p+2 <= k; p += 2 {
				s0 += x[p] * b0[p]
				s1 += x[p+1] * b0[p+1]
			}
			if p < k {
				s0 += x[p] * b0[p]
			}
			s := s0 + s1
			if beta == 0 {
				cr[j] = alpha * s
			} else {
				cr[j] = alpha*s + beta*cr[j]
			}
		}
	}
}

// axpyGeneric sets y[i] += alpha * x[i].
func axpyGeneric[T float](alpha T, x, y []T) {
	x = x[:len(y)]
	for i := range y {
		y[i] += alpha * x[i]
	}
}

// gemvN computes C = alpha*op(A)*B + beta*C for B not transposed, one row of
// C at a time: C[i,:] = beta*C[i,:] + sum_p (alpha*op(A)[i,p]) * B[p,:],
// accumulated with axpy. It requires k > 0 and alpha != 0.
func gemvN[T float](axpy func(alpha T, x, y []T), transA bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	for i := 0; i < m; i++ {
		cr := c[i*ldc : i*ldc+n]
		scaleC(1, n, beta, cr, n)
		ai, as := i*lda, 1 // op(A)[i][p] = a[ai+p*as]
		if transA {
			ai, as = i, lda
		}
		for p := 0; p < k; p++ {
			axpy(alpha*a[ai+p*as], b[p*ldb:p*ldb+n], cr)
		}
	}
}
