// Copyright 2025 The nabla Authors. All rights reserved.

// Package half converts between float32 and the two 16-bit floating-point
// formats that published weights use: IEEE 754 binary16 (Float16: 1 sign,
// 5 exponent, 10 mantissa bits) and bfloat16 (BFloat16: the upper half of a
// float32, 1 sign, 8 exponent, 7 mantissa bits).
//
// Every 16-bit value is exactly representable as a float32, so widening is
// exact. Narrowing rounds to nearest, ties to even, as IEEE 754 and PyTorch
// do: values too large for the format become ±Inf, values too small become
// (signed) subnormals or zero. A NaN stays a NaN: narrowing keeps the top
// bits of its payload and sets the quiet bit, widening sets the quiet bit
// too, so a signaling NaN comes back quiet (as on x86 hardware).
//
// Values are kept as their bit patterns (uint16), which is how tensors and
// safetensors files store them.
//
// The slice conversions (Float16ToFloat32 and the others) run the vector
// kernels of internal/kernel on amd64 (F16C and AVX2, or AVX-512), which
// give exactly the bits of the scalar code here, and the scalar code on
// the rest of the slice, everywhere else and in the purego build.
package half

import (
	"math"

	"github.com/nabla-go/nabla/internal/kernel"
)

// Float16 is an IEEE 754 binary16 value, held as its bit pattern.
type Float16 uint16

// BFloat16 is a bfloat16 value, held as its bit pattern.
type BFloat16 uint16

// Float16FromFloat32 rounds f to the nearest Float16 (ties to even).
func Float16FromFloat32(f float32) Float16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff {
		if man != 0 {
			// Quiet NaN keeping the top 9 bits of the payload.
			return Float16(sign | 0x7e00 | uint16(man>>13))
		}
		return Float16(sign | 0x7c00)
	}
	e := exp - 127 + 15 // the biased binary16 exponent
	if e >= 0x1f {
		return Float16(sign | 0x7c00)
	}
	if e <= 0 {
		// A binary16 subnormal (or zero): the value is man24 * 2^(exp-150),
		// a subnormal's unit is 2^-24, so the mantissa is man24 >> (14-e).
		if e < -10 {
			return Float16(sign) // below half the smallest subnormal
		}
		man |= 0x800000
		shift := uint(14 - e)
		h := man >> shift
		rem := man & (1<<shift - 1)
		halfway := uint32(1) << (shift - 1)
		if rem > halfway || rem == halfway && h&1 == 1 {
			h++ // may carry into the smallest normal: still right
		}
		return Float16(sign | uint16(h))
	}
	h := uint32(e)<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || rem == 0x1000 && h&1 == 1 {
		h++ // a carry into the exponent is right, up to Inf
	}
	return Float16(sign | uint16(h))
}

// Float32 returns h as a float32 (exactly).
func (h Float16) Float32() float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch exp {
	case 0x1f:
		if man != 0 {
			return math.Float32frombits(sign | 0x7fc00000 | man<<13)
		}
		return math.Float32frombits(sign | 0x7f800000)
	case 0:
		if man == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: normalize the mantissa into a float32 normal.
		e := uint32(127 - 15 + 1)
		for man&0x400 == 0 {
			man <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (man&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
}

// BFloat16FromFloat32 rounds f to the nearest BFloat16 (ties to even).
func BFloat16FromFloat32(f float32) BFloat16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return BFloat16(b>>16 | 0x40) // quiet NaN
	}
	// Adding 0x7fff plus the lowest kept bit rounds to nearest even; a carry
	// into the exponent is right, up to Inf.
	b += 0x7fff + (b>>16)&1
	return BFloat16(b >> 16)
}

// Float32 returns h as a float32 (exactly).
func (h BFloat16) Float32() float32 {
	b := uint32(h) << 16
	if b&0x7fffffff > 0x7f800000 {
		b |= 0x400000 // quiet NaN
	}
	return math.Float32frombits(b)
}

// Float16ToFloat32 widens the binary16 bit patterns of src into dst, which
// must be at least as long.
func Float16ToFloat32(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	n := kernel.WidenF16(dst, src)
	for i, h := range src[n:] {
		dst[n+i] = Float16(h).Float32()
	}
}

// Float32ToFloat16 rounds src into binary16 bit patterns in dst, which must
// be at least as long.
func Float32ToFloat16(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	n := kernel.NarrowF16(dst, src)
	for i, f := range src[n:] {
		dst[n+i] = uint16(Float16FromFloat32(f))
	}
}

// BFloat16ToFloat32 widens the bfloat16 bit patterns of src into dst, which
// must be at least as long.
func BFloat16ToFloat32(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	n := kernel.WidenBF16(dst, src)
	for i, h := range src[n:] {
		dst[n+i] = BFloat16(h).Float32()
	}
}

// Float32ToBFloat16 rounds src into bfloat16 bit patterns in dst, which must
// be at least as long.
func Float32ToBFloat16(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	n := kernel.NarrowBF16(dst, src)
	for i, f := range src[n:] {
		dst[n+i] = uint16(BFloat16FromFloat32(f))
	}
}
