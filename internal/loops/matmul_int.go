package loops

// Int is the storage element type of the integer dtypes that MatMul runs
// on (Int64, Int32, Uint8).
type Int interface{ ~int64 | ~int32 | ~uint8 }

// Block sizes of MatMulInt: a kc×nc block of b (128×256 int64 values,
// 256 KiB) stays in L2 while every row of a runs over it, and a row of c's
// block (nc values) stays in L1.
const (
	intKC = 128
	intNC = 256
)

// MatMulInt sets c = a·b for integer matrices, wrapping around on overflow
// as Go's (two's complement) integer arithmetic does, which is what
// PyTorch's integer matmul gives. a is m×k with row stride lda, b is k×n
// with row stride ldb (both with unit column stride), c is m×n with row
// stride ldc. Since integer addition is exact modulo 2^bits, the blocking
// does not change the result.
func MatMulInt[T Int](c, a, b []T, m, n, k, lda, ldb, ldc int) {
	for i := range m {
		clear(c[i*ldc : i*ldc+n])
	}
	for j0 := 0; j0 < n; j0 += intNC {
		j1 := min(j0+intNC, n)
		for p0 := 0; p0 < k; p0 += intKC {
			p1 := min(p0+intKC, k)
			for i := range m {
				ci := c[i*ldc+j0 : i*ldc+j1]
				ai := a[i*lda+p0 : i*lda+p1]
				for p, aip := range ai {
					if aip == 0 {
						continue
					}
					bp := b[(p0+p)*ldb+j0:]
					bp = bp[:len(ci)]
					for j, v := range bp {
						ci[j] += aip * v
					}
				}
			}
		}
	}
}
