// Copyright 2025 The nabla Authors. All rights reserved.

package half

import (
	"math"
	"testing"
)

// The slice conversions run internal/kernel's vector kernels on the leading
// whole vectors (on amd64, outside the purego build); these tests check
// that they give exactly the bits of the scalar conversions, NaN payloads
// included. In the purego build they check the scalar loops against
// themselves, which is all there is to run.

// TestVectorWidenEveryPattern widens all 65536 patterns of both formats with
// the slice conversions, on slices whose lengths leave tails of every size,
// and compares the bits with the scalar Float32 methods.
func TestVectorWidenEveryPattern(t *testing.T) {
	src := make([]uint16, 1<<16)
	for i := range src {
		src[i] = uint16(i)
	}
	dst := make([]float32, len(src))
	for _, f := range []struct {
		name  string
		slice func([]float32, []uint16)
		one   func(uint16) float32
	}{
		{"Float16ToFloat32", Float16ToFloat32, func(h uint16) float32 { return Float16(h).Float32() }},
		{"BFloat16ToFloat32", BFloat16ToFloat32, func(h uint16) float32 { return BFloat16(h).Float32() }},
	} {
		// The whole range at once, then pieces of 1 to 40 elements from odd
		// offsets, so that each pattern is once in a vector and once in a
		// tail.
		f.slice(dst, src)
		for lo, n := 1, 1; lo < len(src); lo, n = lo+n, n%40+1 {
			hi := min(lo+n, len(src))
			if lo%7 == 0 {
				f.slice(dst[lo:hi], src[lo:hi])
			}
		}
		for i, h := range src {
			if got, want := math.Float32bits(dst[i]), math.Float32bits(f.one(h)); got != want {
				t.Fatalf("%s(%#04x) = %#08x, scalar %#08x", f.name, h, got, want)
			}
		}
	}
}

// narrowChunk checks the slice narrowing conversions on the float32 with
// bits in src against the scalar ones.
func narrowChunk(t *testing.T, src []float32, dst []uint16) bool {
	for _, f := range []struct {
		name  string
		slice func([]uint16, []float32)
		one   func(float32) uint16
	}{
		{"Float32ToFloat16", Float32ToFloat16, func(x float32) uint16 { return uint16(Float16FromFloat32(x)) }},
		{"Float32ToBFloat16", Float32ToBFloat16, func(x float32) uint16 { return uint16(BFloat16FromFloat32(x)) }},
	} {
		f.slice(dst, src)
		for i, x := range src {
			if want := f.one(x); dst[i] != want {
				t.Errorf("%s(%#08x) = %#04x, scalar %#04x", f.name, math.Float32bits(x), dst[i], want)
				return false
			}
		}
	}
	return true
}

// TestVectorNarrow compares the slice narrowing with the scalar code on
// every float32 under -exhaustive (106 s on a loaded machine), and otherwise on 2^25 of
// them: every top-24-bit pattern with the low 8 bits zero (every exact tie
// of both formats) and with them scrambled (under the race detector every
// 16th top-24-bit pattern). The chunk length, 4093, leaves a tail.
func TestVectorNarrow(t *testing.T) {
	const chunk = 4093
	src := make([]float32, chunk)
	dst := make([]uint16, chunk)
	n := 0
	flush := func() bool {
		ok := narrowChunk(t, src[:n], dst[:n])
		n = 0
		return ok
	}
	add := func(b uint32) bool {
		src[n] = math.Float32frombits(b)
		if n++; n == chunk {
			return flush()
		}
		return true
	}
	if *exhaustive {
		for b := range uint64(1 << 32) {
			if !add(uint32(b)) {
				return
			}
		}
		flush()
		return
	}
	step := uint32(1)
	if raceEnabled {
		step = 16
	}
	for i := uint32(0); i < 1<<24; i += step {
		if !add(i<<8) || !add(i<<8|(i*2654435761)>>24) {
			return
		}
	}
	flush()
}

// TestVectorNaNs pins the NaN handling of the slice conversions on whole
// vectors: signaling and quiet NaNs of both signs with payloads in the
// kept and the dropped bits.
func TestVectorNaNs(t *testing.T) {
	bits := []uint32{0x7f800001, 0xff800001, 0x7fc00000, 0xffc00000, 0x7f802000, 0x7fbfffff, 0x7fffffff, 0xffa5a5a5,
		0x7f810000, 0x7f801fff, 0x7fe00001, 0x7f800000, 0xff800000, 0x00000001, 0x80000001, 0x387fe000}
	src := make([]float32, 32)
	for i := range src {
		src[i] = math.Float32frombits(bits[i%len(bits)])
	}
	if !narrowChunk(t, src, make([]uint16, len(src))) {
		return
	}
	h := []uint16{0x7c01, 0xfc01, 0x7e00, 0x7dff, 0x7fff, 0xfd55, 0x7f81, 0xff81, 0x7fc0, 0x7f80, 0x0001, 0x8001, 0x03ff, 0x7bff, 0xfbff, 0x8000}
	w := make([]float32, len(h))
	Float16ToFloat32(w, h)
	for i, x := range h {
		if got, want := math.Float32bits(w[i]), math.Float32bits(Float16(x).Float32()); got != want {
			t.Errorf("Float16ToFloat32(%#04x) = %#08x, scalar %#08x", x, got, want)
		}
	}
	BFloat16ToFloat32(w, h)
	for i, x := range h {
		if got, want := math.Float32bits(w[i]), math.Float32bits(BFloat16(x).Float32()); got != want {
			t.Errorf("BFloat16ToFloat32(%#04x) = %#08x, scalar %#08x", x, got, want)
		}
	}
}

// BenchmarkConvert compares the slice conversions (vector kernels where
// there are any) with the scalar loops they replaced, in MB/s of float32.
func BenchmarkConvert(b *testing.B) {
	f := make([]float32, 4096)
	h := make([]uint16, len(f))
	for i := range f {
		f[i] = float32(i) * 0.37
		h[i] = uint16(i * 7)
	}
	for _, c := range []struct {
		name           string
		vector, scalar func()
	}{
		{"Float32ToFloat16", func() { Float32ToFloat16(h, f) }, func() {
			for i, x := range f {
				h[i] = uint16(Float16FromFloat32(x))
			}
		}},
		{"Float16ToFloat32", func() { Float16ToFloat32(f, h) }, func() {
			for i, x := range h {
				f[i] = Float16(x).Float32()
			}
		}},
		{"Float32ToBFloat16", func() { Float32ToBFloat16(h, f) }, func() {
			for i, x := range f {
				h[i] = uint16(BFloat16FromFloat32(x))
			}
		}},
		{"BFloat16ToFloat32", func() { BFloat16ToFloat32(f, h) }, func() {
			for i, x := range h {
				f[i] = BFloat16(x).Float32()
			}
		}},
	} {
		for _, v := range []struct {
			kind string
			run  func()
		}{{"scalar", c.scalar}, {"vector", c.vector}} {
			b.Run(c.name+"/"+v.kind, func(b *testing.B) {
				b.SetBytes(int64(4 * len(f)))
				for b.Loop() {
					v.run()
				}
			})
		}
	}
}
