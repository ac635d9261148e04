package loops

import (
	"math"

	"github.com/nabla-go/nabla/internal/kernel"
)

// Layer normalisation of m contiguous rows of d elements, forward and
// backward, one pass per statistic instead of the eight ops (and their
// temporaries) of the composition. float32 rows go through the vectorized
// kernels; sums accumulate in float64 or in the kernels' vector lanes.

// LayerNormFwd sets dst = (x - mean)·rstd row by row, with mean and the
// biased variance var of each row and rstd = 1/√(var + eps), which it
// stores in rstd (one per row). The variance is taken around the mean in a
// second pass, as PyTorch does, not as E[x²] - mean², which cancels.
func LayerNormFwd[T Float](dst, x []T, rstd []float64, m, d int, eps float64) {
	dst, x, rstd = dst[:m*d], x[:m*d], rstd[:m]
	eachRows(m, d, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			rstd[r] = layerNormRow(dst[r*d:(r+1)*d], x[r*d:(r+1)*d], eps)
		}
	})
}

func layerNormRow[T Float](dst, x []T, eps float64) float64 {
	n := float64(len(x))
	if d, ok := any(dst).([]float32); ok {
		xs := any(x).([]float32)
		mean := float32(kernel.SumF32F64(xs) / n)
		kernel.AddConstF32(d, xs, -mean)
		rs := 1 / math.Sqrt(float64(kernel.DotF32(d, d))/n+eps)
		kernel.MulConstF32(d, d, float32(rs))
		return rs
	}
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	mean := s / n
	var q float64
	for _, v := range x {
		c := float64(v) - mean
		q += c * c
	}
	rs := 1 / math.Sqrt(q/n+eps)
	for i, v := range x {
		dst[i] = T((float64(v) - mean) * rs)
	}
	return rs
}

// LayerNormBwd sets dx, row by row, to the gradient through LayerNormFwd
// given the upstream gradient g, the output y and the rows' rstd:
//
//	dx = rstd·(g - mean(g) - y·mean(g·y))
func LayerNormBwd[T Float](dx, g, y []T, rstd []float64, m, d int) {
	dx, g, y, rstd = dx[:m*d], g[:m*d], y[:m*d], rstd[:m]
	eachRows(m, d, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			s := r * d
			layerNormBwdRow(dx[s:s+d], g[s:s+d], y[s:s+d], rstd[r])
		}
	})
}

func layerNormBwdRow[T Float](dx, g, y []T, rstd float64) {
	n := float64(len(g))
	if d, ok := any(dx).([]float32); ok {
		gs, ys := any(g).([]float32), any(y).([]float32)
		a := float32(kernel.SumF32F64(gs) / n)
		b := kernel.DotF32(gs, ys) / float32(n)
		kernel.MulConstF32(d, ys, -b)
		kernel.AddF32(d, d, gs)
		kernel.AddConstF32(d, d, -a)
		kernel.MulConstF32(d, d, float32(rstd))
		return
	}
	var sa, sb float64
	for i, v := range g {
		sa += float64(v)
		sb += float64(v) * float64(y[i])
	}
	a, b := sa/n, sb/n
	for i, v := range g {
		dx[i] = T(rstd * (float64(v) - a - float64(y[i])*b))
	}
}

// RMSNormFwd sets dst, row by row (m rows of d), to x·rstd with
// rstd = 1/√(mean(x²) + eps), stored per row for the backward pass.
func RMSNormFwd[T Float](dst, x []T, rstd []float64, m, d int, eps float64) {
	dst, x, rstd = dst[:m*d], x[:m*d], rstd[:m]
	eachRows(m, d, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row, out := x[r*d:(r+1)*d], dst[r*d:(r+1)*d]
			if o, ok := any(out).([]float32); ok {
				xs := any(row).([]float32)
				rs := 1 / math.Sqrt(float64(kernel.DotF32(xs, xs))/float64(d)+eps)
				kernel.MulConstF32(o, xs, float32(rs))
				rstd[r] = rs
				continue
			}
			var q float64
			for _, v := range row {
				q += float64(v) * float64(v)
			}
			rs := 1 / math.Sqrt(q/float64(d)+eps)
			for i, v := range row {
				out[i] = T(float64(v) * rs)
			}
			rstd[r] = rs
		}
	})
}

// RMSNormBwd sets dx, row by row, to the gradient through RMSNormFwd given
// the upstream gradient g, the output y and the rows' rstd:
//
//	dx = rstd·(g - y·mean(g·y))
func RMSNormBwd[T Float](dx, g, y []T, rstd []float64, m, d int) {
	dx, g, y, rstd = dx[:m*d], g[:m*d], y[:m*d], rstd[:m]
	eachRows(m, d, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			s := r * d
			dr, gr, yr := dx[s:s+d], g[s:s+d], y[s:s+d]
			if o, ok := any(dr).([]float32); ok {
				gs, ys := any(gr).([]float32), any(yr).([]float32)
				b := kernel.DotF32(gs, ys) / float32(d)
				kernel.MulConstF32(o, ys, -b)
				kernel.AddF32(o, o, gs)
				kernel.MulConstF32(o, o, float32(rstd[r]))
				continue
			}
			var sb float64
			for i, v := range gr {
				sb += float64(v) * float64(yr[i])
			}
			b := sb / float64(d)
			for i, v := range gr {
				dr[i] = T(rstd[r] * (float64(v) - float64(yr[i])*b))
			}
		}
	})
}
