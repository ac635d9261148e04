// Copyright 2025 The nabla Authors. All rights reserved.

//go:build amd64 && !purego

package kernel

import (
	"math"
	"testing"
)

// TestHalfConvAVX2MatchesAVX512 checks that the 8- and 16-lane conversion
// kernels give the same bits, over every 16-bit pattern and 2^24 float32
// (every top-24-bit pattern, low bits scrambled; every 16th under -race).
// internal/half checks the kernel in use (the AVX-512 one where there is
// AVX-512) against the scalar code over every float32, so this carries
// that check over to the AVX2 kernels.
func TestHalfConvAVX2MatchesAVX512(t *testing.T) {
	if !hasF16C {
		t.Skip("no F16C/AVX2")
	}
	h := make([]uint16, 1<<16)
	for i := range h {
		h[i] = uint16(i)
	}
	w8, w16 := make([]float32, len(h)), make([]float32, len(h))
	widenF16AVX2(w8, h)
	if n := WidenF16(w16, h); n != len(h) {
		t.Fatalf("WidenF16 converted %d of %d", n, len(h))
	}
	same32 := func(name string, a, b []float32) {
		t.Helper()
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%s [%d]: %#08x and %#08x", name, i, math.Float32bits(a[i]), math.Float32bits(b[i]))
			}
		}
	}
	same32("widenF16", w8, w16)
	widenBF16AVX2(w8, h)
	WidenBF16(w16, h)
	same32("widenBF16", w8, w16)
	if !hasAVX512 {
		t.Skip("no AVX-512: the exported functions are the AVX2 kernels")
	}
	widenF16AVX512(w16, h)
	widenF16AVX2(w8, h)
	same32("widenF16 AVX512", w8, w16)
	widenBF16AVX512(w16, h)
	widenBF16AVX2(w8, h)
	same32("widenBF16 AVX512", w8, w16)

	step := uint32(1)
	if raceEnabled {
		step = 16
	}
	const chunk = 1 << 12
	f := make([]float32, chunk)
	n8, n16 := make([]uint16, chunk), make([]uint16, chunk)
	for i0 := uint32(0); i0 < 1<<24; i0 += chunk * step {
		for j := range f {
			i := i0 + uint32(j)*step
			f[j] = math.Float32frombits(i<<8 | (i*2654435761)>>24)
		}
		for _, k := range []struct {
			name      string
			avx2, avx func(dst []uint16, src []float32)
		}{{"narrowF16", narrowF16AVX2, narrowF16AVX512}, {"narrowBF16", narrowBF16AVX2, narrowBF16AVX512}} {
			k.avx2(n8, f)
			k.avx(n16, f)
			for j := range f {
				if n8[j] != n16[j] {
					t.Fatalf("%s(%#08x): AVX2 %#04x, AVX512 %#04x", k.name, math.Float32bits(f[j]), n8[j], n16[j])
				}
			}
		}
	}
}

// TestHalfConvPrefix checks the lengths the exported functions convert:
// whole vectors, the rest left to the caller untouched.
func TestHalfConvPrefix(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 15, 16, 17, 37, 64} {
		src := make([]float32, n)
		for i := range src {
			src[i] = float32(i) + 0.5
		}
		dst := make([]uint16, n)
		for i := range dst {
			dst[i] = 0xdead
		}
		got := NarrowF16(dst, src)
		if want := halfPrefix(n); got != want || want%8 != 0 || want > n || hasF16C && n-want >= halfWidth {
			t.Errorf("NarrowF16 on %d converted %d (width %d)", n, got, halfWidth)
		}
		for i := got; i < n; i++ {
			if dst[i] != 0xdead {
				t.Errorf("NarrowF16 on %d wrote element %d beyond its prefix %d", n, i, got)
			}
		}
		// i + 0.5 is exact in binary16 below 1024, so it comes back.
		back := make([]float32, got)
		if WidenF16(back, dst[:got]) != got {
			t.Errorf("WidenF16 on %d did not convert all of them", got)
		}
		for i := range back {
			if back[i] != src[i] {
				t.Errorf("NarrowF16 then WidenF16 of %v gave %v", src[i], back[i])
			}
		}
	}
}
