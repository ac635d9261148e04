package nabla

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestOuterInnerAxes checks which axis sets reduceRaw sums in place as an
// outer and an inner block around kept axes.
func TestOuterInnerAxes(t *testing.T) {
	for _, tc := range []struct {
		rank int
		axes []int
		m    [2]int
		ok   bool
	}{
		{4, []int{0, 2, 3}, [2]int{1, 2}, true},
		{4, []int{0, 3}, [2]int{1, 3}, true},
		{5, []int{0, 1, 4}, [2]int{2, 4}, true},
		{4, []int{0, 1, 2, 3}, [2]int{}, false}, // one block
		{4, []int{1, 2}, [2]int{}, false},
		{4, []int{0, 2}, [2]int{}, false}, // the last axis kept
		{4, []int{1, 3}, [2]int{}, false}, // the first axis kept
		{4, []int{0, 1, 3}, [2]int{2, 3}, true},
		{5, []int{0, 2, 4}, [2]int{}, false}, // three blocks
	} {
		shape := make([]int, tc.rank)
		for i := range shape {
			shape[i] = 2
		}
		m, ok := outerInnerAxes(shape, tc.axes)
		if ok != tc.ok || ok && m != tc.m {
			t.Errorf("rank %d axes %v: %v, %v; want %v, %v", tc.rank, tc.axes, m, ok, tc.m, tc.ok)
		}
	}
}

// TestSumOuterInner checks SumKeep over the first and last axes of
// contiguous float32 and float64 tensors (summed in place) against the
// float64 sum of each kept slice rounded once: float32 inputs, which are
// exact in float64, give the correctly rounded sum up to float64's
// rounding, far below float32's.
func TestSumOuterInner(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 5))
	for _, tc := range []struct {
		shape []int
		axes  []int
	}{
		{[]int{4, 64, 56, 56}, []int{0, 2, 3}},
		{[]int{3, 5, 7}, []int{0, 2}},
		{[]int{2, 3, 4, 5, 6}, []int{0, 1, 3, 4}},
	} {
		for _, dt := range []DType{Float32, Float64} {
			x := RandN(rng, tc.shape...).To(dt)
			got := x.SumKeep(tc.axes...).To(Float64).Data64()
			xs := x.To(Float64).Data64()
			m, _ := outerInnerAxes(tc.shape, tc.axes)
			A, M, I := numel(tc.shape[:m[0]]), numel(tc.shape[m[0]:m[1]]), numel(tc.shape[m[1]:])
			if len(got) != M {
				t.Fatalf("%v over %v: %d outputs; want %d", tc.shape, tc.axes, len(got), M)
			}
			for k := range M {
				var s float64
				for a := range A {
					for i := range I {
						s += xs[(a*M+k)*I+i]
					}
				}
				want := s
				if dt == Float32 {
					want = float64(float32(s))
				}
				if d := math.Abs(got[k] - want); d > 1e-12*float64(A*I) {
					t.Errorf("%v %v over %v: [%d] = %v; want %v", dt, tc.shape, tc.axes, k, got[k], want)
				}
			}
			// The gradient of the broadcast it serves.
			if !slices.Equal(x.SumKeep(tc.axes...).Shape(), keptShape(tc.shape, tc.axes)) {
				t.Errorf("%v over %v: shape %v", tc.shape, tc.axes, x.SumKeep(tc.axes...).Shape())
			}
		}
	}
}
