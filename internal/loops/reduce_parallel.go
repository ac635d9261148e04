package loops

import "github.com/nabla-go/nabla/internal/kernel"

// reduceSplit names the ways reduceParallel splits a reduction of an
// (A, R, B) array between goroutines.
type reduceSplit uint8

const (
	splitOuter reduceSplit = iota // ranges of the A outer blocks (of rows, when B == 1)
	splitCols                     // ranges of the B columns, each over all of R
	splitR                        // pieces of R, whose partial results are then combined
)

// chooseSplit picks how to split an (A, R, B) reduction into parts. The
// outer and column splits give exactly the serial result, so they are
// preferred whenever they are balanced: A a multiple of parts or large
// enough that one block more or less hardly matters, or B wide enough for
// ranges of whole cache lines (ParallelFor rounds the split points down to
// 16 elements). Otherwise (a full reduction, a few long rows, or a few
// narrow blocks) R is cut into pieces.
func chooseSplit(A, B, parts int) reduceSplit {
	switch {
	case A%parts == 0 || A >= 4*parts:
		return splitOuter
	case B >= 64*parts:
		return splitCols
	default:
		return splitR
	}
}

// reduceParallel is Reduce of ArgMax or ArgMin split into parts (at least
// 2) between the kernel's worker goroutines.
//
// dst and src go by value into the closures (they are never reassigned
// here), so the serial path of Reduce allocates nothing.
func reduceParallel[T Real](op ReduceOp, dst, src []T, A, R, B, parts int) {
	switch chooseSplit(A, B, parts) {
	case splitOuter:
		kernel.ParallelParts(A, parts, func(lo, hi int) {
			reduce(op, dst[lo*B:hi*B], src[lo*R*B:hi*R*B], hi-lo, R, B)
		})
	case splitCols:
		kernel.ParallelFor(B, B/parts, func(lo, hi int) {
			reduceCols(op, dst[lo:], src[lo:], A, R, hi-lo, B)
		})
	default:
		reduceSplitR(op, dst, src, A, R, B, parts)
	}
}

// reduceSplitR cuts the R axis of each of the A blocks into k pieces, so
// that the A*k pieces share out evenly between the parts, reduces each
// piece on its own (op is ArgMax or ArgMin), then combines each block's k
// partial results in order on the calling goroutine. The result is the
// serial one exactly: a piece keeps its first extreme (or first NaN) and a
// later piece replaces it only if strictly better, as a later element does
// in the serial loop.
func reduceSplitR[T Real](op ReduceOp, dst, src []T, A, R, B, parts int) {
	k := min(parts/gcd(A, parts), R) // A*k is a multiple of parts unless R is short
	// Piece t covers rows [R*c/k, R*(c+1)/k) of block a = t/k, c = t%k.
	pieces := A * k
	biggest := op == ArgMax
	val, at := make([]T, pieces*B), make([]int, pieces*B)
	kernel.ParallelParts(pieces, parts, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			a, c := t/k, t%k
			r0, r1 := R*c/k, R*(c+1)/k
			argPiece(biggest, val[t*B:t*B+B], at[t*B:t*B+B], src[(a*R+r0)*B:(a*R+r1)*B], r0)
		}
	})
	for a := range A {
		v, w := val[a*k*B:(a+1)*k*B], at[a*k*B:(a+1)*k*B]
		for i := range B {
			m, j := v[i], w[i]
			for c := 1; c < k; c++ {
				if x := v[c*B+i]; better(biggest, x, m) {
					m, j = x, w[c*B+i]
				}
			}
			dst[a*B+i] = T(j)
		}
	}
}

