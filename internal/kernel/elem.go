// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

// Elementwise float32 kernels. Each has a pure-Go twin (the *Generic
// functions) that states its semantics and is used on other architectures,
// with the purego build tag, or on CPUs without AVX2 and FMA.
//
// Slice arguments that are written may alias an input only exactly (same
// first element and length); partially overlapping slices give unspecified
// results.

// AddF32 sets dst[i] = a[i] + b[i]. It panics unless
// len(dst) == len(a) == len(b). The reference loop is
//
//	for i := range dst {
//		dst[i] = a[i] + b[i]
//	}
func AddF32(dst, a, b []float32) {
	check3("AddF32", len(dst), len(a), len(b))
	addF32(dst, a, b)
}

// MulF32 sets dst[i] = a[i] * b[i]. It panics unless
// len(dst) == len(a) == len(b). The reference loop is
//
//	for i := range dst {
//		dst[i] = a[i] * b[i]
//	}
func MulF32(dst, a, b []float32) {
	check3("MulF32", len(dst), len(a), len(b))
	mulF32(dst, a, b)
}

// SubF32 sets dst[i] = a[i] - b[i]. It panics unless
// len(dst) == len(a) == len(b). The reference loop is
//
//	for i := range dst {
//		dst[i] = a[i] - b[i]
//	}
func SubF32(dst, a, b []float32) {
	check3("SubF32", len(dst), len(a), len(b))
	subF32(dst, a, b)
}

// AddConstF32 sets dst[i] = x[i] + c. It panics unless len(dst) == len(x).
// The reference loop is
//
//	for i := range dst {
//		dst[i] = x[i] + c
//	}
func AddConstF32(dst, x []float32, c float32) {
	check2("AddConstF32", len(dst), len(x))
	addConstF32(dst, x, c)
}

// MulConstF32 sets dst[i] = x[i] * c. It panics unless len(dst) == len(x).
// The reference loop is
//
//	for i := range dst {
//		dst[i] = x[i] * c
//	}
func MulConstF32(dst, x []float32, c float32) {
	check2("MulConstF32", len(dst), len(x))
	mulConstF32(dst, x, c)
}

// AxpyF32 sets y[i] += alpha * x[i]. It panics unless len(x) == len(y). The
// reference loop is
//
//	for i := range y {
//		y[i] += alpha * x[i]
//	}
//
// The product may be fused with the addition (a single rounding).
func AxpyF32(alpha float32, x, y []float32) {
	check2("AxpyF32", len(x), len(y))
	axpyF32(alpha, x, y)
}

// ScaleF32 sets x[i] *= alpha. The reference loop is
//
//	for i := range x {
//		x[i] *= alpha
//	}
func ScaleF32(alpha float32, x []float32) {
	scaleF32(alpha, x)
}

// ReluF32 sets dst[i] = max(x[i], 0), propagating NaNs. It panics unless
// len(dst) == len(x). The reference loop is
//
//	for i, v := range x {
//		if v < 0 {
//			v = 0
//		}
//		dst[i] = v
//	}
func ReluF32(dst, x []float32) {
	check2("ReluF32", len(dst), len(x))
	reluF32(dst, x)
}

// ReluGradF32 sets dst[i] = x[i] where y[i] > 0 and 0 elsewhere (also
// where y[i] is NaN): the gradient x of relu at its input y. It panics
// unless len(dst) == len(x) == len(y). The reference loop is
//
//	for i := range dst {
//		if y[i] > 0 {
//			dst[i] = x[i]
//		} else {
//			dst[i] = 0
//		}
//	}
func ReluGradF32(dst, x, y []float32) {
	check3("ReluGradF32", len(dst), len(x), len(y))
	reluGradF32(dst, x, y)
}

// SumF32 returns the sum of the elements of x (0 for an empty slice). The
// reference loop is
//
//	var s float32
//	for _, v := range x {
//		s += v
//	}
//	return s
//
// The additions may be reassociated (the vector version keeps 32 partial
// sums), so the rounding differs from the loop.
func SumF32(x []float32) float32 {
	return sumF32(x)
}

// SumF32F64 returns the sum of the elements of x accumulated in float64 (0
// for an empty slice). The reference loop is
//
//	var s float64
//	for _, v := range x {
//		s += float64(v)
//	}
//	return s
//
// The additions may be reassociated (the vector version keeps 16 partial
// sums). Each float32 is exact in float64, so the error is that of a
// float64 sum, far below the float32 rounding of the result.
func SumF32F64(x []float32) float64 {
	return sumF32F64(x)
}

// MaxF32 returns the largest element of x, or NaN if x contains a NaN. It
// panics if x is empty. The reference loop is
//
//	m := x[0]
//	for _, v := range x {
//		if v > m || v != v {
//			m = v
//		}
//		if m != m {
//			return m
//		}
//	}
//	return m
//
// The sign of a zero result is unspecified when x holds both +0 and -0.
func MaxF32(x []float32) float32 {
	if len(x) == 0 {
		panic("kernel: MaxF32 of an empty slice")
	}
	return maxF32(x)
}

// DotF32 returns the dot product of x and y. It panics unless
// len(x) == len(y). The reference loop is
//
//	var s float32
//	for i := range x {
//		s += x[i] * y[i]
//	}
//	return s
//
// The additions may be reassociated and fused with the products.
func DotF32(x, y []float32) float32 {
	check2("DotF32", len(x), len(y))
	return dotF32(x, y)
}

func check2(name string, n0, n1 int) {
	if n0 != n1 {
		panic("kernel: " + name + ": slice lengths differ")
	}
}

func check3(name string, n0, n1, n2 int) {
	if n0 != n1 || n0 != n2 {
		panic("kernel: " + name + ": slice lengths differ")
	}
}
