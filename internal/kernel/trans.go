// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import "math"

// Transcendental float32 kernels. ExpF32, SigmoidF32, TanhF32, LogF32
// and SoftplusF32 compute in float32 with FMA, 16 lanes with AVX-512 and 8
// with AVX2, and their pure-Go twins (expF32Twin here, the others in
// trans32.go) do the same steps; they are within one ulp of the correctly
// rounded value on every float32 (TestTransF32Exhaustive). The GELU
// kernels compute in float64 and round once to float32, so their results
// are within one ulp of the correctly rounded value. Without
// assembly all of them round math's float64 result. All handle denormal
// results, overflow to ±Inf and NaN.

// ExpF32 sets dst[i] = e^x[i]. It panics unless len(dst) == len(x). The
// reference loop is
//
//	for i, v := range x {
//		dst[i] = float32(math.Exp(float64(v)))
//	}
func ExpF32(dst, x []float32) {
	check2("ExpF32", len(dst), len(x))
	expF32(dst, x)
}

// SigmoidF32 sets dst[i] = 1/(1+e^-x[i]). It panics unless
// len(dst) == len(x). The reference loop is
//
//	for i, v := range x {
//		if v >= 0 {
//			dst[i] = float32(1 / (1 + math.Exp(-float64(v))))
//		} else {
//			e := math.Exp(float64(v))
//			dst[i] = float32(e / (1 + e))
//		}
//	}
func SigmoidF32(dst, x []float32) {
	check2("SigmoidF32", len(dst), len(x))
	sigmoidF32(dst, x)
}

// TanhF32 sets dst[i] = tanh(x[i]). It panics unless len(dst) == len(x).
// The reference loop is
//
//	for i, v := range x {
//		dst[i] = float32(math.Tanh(float64(v)))
//	}
func TanhF32(dst, x []float32) {
	check2("TanhF32", len(dst), len(x))
	tanhF32(dst, x)
}

// LogF32 sets dst[i] = log(x[i]), the natural logarithm (-Inf at ±0, NaN
// below 0). It panics unless len(dst) == len(x). The reference loop is
//
//	for i, v := range x {
//		dst[i] = float32(math.Log(float64(v)))
//	}
func LogF32(dst, x []float32) {
	check2("LogF32", len(dst), len(x))
	logF32(dst, x)
}

// SoftplusF32 sets dst[i] = log(1+e^x[i]), computed without overflow. It
// panics unless len(dst) == len(x). The reference loop is
//
//	for i, v := range x {
//		x := float64(v)
//		dst[i] = float32(math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))))
//	}
func SoftplusF32(dst, x []float32) {
	check2("SoftplusF32", len(dst), len(x))
	softplusF32(dst, x)
}

// The float32 exp of expF32Generic and the assembly (genExp32 in
// mkasm.go, which explains the steps; the constants are the same).
const (
	exp32Lo    = -104 // e^-104 < 2^-150 rounds to 0
	exp32Hi    = 89   // e^89 overflows
	exp32Shift = 0x1.8p23
)

var (
	// ln2 split for Cody-Waite reduction: 12 significant bits, so that
	// k·ln2Hi is exact for |k| <= 150, and the float32 nearest the rest.
	exp32Ln2Hi = float32(math.Float64frombits(math.Float64bits(math.Ln2) &^ (1<<41 - 1)))
	exp32Ln2Lo = float32(math.Ln2 - float64(exp32Ln2Hi))
	// 1/k! rounded to float32, k = 7 down to 0: on |r| <= ln2/2 the Taylor
	// remainder r^8/8! is below 2^-27, an eighth of an ulp of e^r.
	exp32Poly = [8]float32{1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1, 1}
)

// fma32 is a float32 fused multiply-add. a·b is exact in float64, so the
// only roundings are of a·b + c to float64 and then to float32; they can
// differ from the single rounding of VFMADD in a rare double-rounding
// case, by one ulp at most.
func fma32(a, b, c float32) float32 { return float32(math.FMA(float64(a), float64(b), float64(c))) }

// exp32 is e^x in float32 arithmetic, as expF32AVX2 computes it.
func exp32(x float32) float32 {
	if x != x {
		return x
	}
	x = min(max(x, exp32Lo), exp32Hi)
	kf := fma32(x, math.Log2E, exp32Shift) - exp32Shift
	r := fma32(-kf, exp32Ln2Hi, x)
	r = fma32(-kf, exp32Ln2Lo, r)
	p := exp32Poly[0]
	for _, c := range exp32Poly[1:] {
		p = fma32(p, r, c)
	}
	k := int32(kf)
	k1 := k >> 1
	k2 := k - k1
	p *= math.Float32frombits(uint32(k1+127) << 23)
	return p * math.Float32frombits(uint32(k2+127)<<23)
}

// expF32Twin is the assembly's algorithm in Go, which the tests compare
// with it. It is not the fallback: math.Exp's loop (expF32Generic) is
// about three times as fast in pure Go, and closer to correctly rounded.
func expF32Twin(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = exp32(v)
	}
}

func expF32Generic(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = float32(math.Exp(float64(v)))
	}
}

func sigmoidF32Generic(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		if v >= 0 {
			dst[i] = float32(1 / (1 + math.Exp(-float64(v))))
		} else {
			e := math.Exp(float64(v))
			dst[i] = float32(e / (1 + e))
		}
	}
}

func tanhF32Generic(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = float32(math.Tanh(float64(v)))
	}
}

func logF32Generic(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = float32(math.Log(float64(v)))
	}
}

func softplusF32Generic(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		x := float64(v)
		dst[i] = float32(math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))))
	}
}
