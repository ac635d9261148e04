package loops

import (
	"math"

	"github.com/nabla-go/nabla/internal/kernel"
)

// Batch normalisation of a contiguous (N, C, S) array over N and S for
// each channel c: the N rows x[n, c, :] of S elements are one channel's
// values. Channels are split between the workers.

// BatchNormFwd sets dst = (x - mean_c)·rstd_c·w_c + b_c for every
// channel, where mean_c and var_c (biased) are the channel's statistics,
// computed in float64, and rstd_c = 1/√(var_c + eps). It stores mean and
// var. w and b are the affine transform's weight and bias; a nil one is
// left out (a scale of 1, a shift of 0).
func BatchNormFwd[T Float](dst, x []T, mean, variance, w, b []float64, N, C, S int, eps float64) {
	n := N * S
	dst, x = dst[:N*C*S], x[:N*C*S]
	mean, variance = mean[:C], variance[:C]
	eachRows(C, n, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			row := func(i int) int { return (i*C + c) * S }
			var s float64
			for i := range N {
				s += sum64Row(x[row(i) : row(i)+S])
			}
			m := s / float64(n)
			var q float64
			for i := range N {
				q += centre(dst[row(i):row(i)+S], x[row(i):row(i)+S], m)
			}
			v := q / float64(n)
			mean[c], variance[c] = m, v
			scale := 1 / math.Sqrt(v+eps)
			if w != nil {
				scale *= w[c]
			}
			for i := range N {
				d := dst[row(i) : row(i)+S]
				bnScale(d, scale)
				if b != nil {
					bnShift(d, b[c])
				}
			}
		}
	})
}

// BatchNormBwd sets dx to the gradient through BatchNormFwd given the
// upstream gradient g, the input x and the channels' mean and rstd:
//
//	dx = w·rstd·(g - mean(g) - x̂·mean(g·x̂)), x̂ = (x - mean)·rstd,
//
// the means over the channel (w = 1 when nil). x̂ is recomputed a row at
// a time. A non-nil dw receives each channel's sum of g·x̂ (the weight's
// gradient), a non-nil db its sum of g (the bias's).
func BatchNormBwd[T Float](dx, g, x []T, mean, rstd, w, dw, db []float64, N, C, S int) {
	n := N * S
	dx, g, x, mean, rstd = dx[:N*C*S], g[:N*C*S], x[:N*C*S], mean[:C], rstd[:C]
	eachRows(C, n, func(lo, hi int) {
		xh := make([]T, S)
		for c := lo; c < hi; c++ {
			row := func(i int) int { return (i*C + c) * S }
			var sa, sb float64
			for i := range N {
				r := row(i)
				normalise(xh, x[r:r+S], mean[c], rstd[c])
				a, b := sumDotRow(g[r:r+S], xh)
				sa += a
				sb += b
			}
			if dw != nil {
				dw[c] = sb
			}
			if db != nil {
				db[c] = sa
			}
			scale := rstd[c]
			if w != nil {
				scale *= w[c]
			}
			a, b := sa/float64(n), sb/float64(n)
			for i := range N {
				r := row(i)
				normalise(xh, x[r:r+S], mean[c], rstd[c])
				bnBwdRow(dx[r:r+S], g[r:r+S], xh, a, b, scale)
			}
		}
	})
}

// normalise sets d = (x - m)·r, rounding as BatchNormFwd does.
func normalise[T Float](d, x []T, m, r float64) {
	if df, ok := any(d).([]float32); ok {
		kernel.AddConstF32(df, any(x).([]float32), float32(-m))
		kernel.MulConstF32(df, df, float32(r))
		return
	}
	for i, v := range x {
		d[i] = T((float64(v) - m) * r)
	}
}

// bnShift sets d += b.
func bnShift[T Float](d []T, b float64) {
	if df, ok := any(d).([]float32); ok {
		kernel.AddConstF32(df, df, float32(b))
		return
	}
	for i := range d {
		d[i] = T(float64(d[i]) + b)
	}
}

// sum64Row returns the sum of s in float64.
func sum64Row[T Float](s []T) float64 {
	if x, ok := any(s).([]float32); ok {
		return kernel.SumF32F64(x)
	}
	var t float64
	for _, v := range s {
		t += float64(v)
	}
	return t
}

// centre sets d = x - m and returns the sum of d² in float64.
func centre[T Float](d, x []T, m float64) float64 {
	if df, ok := any(d).([]float32); ok {
		kernel.AddConstF32(df, any(x).([]float32), float32(-m))
		return float64(kernel.DotF32(df, df))
	}
	var q float64
	for i, v := range x {
		c := float64(v) - m
		d[i] = T(c)
		q += c * c
	}
	return q
}

// bnScale sets d *= r.
func bnScale[T Float](d []T, r float64) {
	if df, ok := any(d).([]float32); ok {
		kernel.MulConstF32(df, df, float32(r))
		return
	}
	for i, v := range d {
		d[i] = T(float64(v) * r)
	}
}

// sumDotRow returns the sums of g and of g·y.
func sumDotRow[T Float](g, y []T) (float64, float64) {
	if gs, ok := any(g).([]float32); ok {
		ys := any(y).([]float32)
		return kernel.SumF32F64(gs), float64(kernel.DotF32(gs, ys))
	}
	var a, b float64
	for i, v := range g {
		a += float64(v)
		b += float64(v) * float64(y[i])
	}
	return a, b
}

// bnBwdRow sets dx = rstd·(g - a - y·b).
func bnBwdRow[T Float](dx, g, y []T, a, b, rstd float64) {
	if d, ok := any(dx).([]float32); ok {
		gs, ys := any(g).([]float32), any(y).([]float32)
		kernel.MulConstF32(d, ys, float32(-b))
		kernel.AddF32(d, d, gs)
		kernel.AddConstF32(d, d, float32(-a))
		kernel.MulConstF32(d, d, float32(rstd))
		return
	}
	for i, v := range g {
		dx[i] = T(rstd * (float64(v) - a - float64(y[i])*b))
	}
}
