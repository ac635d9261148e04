// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import "math"

// The float32-arithmetic sigmoid, tanh, log and softplus of the assembly
// kernels (genTrans32 in mkasm.go), step for step. Sigmoid and tanh need
// 1/(1+e^y) for y <= 0 to better than float32 precision: a float32 e^y
// (up to an ulp off) and a rounded 1+e^y and quotient add up to two ulps.
// So exp32x returns e^y as 2^k·(t + tlo), a float32 and its correction,
// 1+e^y is kept as dHi + dLo, and the quotient q = 1/d is r0·(1 + res)
// with r0 = 1/dHi rounded and res = 1 - d·r0 computed with FMA (the
// residual of a correctly rounded quotient is exact). The result then
// comes out of one final rounding with an error before it of about a
// tenth of an ulp, which TestTransF32Exhaustive checks on every float32.

// exp32xPoly are 1/k! rounded to float32, k = 8 down to 2: on |r| <=
// ln2/2 the Taylor remainder r^9/9! is below 2^-31.
var exp32xPoly = [7]float32{1.0 / 40320, 1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5}

// exp32x returns k, t and tlo with e^y = 2^k·(t + tlo) to a relative
// error of about 2^-27, for y in [exp32Lo, 0] (t is in [0.7, 1.42]). The
// reduction is that of exp32, with its rounding error rlo kept:
//
//	r + rlo = y - k·ln2
//	e^r - 1 = r + r·(r·P(r)) = sHi + sLo    (w = r·P(r) rounded)
//	t = 1 + sHi, tlo = (1 - t) + sHi + sLo + rlo·(1 + sHi)
//
// r - sHi is exact (sHi is within a factor 2 of r), and so is 1 - t.
func exp32x(y float32) (k int32, t, tlo float32) {
	kf := fma32(y, math.Log2E, exp32Shift) - exp32Shift
	rhi := fma32(-kf, exp32Ln2Hi, y)
	r := fma32(-kf, exp32Ln2Lo, rhi)
	rlo := fma32(-kf, exp32Ln2Lo, rhi-r)
	p := exp32xPoly[0]
	for _, c := range exp32xPoly[1:] {
		p = fma32(p, r, c)
	}
	w := r * p
	sHi := fma32(w, r, r)
	sLo := fma32(w, r, r-sHi)
	sLo = fma32(rlo, sHi, sLo) + rlo
	t = 1 + sHi
	tlo = ((1 - t) + sHi) + sLo
	return int32(kf), t, tlo
}

// pow2f32 returns 2^k for k in [-126, 127].
func pow2f32(k int32) float32 { return math.Float32frombits(uint32(k+127) << 23) }

// recip1p32 returns r0 and res with 1/(1 + 2^k·(t+tlo)) = r0·(1+res) to
// about 2^-27 relative (see above). 2^k is clamped at 2^-60, beyond which
// e^y no longer changes 1 + e^y.
func recip1p32(k int32, t, tlo float32) (r0, res float32) {
	s := pow2f32(max(k, -60))
	eHi, eLo := t*s, tlo*s
	dHi := 1 + eHi
	dLo := ((1 - dHi) + eHi) + eLo
	r0 = 1 / dHi
	res = fma32(-dHi, r0, 1)
	res = fma32(-dLo, r0, res)
	return r0, res
}

// sigmoid32 is 1/(1+e^-x) in float32 arithmetic, as sigmoidF32AVX2
// computes it. With e = e^-|x| = 2^k·(t+tlo) and q = 1/(1+e), it is q
// for x >= 0 and e·q for x < 0; both are computed as
//
//	v = n·q = n·r0 + (n·r0·res + nlo·r0),  n + nlo = 1 or t + tlo
//	σ = v·2^k1·2^k2                         (k1 + k2 = 0 or k)
//
// with the product n·r0 split exactly by FMA, so that v is rounded once.
// The scaling in two steps (as in exp32) rounds once more only into a
// denormal.
func sigmoid32(x float32) float32 {
	if x != x {
		return x
	}
	y := max(-abs32(x), exp32Lo)
	k, t, tlo := exp32x(y)
	r0, res := recip1p32(k, t, tlo)
	if x >= 0 {
		t, tlo, k = 1, 0, 0
	}
	mHi := t * r0
	mLo := fma32(t, r0, -mHi)
	c := fma32(mHi, res, mLo)
	c = fma32(tlo, r0, c)
	v := mHi + c
	k1 := k >> 1
	return v * pow2f32(k1) * pow2f32(k-k1)
}

// tanh32Lim is the float32 nearest atanh(1/2): below it tanh is the odd
// polynomial x + x³·R(x²), above it 2/(1+e^-2|x|) - 1, which is then at
// least 1/2.
const tanh32Lim = 0.54930615

// tanh32Poly are R's coefficients, highest degree first, fitted by
// bench/reference/tanh32_fit.py (largest relative error of tanh with them
// 2.3e-9, a twenty-sixth of a float32 ulp).
var tanh32Poly = [5]float32{
	-0x1.9ae2e2p-8,
	0x1.592c22p-6,
	-0x1.b925fp-5,
	0x1.110d12p-3,
	-0x1.55554ap-2,
}

