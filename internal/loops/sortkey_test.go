package loops

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// specials are the float values whose order the keys must get right: NaN
// (largest, equal to each other), both zeros (equal), the infinities, the
// extremes of the finite range and subnormals.
var specials = []float64{math.NaN(), 0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), 1, -1,
	math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, math.MaxFloat64, math.SmallestNonzeroFloat64}

// randomLine draws n values with many ties and, for floats, the specials.
func randomLine[T number](rng *rand.Rand, n int) []T {
	out := make([]T, n)
	var z T
	for i := range out {
		switch any(z).(type) {
		case float32, float64:
			if rng.IntN(4) == 0 {
				out[i] = T(specials[rng.IntN(len(specials))])
			} else {
				out[i] = T(float64(rng.IntN(21)-10) / 4)
			}
		case uint8:
			out[i] = T(rng.IntN(256))
		default:
			v := int64(rng.IntN(41) - 20)
			if rng.IntN(8) == 0 {
				v = []int64{math.MinInt64, math.MaxInt64, math.MinInt32, math.MaxInt32}[rng.IntN(4)]
			}
			out[i] = T(v) // int32 takes the low bits of the int64 extremes: still extremes of some kind
		}
	}
	return out
}

// checkTopKIndex compares TopKIndex with ArgSort, the comparison sort that
// defines the order, on random (outer, n, inner) data: k = n must give
// ArgSort's positions exactly, k < n the first k of them per line, and
// unsorted the same positions in ascending order.
func checkTopKIndex[T number](t *testing.T, name string) {
	rng := rand.New(rand.NewPCG(11, 12))
	// Lengths on both sides of smallLine and of the workers' split, and
	// lines strided by inner.
	for _, g := range [][3]int{{1, 0, 1}, {1, 1, 1}, {3, 7, 1}, {2, 32, 3}, {2, 33, 1}, {1, 300, 2}, {4, 1000, 1}, {1, 600, 7}, {33, 2000, 1}} {
		outer, n, inner := g[0], g[1], g[2]
		src := randomLine[T](rng, outer*n*inner)
		for _, desc := range []bool{false, true} {
			want := make([]int64, len(src))
			ArgSort(want, src, outer, n, inner, desc)
			for _, k := range []int{n, n / 2, min(n, 3)} {
				for _, sorted := range []bool{true, false} {
					got := make([]int64, outer*k*inner)
					vals := make([]T, len(got))
					TopKIndex(got, vals, src, outer, n, inner, k, desc, sorted)
					taken := make([]T, len(got))
					Take(taken, src, got, outer, n, k, inner)
					for i := range vals {
						if vals[i] != taken[i] && !(isNaN(vals[i]) && isNaN(taken[i])) || math.Signbit(float64(vals[i])) != math.Signbit(float64(taken[i])) {
							t.Fatalf("%s (%d, %d, %d) desc=%v k=%d sorted=%v: value %d is %v, want the element at its index, %v",
								name, outer, n, inner, desc, k, sorted, i, vals[i], taken[i])
						}
					}
					for o := range outer {
						for in := range inner {
							line := make([]int64, k)
							for j := range k {
								line[j] = want[(o*n+j)*inner+in]
							}
							if !sorted {
								slices.Sort(line)
							}
							for j := range k {
								if p := got[(o*k+j)*inner+in]; p != line[j] {
									t.Fatalf("%s (%d, %d, %d) desc=%v k=%d sorted=%v: line (%d, %d) position %d is %d, want %d",
										name, outer, n, inner, desc, k, sorted, o, in, j, p, line[j])
								}
							}
						}
					}
				}
			}
		}
	}
}

func TestTopKIndex(t *testing.T) {
	checkTopKIndex[float32](t, "float32")
	checkTopKIndex[float64](t, "float64")
	checkTopKIndex[int64](t, "int64")
	checkTopKIndex[int32](t, "int32")
	checkTopKIndex[uint8](t, "uint8")
}

// TestSortKeys checks the float keys on the specials directly: NaNs (of
// either sign and any payload) share the largest key, the zeros one key,
// and the others are ordered as the numbers.
func TestSortKeys(t *testing.T) {
	negNaN32 := math.Float32frombits(0xffc00001)
	if f32Key(negNaN32) != f32Key(float32(math.NaN())) || f32Key(negNaN32) != math.MaxUint32 {
		t.Errorf("float32 NaN keys %x, %x", f32Key(negNaN32), f32Key(float32(math.NaN())))
	}
	if f32Key(0) != f32Key(float32(math.Copysign(0, -1))) || f64Key(0) != f64Key(math.Copysign(0, -1)) {
		t.Error("the zeros have different keys")
	}
	vals := []float64{math.Inf(-1), -math.MaxFloat64, -math.MaxFloat32, -1, -math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat64, 0,
		math.SmallestNonzeroFloat64, math.SmallestNonzeroFloat32, 1, math.MaxFloat32, math.MaxFloat64, math.Inf(1), math.NaN()}
	for i := 1; i < len(vals); i++ {
		a, b := vals[i-1], vals[i]
		if !(f64Key(a) < f64Key(b)) {
			t.Errorf("f64Key(%v) = %x is not below f64Key(%v) = %x", a, f64Key(a), b, f64Key(b))
		}
		if a32, b32 := float32(a), float32(b); a32 != b32 && !(f32Key(a32) < f32Key(b32)) {
			t.Errorf("f32Key(%v) = %x is not below f32Key(%v) = %x", a32, f32Key(a32), b32, f32Key(b32))
		}
	}
}

func BenchmarkTopKIndex(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	const rows, n = 256, 4096
	src := make([]float32, rows*n)
	for i := range src {
		src[i] = float32(rng.NormFloat64())
	}
	idx := make([]int64, rows*n)
	for _, k := range []int{n, 10} {
		b.Run("k="+strconv.Itoa(k), func(b *testing.B) {
			for b.Loop() {
				TopKIndex(idx, nil, src, rows, n, 1, k, true, true)
			}
		})
	}
	b.Run("ArgSort", func(b *testing.B) {
		for b.Loop() {
			ArgSort(idx, src, rows, n, 1, true)
		}
	})
}