// argPiece sets val and at to the extreme value (max or min, NaN winning)
// of each of the B columns of the (rows, B) array s, with B = len(val),
// and its first index along the rows plus r0.
func argPiece[T Real](max bool, val []T, at []int, s []T, r0 int) {
	B := len(val)
	if B == 1 {
		i := argRow(max, s)
		val[0], at[0] = s[i], r0+i
		return
	}
	copy(val, s[:B])
	for i := range at {
		at[i] = r0
	}
	for r := 1; r*B < len(s); r++ {
		row := s[r*B : r*B+B]
		for i, x := range row {
			if better(max, x, val[i]) {
				val[i], at[i] = x, r0+r
			}
		}
	}
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// reduceValuesParallel is Reduce of Sum, Max or Min split into parts
// between the kernel's workers, if the shape has a split that gives the
// serial result exactly: ranges of the outer blocks or of the columns, or
// for a single row (A = B = 1) pieces whose results combine exactly (the
// extremum of the pieces' extrema; for float32 sums, the blocks of
// sumRowF32, added in order). It reports whether it reduced.
func reduceValuesParallel[T Real](op ReduceOp, dst, src []T, A, R, B, parts int) bool {
	if parts < 2 {
		return false
	}
	switch chooseSplit(A, B, parts) {
	case splitOuter:
		kernel.ParallelParts(A, parts, func(lo, hi int) {
			reduce(op, dst[lo*B:hi*B], src[lo*R*B:hi*R*B], hi-lo, R, B)
		})
		return true
	case splitCols:
		kernel.ParallelFor(B, B/parts, func(lo, hi int) {
			reduceCols(op, dst[lo:], src[lo:], A, R, hi-lo, B)
		})
		return true
	}
	if A != 1 || B != 1 {
		return false
	}
	if op == Sum {
		x, ok := any(src).([]float32)
		if !ok {
			return false
		}
		dst[0] = T(sumRowParallelF32(x[:R], parts))
		return true
	}
	part := make([]T, parts)
	kernel.ParallelParts(parts, parts, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			part[i] = reduceRow(op, src[R*i/parts:R*(i+1)/parts])
		}
	})
	m := part[0]
	for _, v := range part[1:] {
		if better(op == Max, v, m) {
			m = v
		}
	}
	dst[0] = m
	return true
}

// sumBlock is the length of the blocks sumRowF32 sums a long row in.
const sumBlock = 1 << 16

// sumRowF32 returns the sum of x in float64: of each block of sumBlock
// elements (kernel.SumF32F64), then of the blocks' sums in order, so that
// sumRowParallelF32, which sums the blocks on several goroutines, gives
// the same bits.
func sumRowF32(x []float32) float64 {
	if len(x) <= sumBlock {
		return kernel.SumF32F64(x)
	}
	var s float64
	for len(x) > 0 {
		n := min(len(x), sumBlock)
		s += kernel.SumF32F64(x[:n])
		x = x[n:]
	}
	return s
}

// sumRowParallelF32 is sumRowF32 with the blocks shared out in parts.
func sumRowParallelF32(x []float32, parts int) float64 {
	nb := (len(x) + sumBlock - 1) / sumBlock
	if nb < 2 {
		return sumRowF32(x)
	}
	part := make([]float64, nb)
	kernel.ParallelParts(nb, min(parts, nb), func(lo, hi int) {
		for b := lo; b < hi; b++ {
			part[b] = kernel.SumF32F64(x[b*sumBlock : min(len(x), (b+1)*sumBlock)])
		}
	})
	var s float64
	for _, v := range part {
		s += v
	}
	return s
}

// SumOuterInner sets dst[m] to the sum over a < A and i < I of
// src[(a·M + m)·I + i], for m < M: a contiguous (A, M, I) array summed over
// its first and last axes. Each row of I is summed in float64 (as Reduce
// sums rows) and the rows' sums are added in float64 in the order of a, so
// the result is rounded once; the M outputs are split between the
// workers, each computed the same way whoever runs it.
func SumOuterInner[T Float](dst, src []T, A, M, I int) {
	dst, src = dst[:M], src[:A*M*I]
	eachRows(M, A*I, func(lo, hi int) {
		for m := lo; m < hi; m++ {
			var s float64
			for a := range A {
				r := (a*M + m) * I
				s += rowSum64(src[r : r+I])
			}
			dst[m] = T(s)
		}
	})
}

// rowSum64 is the float64 sum of s as reduceRow computes it.
func rowSum64[T Float](s []T) float64 {
	if x, ok := any(s).([]float32); ok {
		return sumRowF32(x)
	}
	return sum64(s)
}
