// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import "math"

// The float32-arithmetic sigmoid and tanh of the assembly kernels
// (genSigmoid32 and genTanh32 in mkasm.go), step for step. Both need
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

// sigmoidF32Twin and tanhF32Twin are the assembly's algorithms in Go,
// which the tests compare with it (the fallbacks stay math's loops, as
// for exp).
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
