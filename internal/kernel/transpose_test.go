// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import (
	"fmt"
	"math"
	"testing"
)

func testTranspose[T float](t *testing.T) {
	for _, sz := range [][2]int{{1, 1}, {1, 9}, {9, 1}, {3, 5}, {8, 8}, {4, 8}, {7, 9}, {12, 17}, {33, 65}, {64, 130}, {100, 3}, {257, 31}} {
		rows, cols := sz[0], sz[1]
		for _, pad := range [2]int{0, 3} {
			lds, ldd := cols+pad, rows+2*pad
			name := fmt.Sprintf("%dx%d/pad%d", rows, cols, pad)
			src := make([]T, rows*lds+4)
			for i := range src {
				src[i] = T(i)
			}
			// NaN guards: the padding and the tail of dst must stay NaN.
			dst := make([]T, cols*ldd+4)
			nan := T(math.NaN())
			for i := range dst {
				dst[i] = nan
			}
			Transpose(dst, ldd, src, lds, rows, cols)
			for p := 0; p < cols; p++ {
				for r := 0; r < ldd; r++ {
					got := dst[p*ldd+r]
					if r < rows {
						if want := src[r*lds+p]; got != want {
							t.Fatalf("%s: dst[%d][%d] = %v, want %v", name, p, r, got, want)
						}
					} else if got == got {
						t.Fatalf("%s: padding dst[%d][%d] written", name, p, r)
					}
				}
			}
			for _, v := range dst[cols*ldd:] {
				if v == v {
					t.Fatalf("%s: wrote past the end of dst", name)
				}
			}
		}
	}
}

func TestTranspose(t *testing.T) {
	t.Run("f32", testTranspose[float32])
	t.Run("f64", testTranspose[float64])
}

func TestTransposePanics(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"short dst", func() { Transpose(make([]float32, 5), 2, make([]float32, 6), 3, 2, 3) }},
		{"short src", func() { Transpose(make([]float32, 6), 2, make([]float32, 5), 3, 2, 3) }},
		{"ldd < rows", func() { Transpose(make([]float32, 6), 1, make([]float32, 6), 3, 2, 3) }},
		{"lds < cols", func() { Transpose(make([]float32, 6), 2, make([]float32, 6), 2, 2, 3) }},
	} {
		panicked := func() (p bool) {
			defer func() { p = recover() != nil }()
			tc.f()
			return false
		}()
		if !panicked {
			t.Errorf("%s: no panic", tc.name)
		}
	}
}

func BenchmarkTranspose(b *testing.B) {
	const rows, cols = 4096, 256
	src, dst := randSlice[float32](rows*cols), make([]float32, rows*cols)
	b.SetBytes(8 * rows * cols)
	for b.Loop() {
		Transpose(dst, rows, src, cols, rows, cols)
	}
}
