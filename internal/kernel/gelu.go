// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import "math"

// GELU and its derivative through the normal CDF Φ(x) = erfc(-x/√2)/2,
// which the kernels compute in float64 without math.Erf (23 ns a call,
// with branches and two exps) from
//
//	a = |x|/√2, t = 1/(1 + a/2)
//	erfc(a) = e^(-a²)·t·P(t)
//	Φ(x) = 1 - erfc(a)/2 for x >= 0, erfc(a)/2 for x < 0
//	φ(x) = e^(-a²)/√(2π)
//
// P is a degree-14 polynomial fitted (Chebyshev-weighted least squares, in
// bench/reference/gelu_fit.py) to erfcx(a)/t = e^(a²)·erfc(a)/t over all
// t in (0, 1]. Its largest relative error, against mpmath at 40 digits, is
// 1.3e-10: far below float32's half ulp (3e-8), so the results are
// within one ulp of the exact ones once rounded, except where the
// derivative crosses zero (x ≈ -0.75), where the error is absolute,
// below 1e-9.
//
// Infinities give what PyTorch gives: GELU(+Inf) = +Inf and GELU(-Inf) =
// -Inf·0 = NaN (t = 0 makes Φ(-Inf) exactly 0), and a NaN derivative at
// ±Inf. The derivative clamps x to ±20 first (beyond it Φ is 0 or 1 and
// xφ(x) is 0 in float32, but the vector exp, which clamps its argument at
// -110, would make xφ(x) nonzero for huge x) and adds x - x, which is 0
// for finite x and NaN for infinities and NaN.

// geluPoly holds P's coefficients, highest degree first.
var geluPoly = [...]float64{
	0x1.928faf7b9f523p-6,
	-0x1.33a8e560bc5ccp-3,
	0x1.71d2de3263bdap-2,
	-0x1.80f008f8514d6p-2,
	0x1.2ee597695344cp-6,
	0x1.3ca9eada2429ep-2,
	-0x1.ba19ace23bffep-3,
	0x1.4c596e88721cap-5,
	-0x1.535ab8d500dc6p-4,
	0x1.f90182db2c600p-13,
	0x1.54e7abf6e3b18p-4,
	0x1.69268853f2be3p-3,
	0x1.f982f5546f1eep-3,
	0x1.20dd75ff3633ap-2,
	0x1.20dd7503a1bf2p-2,
}

const geluClamp = 20

// normalCDF returns Φ(x) and φ(x) as the kernels compute them.
func normalCDF(x float64) (cdf, pdf float64) {
	a := math.Abs(x) * (1 / math.Sqrt2)
	t := 1 / (1 + 0.5*a)
	// P(t) = E(t²) + t·O(t²), as the vector kernels split it (len(geluPoly)
	// is odd: E starts at geluPoly[0], O at geluPoly[1]).
	t2 := t * t
	ev, od := geluPoly[0], geluPoly[1]
	for i := 2; i < len(geluPoly); i++ {
		if i%2 == 0 {
			ev = ev*t2 + geluPoly[i]
		} else {
			od = od*t2 + geluPoly[i]
		}
	}
	p := od*t + ev
	e := math.Exp(-a * a)
	h := 0.5 * e * t * p
	if x >= 0 {
		h = 1 - h
	}
	return h, e * (1 / math.Sqrt(2*math.Pi))
}

// GeluF32 sets dst[i] = x[i]·Φ(x[i]), the exact GELU (PyTorch's default,
// approximate="none"). It panics unless len(dst) == len(x). The reference
// loop is
//
//	for i, v := range x {
//		x := float64(v)
//		dst[i] = float32(x * math.Erfc(-x/math.Sqrt2) / 2)
//	}
//
// and the results are within one ulp of it (see normalCDF).
func GeluF32(dst, x []float32) {
	check2("GeluF32", len(dst), len(x))
	geluF32(dst, x)
}

// GeluDerivF32 sets dst[i] = Φ(x[i]) + x[i]·φ(x[i]), the derivative of
// GELU. It panics unless len(dst) == len(x). The reference loop is
//
//	for i, v := range x {
//		x := float64(v)
//		dst[i] = float32(math.Erfc(-x/math.Sqrt2)/2 + x*math.Exp(-x*x/2)/math.Sqrt(2*math.Pi))
//	}
//
// and the results are within one ulp of it, or within 1e-9 near the zero
// at x ≈ -0.75 (see normalCDF).
func GeluDerivF32(dst, x []float32) {
	check2("GeluDerivF32", len(dst), len(x))
	geluDerivF32(dst, x)
}

// GeluGradF32 sets dst[i] = g[i]·(Φ(x[i]) + x[i]·φ(x[i])), the gradient g
// through GELU at its input x, in one pass: the derivative is not stored
// and is multiplied in float64, so the product is rounded once. It panics
// unless len(dst) == len(g) == len(x). The reference loop is
//
//	for i, v := range x {
//		x := float64(v)
//		d := math.Erfc(-x/math.Sqrt2)/2 + x*math.Exp(-x*x/2)/math.Sqrt(2*math.Pi)
//		dst[i] = float32(float64(g[i]) * d)
//	}
//
// and the results are as close to it as GeluDerivF32's are to its own.
func GeluGradF32(dst, g, x []float32) {
	check3("GeluGradF32", len(dst), len(g), len(x))
	geluGradF32(dst, g, x)
}

func geluF32Generic(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		cdf, _ := normalCDF(float64(v))
		dst[i] = float32(float64(v) * cdf)
	}
}

func geluDerivF32Generic(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		x := float64(v)
		xc := math.Max(-geluClamp, math.Min(geluClamp, x))
		cdf, pdf := normalCDF(xc)
		dst[i] = float32(cdf + xc*pdf + (x - x))
	}
}

// geluDeriv64 is the float64 derivative that geluDerivF32Generic rounds.
func geluDeriv64(x float64) float64 {
	xc := math.Max(-geluClamp, math.Min(geluClamp, x))
	cdf, pdf := normalCDF(xc)
	return cdf + xc*pdf + (x - x)
}

func geluGradF32Generic(dst, g, x []float32) {
	g = g[:len(dst)]
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = float32(float64(g[i]) * geluDeriv64(float64(v)))
	}
}
