package loops

import (
	"math"

	"github.com/nabla-go/nabla/internal/kernel"
)

// Batch normalisation of a contiguous (N, C, S) array over N and S for
// each channel c: the N rows x[n, c, :] of S elements are one channel's
// values. Channels are split between the workers.

// BatchNormFwd sets dst = (x - mean_c)·rstd_c for every channel, where
// mean_c and var_c (biased) are the channel's statistics, computed in
// float64, and rstd_c = 1/√(var_c + eps). It stores mean and var.
func BatchNormFwd[T Float](dst, x []T, mean, variance []float64, N, C, S int, eps float64) {
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
			rs := 1 / math.Sqrt(v+eps)
			for i := range N {
				bnScale(dst[row(i):row(i)+S], rs)
			}
		}
	})
}

// BatchNormBwd sets dx to the gradient through BatchNormFwd given the
// upstream gradient g, the output y and rstd per channel:
//
//	dx = rstd·(g - mean(g) - y·mean(g·y)), the means over the channel.
func BatchNormBwd[T Float](dx, g, y []T, rstd []float64, N, C, S int) {
	n := N * S
	dx, g, y, rstd = dx[:N*C*S], g[:N*C*S], y[:N*C*S], rstd[:C]
	eachRows(C, n, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			row := func(i int) int { return (i*C + c) * S }
			var sa, sb float64
			for i := range N {
				r := row(i)
				a, b := sumDotRow(g[r:r+S], y[r:r+S])
				sa += a
				sb += b
			}
			a, b := sa/float64(n), sb/float64(n)
			for i := range N {
				r := row(i)
				bnBwdRow(dx[r:r+S], g[r:r+S], y[r:r+S], a, b, rstd[c])
			}
		}
	})
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
