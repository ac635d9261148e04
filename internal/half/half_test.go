// Copyright 2025 The nabla Authors. All rights reserved.

package half

import (
	"flag"
	"math"
	"testing"
)

var exhaustive = flag.Bool("exhaustive", false, "check the narrowing conversions on every float32")

// format describes a 16-bit format for the float64 reference.
type format struct {
	name       string
	mbits      int // explicit mantissa bits
	emin, emax int // exponent range of the normal numbers
	narrow     func(float32) uint16
	widen      func(uint16) float32
}

var formats = []format{
	{"Float16", 10, -14, 15,
		func(f float32) uint16 { return uint16(Float16FromFloat32(f)) },
		func(h uint16) float32 { return Float16(h).Float32() }},
	{"BFloat16", 7, -126, 127,
		func(f float32) uint16 { return uint16(BFloat16FromFloat32(f)) },
		func(h uint16) float32 { return BFloat16(h).Float32() }},
}

// refRound rounds x to the nearest value of the format, ties to even, in
// float64 arithmetic (exact here: x is a float32 and the quanta are powers
// of two), independently of the bit manipulations under test.
func (f format) refRound(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) || x == 0 {
		return x
	}
	a := math.Abs(x)
	_, e := math.Frexp(a) // a = frac * 2^e, frac in [0.5, 1)
	ex := max(e-1, f.emin)
	q := math.Ldexp(1, ex-f.mbits)
	r := math.RoundToEven(a/q) * q
	if r >= math.Ldexp(1, f.emax+1) {
		r = math.Inf(1)
	}
	return math.Copysign(r, x)
}

// refValue decodes the bit pattern h of the format by its definition.
func (f format) refValue(h uint16) float64 {
	ebits := 15 - f.mbits
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>f.mbits) & (1<<ebits - 1)
	man := float64(h & (1<<f.mbits - 1))
	bias := 1<<(ebits-1) - 1
	switch exp {
	case 0:
		return sign * math.Ldexp(man, 1-bias-f.mbits)
	case 1<<ebits - 1:
		if man != 0 {
			return math.NaN()
		}
		return sign * math.Inf(1)
	}
	return sign * math.Ldexp(man+math.Ldexp(1, f.mbits), exp-bias-f.mbits)
}

func sameFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b && math.Signbit(a) == math.Signbit(b)
}

// TestEveryBitPattern widens each of the 65536 patterns of both formats,
// checks the value against the format's definition, and narrows it back to
// the same pattern (a NaN to a NaN).
func TestEveryBitPattern(t *testing.T) {
	for _, f := range formats {
		bad := 0
		for i := range 1 << 16 {
			h := uint16(i)
			w := f.widen(h)
			if want := f.refValue(h); !sameFloat(float64(w), want) {
				if bad++; bad < 5 {
					t.Errorf("%s(%#04x).Float32() = %v, want %v", f.name, h, w, want)
				}
				continue
			}
			back := f.narrow(w)
			if math.IsNaN(float64(w)) {
				if !math.IsNaN(float64(f.widen(back))) {
					t.Errorf("%s NaN %#04x came back as %#04x, not a NaN", f.name, h, back)
				}
				continue
			}
			if back != h {
				if bad++; bad < 5 {
					t.Errorf("%s: %#04x -> %v -> %#04x", f.name, h, w, back)
				}
			}
		}
	}
}

// checkNarrow compares narrowing of the float32 with bits b to the float64
// reference; it returns false on a mismatch.
func checkNarrow(t *testing.T, f format, b uint32) bool {
	x := math.Float32frombits(b)
	got := float64(f.widen(f.narrow(x)))
	want := f.refRound(float64(x))
	if !sameFloat(got, want) {
		t.Errorf("%s(%v = %#08x) = %v, want %v", f.name, x, b, got, want)
		return false
	}
	return true
}

// TestNarrowSampled checks narrowing against the reference on 2^25 float32:
// every combination of the top 24 bits, once with the low 8 bits zero (which
// includes every exact tie of both formats, whose rounding bit is bit 12 or
// higher) and once with them scrambled. -exhaustive checks all 2^32.
func TestNarrowSampled(t *testing.T) {
	if *exhaustive {
		t.Skip("TestNarrowExhaustive covers it")
	}
	// Under the race detector, which makes these loops 30 times slower and
	// has nothing to find in them, every 16th top-24-bit pattern.
	step := uint32(1)
	if raceEnabled {
		step = 16
	}
	for _, f := range formats {
		bad := 0
		for i := uint32(0); i < 1<<24; i += step {
			for _, low := range [2]uint32{0, (i * 2654435761) >> 24} {
				if !checkNarrow(t, f, i<<8|low) {
					bad++
				}
			}
			if bad > 5 {
				t.Fatal("too many mismatches")
			}
		}
	}
}

