// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

// Transpose writes the transpose of the rows×cols matrix src (row stride
// lds) into dst (row stride ldd):
//
//	for r := 0; r < rows; r++ {
//		for p := 0; p < cols; p++ {
//			dst[p*ldd+r] = src[r*lds+p]
//		}
//	}
//
// It works in tiles that fit the L1 cache, so that neither side is walked
// with a large stride, and float32 tiles go through the AVX2 8×8 block
// kernels that pack GEMM's panels. It panics if a slice is too short;
// dst and src must not overlap.
func Transpose[T any](dst []T, ldd int, src []T, lds int, rows, cols int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	if ldd < rows || lds < cols {
		panic("kernel: Transpose: stride smaller than the row length")
	}
	_ = src[(rows-1)*lds+cols-1]
	_ = dst[(cols-1)*ldd+rows-1]
	// A 32×64 tile reads 8 KiB and writes 8 KiB.
	const tr, tc = 32, 64
	for r0 := 0; r0 < rows; r0 += tr {
		nr := min(tr, rows-r0)
		for p0 := 0; p0 < cols; p0 += tc {
			np := min(tc, cols-p0)
			transposeTile(dst[p0*ldd+r0:], ldd, src[r0*lds+p0:], lds, nr, np)
		}
	}
}

// transposeTile is Transpose of one tile.
func transposeTile[T any](dst []T, ldd int, src []T, lds, rows, cols int) {
	if d, ok := any(dst).([]float32); ok {
		rd, pd := transposeF32(d, ldd, any(src).([]float32), lds, rows, cols)
		if pd > 0 {
			transposeRows(dst, ldd, src, lds, 0, rd, pd, cols)
			transposeRows(dst, ldd, src, lds, rd, rows, 0, cols)
			return
		}
	}
	transposeRows(dst, ldd, src, lds, 0, rows, 0, cols)
}
