package loops

import (
	"math"
	"math/rand/v2"
	"testing"
)

// naiveMatMul is the textbook triple loop, in the order of the definition.
func naiveMatMul[T Int](a, b []T, m, n, k, lda, ldb int) []T {
	c := make([]T, m*n)
	for i := range m {
		for j := range n {
			var s T
			for p := range k {
				s += a[i*lda+p] * b[p*ldb+j]
			}
			c[i*n+j] = s
		}
	}
	return c
}

func checkMatMulInt[T Int](t *testing.T, name string, r *rand.Rand, gen func() T) {
	// Sizes around the block sizes, and row strides wider than the rows.
	for _, sz := range [][3]int{{1, 1, 1}, {3, 5, 7}, {2, 300, 130}, {17, 257, 129}, {4, 0, 3}, {0, 4, 3}, {5, 6, 0}} {
		m, n, k := sz[0], sz[1], sz[2]
		lda, ldb, ldc := k+3, n+1, n+2
		a := make([]T, m*lda)
		b := make([]T, k*ldb)
		for i := range a {
			a[i] = gen()
		}
		for i := range b {
			b[i] = gen()
		}
		c := make([]T, m*ldc)
		for i := range c {
			c[i] = 99 // overwritten, not added to
		}
		MatMulInt(c, a, b, m, n, k, lda, ldb, ldc)
		want := naiveMatMul(a, b, m, n, k, lda, ldb)
		for i := range m {
			for j := range n {
				if c[i*ldc+j] != want[i*n+j] {
					t.Fatalf("%s %v: c[%d,%d] = %v, want %v", name, sz, i, j, c[i*ldc+j], want[i*n+j])
				}
			}
			for j := n; j < ldc && i*ldc+j < len(c); j++ {
				if c[i*ldc+j] != 99 {
					t.Fatalf("%s %v: wrote c[%d,%d] beyond the row", name, sz, i, j)
				}
			}
		}
	}
}

// TestMatMulInt checks the blocked loop against the triple loop, with values
// that overflow every type (so the wrap-around is exercised) and zeros.
func TestMatMulInt(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	checkMatMulInt(t, "int64", r, func() int64 {
		if r.IntN(5) == 0 {
			return 0
		}
		return int64(r.Uint64())
	})
	checkMatMulInt(t, "int32", r, func() int32 { return int32(r.Uint32()) })
	checkMatMulInt(t, "uint8", r, func() uint8 { return uint8(r.Uint32()) })

	// 2^62 · 2 + 2^62 · 2 wraps to 0 in int64.
	c := make([]int64, 1)
	MatMulInt(c, []int64{1 << 62, 1 << 62}, []int64{2, 2}, 1, 1, 2, 2, 1, 1)
	if c[0] != 0 {
		t.Errorf("int64 overflow: got %d, want 0", c[0])
	}
	c[0] = 0
	MatMulInt(c, []int64{math.MaxInt64}, []int64{2}, 1, 1, 1, 1, 1, 1)
	if c[0] != -2 {
		t.Errorf("MaxInt64·2: got %d, want -2", c[0])
	}
}
