package loops

import (
	"fmt"
	"slices"
	"testing"
)

// copyRef is Copy by multi-index, element by element.
func copyRef[T Float](dst, src []T, off int, shape, strides []int) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	idx := make([]int, len(shape))
	for k := 0; k < n; k++ {
		s := off
		for ax, i := range idx {
			s += i * strides[ax]
		}
		dst[k] = src[s]
		for ax := len(idx) - 1; ax >= 0; ax-- {
			idx[ax]++
			if idx[ax] < shape[ax] {
				break
			}
			idx[ax] = 0
		}
	}
}

// permuted returns the shape and strides of a contiguous base of shape
// base viewed through perm (as Tensor.Permute does).
func permuted(base, perm []int) (shape, strides []int) {
	st := make([]int, len(base))
	s := 1
	for ax := len(base) - 1; ax >= 0; ax-- {
		st[ax] = s
		s *= base[ax]
	}
	for _, p := range perm {
		shape = append(shape, base[p])
		strides = append(strides, st[p])
	}
	return shape, strides
}

func testCopyPermuted[T Float](t *testing.T) {
	for _, tc := range []struct {
		base, perm []int
	}{
		{[]int{8, 8}, []int{1, 0}},
		{[]int{9, 17}, []int{1, 0}},
		{[]int{40, 70}, []int{1, 0}},
		{[]int{5, 12}, []int{1, 0}}, // a plane too small for the tiles
		{[]int{3, 16, 24}, []int{0, 2, 1}},
		{[]int{16, 3, 24}, []int{2, 1, 0}},
		{[]int{2, 3, 16, 24}, []int{0, 3, 1, 2}},
		{[]int{2, 12, 3, 10}, []int{3, 2, 0, 1}},
		{[]int{4, 9, 11}, []int{2, 0, 1}},
	} {
		shape, strides := permuted(tc.base, tc.perm)
		name := fmt.Sprintf("%v/%v", tc.base, tc.perm)
		n := 1
		for _, d := range shape {
			n *= d
		}
		const off = 5
		src := make([]T, n+off)
		for i := range src {
			src[i] = T(i)
		}
		want, got := make([]T, n), make([]T, n)
		copyRef(want, src, off, shape, strides)
		Copy(got, src, off, shape, strides)
		if !slices.Equal(got, want) {
			t.Errorf("%s: Copy differs from the element-by-element copy", name)
		}
	}
}

func TestCopyPermuted(t *testing.T) {
	t.Run("f32", testCopyPermuted[float32])
	t.Run("f64", testCopyPermuted[float64])
}
