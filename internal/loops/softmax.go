package loops

import (
	"math"

	"github.com/nabla-go/nabla/internal/kernel"
)

// Softmax and log-softmax, forward and backward, fused into one op each.
// The data are contiguous and seen as (outer, n, inner): the op runs along
// the middle axis of length n. When inner == 1 (the last axis) each of the
// outer rows is contiguous and float32 rows go through the vectorized
// kernels; otherwise the loops stream over the n rows of inner elements,
// keeping a running maximum and sum per column, so memory is read in order.
//
// A composition of max, sub, exp, sum, log and sub makes five passes and
// four temporaries; these make two or three passes and none, which is what
// PyTorch's kernels do.

// SoftmaxFwd writes softmax (log == false) or log-softmax (log == true) of
// src into dst. A row whose maximum is infinite or NaN gives NaN, as in
// PyTorch.
func SoftmaxFwd[T Float](dst, src []T, outer, n, inner int, log bool) {
	src, dst = src[:outer*n*inner], dst[:outer*n*inner]
	if inner == 1 {
		eachRows(outer, n, func(lo, hi int) {
			for o := lo; o < hi; o++ {
				softmaxRow(dst[o*n:(o+1)*n], src[o*n:(o+1)*n], log)
			}
		})
		return
	}
	eachRows(outer, n*inner, func(lo, hi int) {
		m := make([]T, inner)
		s := make([]float64, inner)
		for o := lo; o < hi; o++ {
			x, y := src[o*n*inner:(o+1)*n*inner], dst[o*n*inner:(o+1)*n*inner]
			softmaxCols(y, x, n, m, s, log)
		}
	})
}

// softmaxRow is SoftmaxFwd on one contiguous row.
func softmaxRow[T Float](dst, src []T, log bool) {
	if len(src) == 0 {
		return
	}
	if d, ok := any(dst).([]float32); ok {
		x := any(src).([]float32)
		m := kernel.MaxF32(x)
		kernel.AddConstF32(d, x, -m)
		kernel.ExpF32(d, d)
		s := kernel.SumF32F64(d)
		if log {
			// (x - m) - log s, not x - (m + log s): m + log s would round
			// away the small log s when |m| is large.
			kernel.AddConstF32(d, x, -m)
			kernel.AddConstF32(d, d, -float32(math.Log(s)))
		} else {
			kernel.MulConstF32(d, d, float32(1/s))
		}
		return
	}
	m := src[0]
	for _, v := range src {
		if v > m || v != v {
			m = v
		}
	}
	var s float64
	for i, v := range src {
		e := math.Exp(float64(v - m))
		dst[i] = T(e)
		s += e
	}
	if log {
		ls := T(math.Log(s))
		for i, v := range src {
			dst[i] = v - m - ls
		}
		return
	}
	r := 1 / s
	for i := range dst {
		dst[i] = T(float64(dst[i]) * r)
	}
}

// softmaxCols is SoftmaxFwd on one (n, inner) block, along n; m and s are
// scratch of length inner.
func softmaxCols[T Float](dst, src []T, n int, m []T, s []float64, log bool) {
	inner := len(m)
	copy(m, src[:inner])
	for i := 1; i < n; i++ {
		for j, v := range src[i*inner : (i+1)*inner] {
			if v > m[j] || v != v {
				m[j] = v
			}
		}
	}
	clear(s)
	for i := 0; i < n; i++ {
		row := dst[i*inner : (i+1)*inner]
		for j, v := range src[i*inner : (i+1)*inner] {
			e := math.Exp(float64(v - m[j]))
			row[j] = T(e)
			s[j] += e
		}
	}
	if log {
		for j := range s {
			s[j] = math.Log(s[j])
		}
		for i := 0; i < n; i++ {
			row := dst[i*inner : (i+1)*inner]
			for j, v := range src[i*inner : (i+1)*inner] {
				row[j] = v - m[j] - T(s[j])
			}
		}
		return
	}
	for j := range s {
		s[j] = 1 / s[j]
	}
	for i := 0; i < n; i++ {
		row := dst[i*inner : (i+1)*inner]
		for j := range row {
			row[j] = T(float64(row[j]) * s[j])
		}
	}
}

// SoftmaxBwd writes the gradient through softmax or log-softmax, given the
// upstream gradient g and the op's output y, into dst:
//
//	softmax:     dst = y·(g - Σ g·y)
//	log-softmax: dst = g - exp(y)·Σ g
//
// with the sums along the op's axis.
func SoftmaxBwd[T Float](dst, g, y []T, outer, n, inner int, log bool) {
	size := outer * n * inner
	dst, g, y = dst[:size], g[:size], y[:size]
	if inner == 1 {
		eachRows(outer, n, func(lo, hi int) {
			for o := lo; o < hi; o++ {
				r := o * n
				softmaxBwdRow(dst[r:r+n], g[r:r+n], y[r:r+n], log)
			}
		})
		return
	}
	eachRows(outer, n*inner, func(lo, hi int) {
		s := make([]float64, inner)
		for o := lo; o < hi; o++ {
			r := o * n * inner
			softmaxBwdCols(dst[r:r+n*inner], g[r:r+n*inner], y[r:r+n*inner], n, s, log)
		}
	})
}

// softmaxBwdRow is SoftmaxBwd on one contiguous row.
func softmaxBwdRow[T Float](dst, g, y []T, log bool) {
	if d, ok := any(dst).([]float32); ok {
		g, y := any(g).([]float32), any(y).([]float32)
		if log {
			s := float32(kernel.SumF32F64(g))
			kernel.ExpF32(d, y)
			kernel.MulConstF32(d, d, -s)
			kernel.AddF32(d, d, g)
		} else {
			s := kernel.DotF32(g, y)
			kernel.AddConstF32(d, g, -s)
			kernel.MulF32(d, d, y)
		}
		return
	}
	var s float64
	if log {
		for _, v := range g {
			s += float64(v)
		}
		for i, v := range y {
			dst[i] = g[i] - T(math.Exp(float64(v))*s)
		}
		return
	}
	for i, v := range g {
		s += float64(v) * float64(y[i])
	}
	for i, v := range g {
		dst[i] = y[i] * (v - T(s))
	}
}

// softmaxBwdCols is SoftmaxBwd on one (n, inner) block; s is scratch of
// length inner.
func softmaxBwdCols[T Float](dst, g, y []T, n int, s []float64, log bool) {
	inner := len(s)
	clear(s)
	for i := 0; i < n; i++ {
		gr, yr := g[i*inner:(i+1)*inner], y[i*inner:(i+1)*inner]
		for j, v := range gr {
			if log {
				s[j] += float64(v)
			} else {
				s[j] += float64(v) * float64(yr[j])
			}
		}
	}
	for i := 0; i < n; i++ {
		gr, yr, dr := g[i*inner:(i+1)*inner], y[i*inner:(i+1)*inner], dst[i*inner:(i+1)*inner]
		for j, v := range gr {
			if log {
				dr[j] = v - T(math.Exp(float64(yr[j]))*s[j])
			} else {
				dr[j] = yr[j] * (v - T(s[j]))
			}
		}
	}
}