// TestNarrowExhaustive checks narrowing on every float32 (run with
// -exhaustive; about a minute per format).
func TestNarrowExhaustive(t *testing.T) {
	if !*exhaustive {
		t.Skip("run with -exhaustive")
	}
	for _, f := range formats {
		bad := 0
		for b := range uint64(1 << 32) {
			if !checkNarrow(t, f, uint32(b)) {
				if bad++; bad > 5 {
					t.Fatal("too many mismatches")
				}
			}
		}
	}
}

// TestKnownValues pins bit patterns worked out independently: binary16 with
// Python's struct "e" format, bfloat16 by hand from the float32 bits.
func TestKnownValues(t *testing.T) {
	cases := []struct {
		x         float32
		f16, bf16 uint16
	}{
		{1, 0x3c00, 0x3f80},
		{-2, 0xc000, 0xc000},
		{0.1, 0x2e66, 0x3dcd},
		{65504, 0x7bff, 0x4780},
		{65519, 0x7bff, 0x4780},
		{65520, 0x7c00, 0x4780},
		{1e-8, 0x0000, 0x322c},
		{6e-8, 0x0001, 0x3381},
		{float32(math.Inf(-1)), 0xfc00, 0xff80},
		{math.MaxFloat32, 0x7c00, 0x7f80},
		{float32(math.Copysign(0, -1)), 0x8000, 0x8000},
	}
	for _, c := range cases {
		if got := uint16(Float16FromFloat32(c.x)); got != c.f16 {
			t.Errorf("Float16FromFloat32(%v) = %#04x, want %#04x", c.x, got, c.f16)
		}
		if got := uint16(BFloat16FromFloat32(c.x)); got != c.bf16 {
			t.Errorf("BFloat16FromFloat32(%v) = %#04x, want %#04x", c.x, got, c.bf16)
		}
	}
	nan := float32(math.NaN())
	if h := Float16FromFloat32(nan); !math.IsNaN(float64(h.Float32())) || h&0x200 == 0 {
		t.Errorf("Float16 of NaN = %#04x, want a quiet NaN", h)
	}
	if h := BFloat16FromFloat32(nan); !math.IsNaN(float64(h.Float32())) || h&0x40 == 0 {
		t.Errorf("BFloat16 of NaN = %#04x, want a quiet NaN", h)
	}
	// A NaN whose payload lives only in the low bits must not become Inf.
	low := math.Float32frombits(0x7f800001)
	if h := Float16FromFloat32(low); !math.IsNaN(float64(h.Float32())) {
		t.Errorf("Float16 of NaN 0x7f800001 = %#04x, not a NaN", h)
	}
	if h := BFloat16FromFloat32(low); !math.IsNaN(float64(h.Float32())) {
		t.Errorf("BFloat16 of NaN 0x7f800001 = %#04x, not a NaN", h)
	}
}

// TestSlices checks the bulk conversions against the scalar ones.
func TestSlices(t *testing.T) {
	src := []float32{0, 1, -1.5, 0.1, 65520, 1e-6, float32(math.Inf(1)), 3.14159}
	h := make([]uint16, len(src)+1)
	w := make([]float32, len(src)+1)
	Float32ToFloat16(h, src)
	Float16ToFloat32(w, h[:len(src)])
	for i, x := range src {
		if h[i] != uint16(Float16FromFloat32(x)) || w[i] != Float16(h[i]).Float32() {
			t.Errorf("Float16 slice [%d]: %#04x %v", i, h[i], w[i])
		}
	}
	Float32ToBFloat16(h, src)
	BFloat16ToFloat32(w, h[:len(src)])
	for i, x := range src {
		if h[i] != uint16(BFloat16FromFloat32(x)) || w[i] != BFloat16(h[i]).Float32() {
			t.Errorf("BFloat16 slice [%d]: %#04x %v", i, h[i], w[i])
		}
	}
	if h[len(src)] != 0 || w[len(src)] != 0 {
		t.Error("a slice conversion wrote past len(src)")
	}
}

func BenchmarkFloat32ToFloat16(b *testing.B) {
	src := make([]float32, 4096)
	for i := range src {
		src[i] = float32(i) * 0.37
	}
	dst := make([]uint16, len(src))
	b.SetBytes(int64(4 * len(src)))
	for b.Loop() {
		Float32ToFloat16(dst, src)
	}
}

func BenchmarkFloat16ToFloat32(b *testing.B) {
	src := make([]uint16, 4096)
	for i := range src {
		src[i] = uint16(i * 7)
	}
	dst := make([]float32, len(src))
	b.SetBytes(int64(4 * len(src)))
	for b.Loop() {
		Float16ToFloat32(dst, src)
	}
}