// tanh32 is tanh(x) in float32 arithmetic, as tanhF32AVX2 computes it:
// for a = |x| < tanh32Lim, a + a·(z·R(z)) with z = a² (one FMA at the
// end); above, with q = 1/(1+e^-2a) = r0·(1+res), 2q - 1 = (2r0 - 1) +
// 2r0·res (2r0 - 1 is exact, r0 being in [3/4, 1]); then x's sign is set
// (which makes tanh(-0) = -0).
func tanh32(x float32) float32 {
	if x != x {
		return x
	}
	a := abs32(x)
	var y float32
	if a < tanh32Lim {
		z := a * a
		p := tanh32Poly[0]
		for _, c := range tanh32Poly[1:] {
			p = fma32(p, z, c)
		}
		y = fma32(a, z*p, a)
	} else {
		k, t, tlo := exp32x(max(-2*a, exp32Lo))
		r0, res := recip1p32(k, t, tlo)
		r2 := 2 * r0
		y = fma32(r2, res, r2-1)
	}
	return math.Float32frombits(math.Float32bits(y) | math.Float32bits(x)&(1<<31))
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }

// sigmoidF32Twin, tanhF32Twin, logF32Twin and softplusF32Twin are the
// assembly's algorithms in Go, which the tests compare with it (the
// fallbacks stay math's loops, as for exp).
func sigmoidF32Twin(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = sigmoid32(v)
	}
}

func tanhF32Twin(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = tanh32(v)
	}
}

// log32Poly are 2/(2k+1) rounded to float32, k = 5 down to 1: the series
// log(m) = 2u + u³·L(u²), |u| <= 3 - 2√2, without its first term, and
// truncated where the rest is below 2^-34 of the result.
var log32Poly = [5]float32{2.0 / 11, 2.0 / 9, 2.0 / 7, 2.0 / 5, 2.0 / 3}

// log32 is log(x) in float32 arithmetic, as logF32AVX2 computes it. With
// x = 2^e·m, m in [√2/2, √2) (denormals scaled by 2^23 first), f = m - 1
// (exact) and u = f/(2+f) = (m-1)/(m+1):
//
//	d + dlo = 2 + f                           (exactly)
//	u + ulo = f/(d + dlo)                     (ulo from the FMA residual)
//	log(x) = e·ln2Hi + 2u + (2ulo + u³·L(u²) + e·ln2Lo)
//
// The first two terms are summed exactly as S + Slo (e·ln2Hi is exact and
// larger than 2u unless e = 0), so that the result is rounded once, with an
// error before it of a few hundredths of an ulp. Zeros give -Inf, negative
// numbers NaN, +Inf and NaN themselves.
func log32(x float32) float32 {
	switch {
	case x != x:
		return x
	case x == 0:
		return float32(math.Inf(-1))
	case x < 0:
		return float32(math.NaN())
	case x > math.MaxFloat32:
		return x
	}
	var adj int32
	if x < 0x1p-126 {
		x *= 0x1p23
		adj = 23
	}
	s, lo := log32Parts(x, adj)
	return s + lo
}

// log32Parts returns s and lo with log(x·2^-adj) = s + lo, for normal
// positive x, as log32 describes.
func log32Parts(x float32, adj int32) (s, lo float32) {
	ix := int32(math.Float32bits(x))
	e := (ix - log32SqrtHalf) >> 23
	m := math.Float32frombits(uint32(ix - e<<23))
	f := m - 1
	d := f + 2
	dlo := (2 - d) + f
	u := f / d
	rho := fma32(-u, d, f)
	rho = fma32(-u, dlo, rho)
	ulo := rho / d
	z := u * u
	p := log32Poly[0]
	for _, c := range log32Poly[1:] {
		p = fma32(p, z, c)
	}
	small := fma32(u*z, p, 2*ulo)
	ef := float32(e - adj)
	a, b := ef*exp32Ln2Hi, 2*u
	s = a + b
	slo := (a - s) + b
	return s, fma32(ef, exp32Ln2Lo, small) + slo
}

// log32SqrtHalf is the bit pattern of the float32 nearest √2/2:
// subtracting it from x's bits leaves e in the top bits.
const log32SqrtHalf = 0x3f3504f3

func logF32Twin(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = log32(v)
	}
}

// softplus32 is log(1+e^x) in float32 arithmetic, as softplusF32AVX2
// computes it. With e^-|x| = 2^k·(t+tlo) (exp32x) and 1 + e^-|x| = dHi +
// dLo (as in recip1p32),
//
//	log(1+e^-|x|) = log(dHi) + log1p(c), c = dLo/dHi
//	              = s + lo + (c - c²/2)          (log32Parts)
//	softplus(x) = max(x, 0) + s + lo'
//
// where max(x, 0) + s is summed exactly (TwoSum), so that the result is
// rounded once. Below -20 it is e^x·(1 - e^x/2 + ...) with e^x < 2^-28,
// so (t + tlo)·2^k (rounded, then scaled in two steps as in sigmoid32);
// above 32 it is x (which also gives +Inf at +Inf).
func softplus32(x float32) float32 {
	if x != x || x > softplus32Hi {
		return x
	}
	k, t, tlo := exp32x(max(-abs32(x), exp32Lo))
	if x < softplus32Lo {
		k1 := k >> 1
		return (t + tlo) * pow2f32(k1) * pow2f32(k-k1)
	}
	sc := pow2f32(max(k, -60))
	eHi, eLo := t*sc, tlo*sc
	dHi := 1 + eHi
	dLo := ((1 - dHi) + eHi) + eLo
	c := dLo / dHi
	corr := fma32(-0.5*c, c, c)
	s, lo := log32Parts(dHi, 0)
	lo += corr
	xp := max(x, 0)
	s2 := xp + s
	bb := s2 - xp
	err := (xp - (s2 - bb)) + (s - bb)
	return s2 + (lo + err)
}

const (
	softplus32Lo = -20
	softplus32Hi = 32
)

func softplusF32Twin(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = softplus32(v)
	}
}
