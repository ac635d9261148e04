// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import "math"

// Transcendental float32 kernels. The vector versions compute in float64
// and round once to float32, so their results are within one ulp of the
// correctly rounded value (the pure-Go twins round math's float64 result),
// including denormal results, overflow to ±Inf and NaN.

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
