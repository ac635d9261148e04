// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import (
	"fmt"
	"math"
	"testing"
)

// TestTransposePanel checks transposePanel (whose float32 bulk runs in
// assembly) against its reference loop, with the destination zero padded
// and nothing written past the panel.
func TestTransposePanel(t *testing.T) {
	for _, w := range []int{4, 6, 12, 16, 32} {
		for _, rows := range []int{1, 3, 4, 5, 7, 8, 9, 12, 13, 16, 31, 32} {
			if rows > w {
				continue
			}
			for _, kb := range []int{1, 7, 8, 9, 16, 17, 100} {
				ld := kb + 3
				name := fmt.Sprintf("w=%d rows=%d kb=%d", w, rows, kb)
				src := make([]float32, (rows-1)*ld+kb)
				for i := range src {
					src[i] = float32(i)
				}
				buf := make([]float32, w*kb+2*elemGuard)
				for i := range buf {
					buf[i] = float32(math.NaN())
				}
				dst := buf[elemGuard : elemGuard+w*kb]
				transposePanel(dst, w, src, ld, rows, kb)
				for p := 0; p < kb; p++ {
					for r := 0; r < w; r++ {
						var want float32
						if r < rows {
							want = src[r*ld+p]
						}
						if got := dst[p*w+r]; got != want {
							t.Fatalf("%s: dst[%d*w+%d]: got %v; want %v", name, p, r, got, want)
						}
					}
				}
				checkVecGuards(t, name, buf)
			}
		}
	}
}

func BenchmarkTransposePanel(b *testing.B) {
	for _, w := range []int{12, 32} {
		const kb = 196
		src := randSlice[float32](w * 784)
		dst := make([]float32, w*kb)
		b.Run(fmt.Sprintf("w=%d", w), func(b *testing.B) {
			b.SetBytes(int64(4 * w * kb))
			for b.Loop() {
				transposePanel(dst, w, src, 784, w, kb)
			}
		})
	}
}

func BenchmarkCopyPanel(b *testing.B) {
	for _, w := range []int{12, 32} {
		const kb = 128
		src := randSlice[float32](kb * 784)
		dst := make([]float32, w*kb)
		b.Run(fmt.Sprintf("w=%d", w), func(b *testing.B) {
			b.SetBytes(int64(4 * w * kb))
			for b.Loop() {
				copyPanel(dst, w, src, 784, kb, w)
			}
		})
	}
}
