package loops

import "slices"

// This file holds the loops of the sorting, scanning and selecting ops
// (sort, top-k, unique, bincount, cumsum, prod, nonzero), one generic body
// per op instantiated for every storage element type. They work on
// contiguous data seen as (outer, n, inner) blocks: the op runs along the
// middle axis of length n, for each of the outer*inner lines. Bool tensors
// come here as uint8 and half-precision ones as float32, so the element
// types are the Go number types.

// number is an element type the loops of this file take: the storage
// element types of every dtype that arithmetic runs on.
type number interface {
	~int64 | ~int32 | ~uint8 | ~float32 | ~float64
}

// isNaN reports whether x is a NaN; always false for integers.
func isNaN[T number](x T) bool { return x != x }

// less orders as PyTorch's sort does: ascending, with every NaN after every
// number and NaNs equal to each other.
func less[T number](a, b T) bool {
	if isNaN(a) {
		return false
	}
	return isNaN(b) || a < b
}

// ArgSort writes into idx (of len(src)) the positions that sort each line
// of src along its middle axis: stably, ascending (NaN last) or, if
// descending, descending (NaN first), equal elements keeping their order
// either way, as torch.sort(stable=True) does.
func ArgSort[T number](idx []int64, src []T, outer, n, inner int, descending bool) {
	perm := make([]int64, n)
	line := make([]T, n)
	for o := range outer {
		for in := range inner {
			base := o*n*inner + in
			for i := range n {
				perm[i] = int64(i)
				line[i] = src[base+i*inner]
			}
			slices.SortStableFunc(perm, func(a, b int64) int {
				x, y := line[a], line[b]
				if descending {
					x, y = y, x
				}
				switch {
				case less(x, y):
					return -1
				case less(y, x):
					return 1
				}
				return 0
			})
			for i, p := range perm {
				idx[base+i*inner] = p
			}
		}
	}
}

// Take writes src's elements at the positions idx along the middle axis:
// dst[o, i, in] = src[o, idx[o, i, in], in], where src's middle axis has
// length n and idx's (and dst's) has length k.
func Take[T number](dst []T, src []T, idx []int64, outer, n, k, inner int) {
	for o := range outer {
		for i := range k {
			for in := range inner {
				j := (o*k+i)*inner + in
				dst[j] = src[(o*n+int(idx[j]))*inner+in]
			}
		}
	}
}

// CumSum writes the running sums of src along the middle axis into dst,
// from the first element (or, if reverse, from the last), accumulating in
// A and rounding each sum to R, as PyTorch does: integers in int64,
// float32 in float64, half precision (here as float32) in float32.
func CumSum[T, A, R number](dst []R, src []T, outer, n, inner int, reverse bool) {
	for o := range outer {
		for in := range inner {
			base := o*n*inner + in
			var acc A
			for i := range n {
				if reverse {
					i = n - 1 - i
				}
				acc += A(src[base+i*inner])
				dst[base+i*inner] = R(acc)
			}
		}
	}
}

// Prod writes the product of each line of src along the middle axis into
// dst (of outer*inner elements), multiplying in A, as torch.prod does:
// integers in int64 (wrapping on overflow), floats in their own type.
func Prod[T, A number](dst []A, src []T, outer, n, inner int) {
	for o := range outer {
		for in := range inner {
			p := A(1)
			for i := range n {
				p *= A(src[(o*n+i)*inner+in])
			}
			dst[o*inner+in] = p
		}
	}
}

// ProdOthers writes into dst, for each element of src, the product of the
// other elements of its line along the middle axis: the gradient of the
// line's product. It multiplies the products before and after each
// element rather than dividing the whole product by it, so it is exact
// with zeros.
func ProdOthers[T number](dst, src []T, outer, n, inner int) {
	for o := range outer {
		for in := range inner {
			base := o*n*inner + in
			p := T(1)
			for i := range n { // dst[i] = product of the elements before i
				dst[base+i*inner] = p
				p *= src[base+i*inner]
			}
			p = 1
			for i := n - 1; i >= 0; i-- { // times the product of those after
				dst[base+i*inner] *= p
				p *= src[base+i*inner]
			}
		}
	}
}

// Unique returns the distinct values of src in ascending order, for each
// element of src the position of its value among them (the inverse), and
// how often each value occurs, as torch.unique(sorted=True,
// return_inverse=True, return_counts=True). NaNs are not equal to
// anything, so each NaN is a value of its own, sorted last.
func Unique[T number](src []T) (values []T, inverse, counts []int64) {
	order := make([]int64, len(src))
	ArgSort(order, src, 1, len(src), 1, false)
	inverse = make([]int64, len(src))
	for i, p := range order {
		x := src[p]
		if i == 0 || x != values[len(values)-1] {
			values = append(values, x)
			counts = append(counts, 0)
		}
		counts[len(counts)-1]++
		inverse[p] = int64(len(values) - 1)
	}
	return values, inverse, counts
}

// BinCount adds, for each i, w[i] (or 1 if w is nil) to dst[src[i]]. The
// caller has checked that every src[i] is in [0, len(dst)).
func BinCount[I number, W number](dst []W, src []I, w []W) {
	for i, x := range src {
		if w == nil {
			dst[int(x)]++
		} else {
			dst[int(x)] += w[i]
		}
	}
}

// CountNonzero returns how many elements of src are not zero (a NaN is not
// zero).
func CountNonzero[T number](src []T) int {
	c := 0
	for _, x := range src {
		if x != 0 {
			c++
		}
	}
	return c
}

// Nonzero writes the multi-index of each element of src (contiguous, of
// the given shape) that is not zero into dst, one row of len(shape)
// entries per element in row-major order; dst holds CountNonzero(src) rows.
func Nonzero[T number](dst []int64, src []T, shape []int) {
	r := len(shape)
	pos := make([]int64, r)
	k := 0
	for _, x := range src {
		if x != 0 {
			copy(dst[k:k+r], pos)
			k += r
		}
		for d := r - 1; d >= 0; d-- { // advance the multi-index
			pos[d]++
			if pos[d] < int64(shape[d]) {
				break
			}
			pos[d] = 0
		}
	}
}
