// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

// Vector conversions between float32 and the 16-bit formats float16
// (IEEE 754 binary16) and bfloat16, given as bit patterns (uint16). Each
// converts the longest prefix of src that its vector kernel handles (a
// multiple of the vector width: 8 elements with AVX2 and F16C, 16 with
// AVX-512) and returns its length; the caller, internal/half, converts the
// rest with its scalar code, of which the kernels give exactly the bits
// (internal/half tests it over every 16-bit pattern and every float32).
// In the purego build, on other architectures and on CPUs without those
// extensions they convert nothing and return 0.
//
// dst must be at least as long as src.

// WidenF16 widens binary16 bit patterns to float32 (exactly; a NaN comes
// back quiet, keeping its payload).
func WidenF16(dst []float32, src []uint16) int {
	n := halfPrefix(len(src))
	if n > 0 {
		widenF16(dst[:n], src[:n])
	}
	return n
}

// NarrowF16 rounds float32 values to binary16 bit patterns, to nearest
// even; a NaN becomes a quiet NaN keeping the top bits of its payload.
func NarrowF16(dst []uint16, src []float32) int {
	n := halfPrefix(len(src))
	if n > 0 {
		narrowF16(dst[:n], src[:n])
	}
	return n
}

// WidenBF16 widens bfloat16 bit patterns to float32 (exactly; a NaN comes
// back quiet).
func WidenBF16(dst []float32, src []uint16) int {
	n := halfPrefix(len(src))
	if n > 0 {
		widenBF16(dst[:n], src[:n])
	}
	return n
}

// NarrowBF16 rounds float32 values to bfloat16 bit patterns, to nearest
// even; a NaN becomes a quiet NaN keeping the top bits of its payload.
func NarrowBF16(dst []uint16, src []float32) int {
	n := halfPrefix(len(src))
	if n > 0 {
		narrowBF16(dst[:n], src[:n])
	}
	return n
}
