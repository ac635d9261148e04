package loops

import "github.com/nabla-go/nabla/internal/kernel"

// copyTransposed is Copy for a view whose last axis is strided in src but
// another axis p is contiguous there: a transpose or permute. Row by row,
// Copy would read src with a large stride, one cache line per element;
// instead each (p, last) plane is copied as a 2-d transpose in cache-sized
// tiles (kernel.Transpose). It reports whether it did the copy; it leaves
// views it does not fit (small planes, overlapping strides) to Copy.
func copyTransposed[T Elem](dst, src []T, off int, shape, strides []int) bool {
	r := len(shape)
	last := r - 1
	if r < 2 || shape[last] < 8 || strides[last] <= 1 {
		return false
	}
	p := -1
	for ax := last - 1; ax >= 0; ax-- {
		if strides[ax] == 1 {
			p = ax
			break
		}
	}
	if p < 0 || shape[p] < 8 || strides[last] < shape[p] {
		return false
	}
	var dbuf, ibuf, obuf [8]int
	dstStr, idx, outer := dbuf[:0], ibuf[:0], obuf[:0]
	if r > len(dbuf) {
		dstStr, idx, outer = make([]int, 0, r), make([]int, 0, r), make([]int, 0, r)
	}
	dstStr = dstStr[:r]
	st := 1
	for ax := last; ax >= 0; ax-- {
		dstStr[ax] = st
		st *= shape[ax]
	}
	if st == 0 {
		return true
	}
	n := 1
	for ax := 0; ax < last; ax++ {
		if ax != p {
			outer = append(outer, ax)
			n *= shape[ax]
		}
	}
	idx = idx[:len(outer)]
	// Plane (i along p, j along last): dst[i·dstStr[p] + j], src[i + j·strides[last]].
	ldd, lds, rows, cols := dstStr[p], strides[last], shape[last], shape[p]
	so, do := off, 0
	for range n {
		kernel.Transpose(dst[do:], ldd, src[so:], lds, rows, cols)
		for a := len(outer) - 1; a >= 0; a-- {
			ax := outer[a]
			idx[a]++
			so += strides[ax]
			do += dstStr[ax]
			if idx[a] < shape[ax] {
				break
			}
			so -= strides[ax] * shape[ax]
			do -= dstStr[ax] * shape[ax]
			idx[a] = 0
		}
	}
	return true
}
