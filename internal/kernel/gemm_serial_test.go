// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestGemmPanelsSerial checks GemmPanelsSerialF32 and F64 against the
// parallel GemmPanels bit for bit, whole and computed a range of columns
// at a time (as a convolution of one image splits its positions), at two
// threads with the parallel threshold at 0, so that GemmPanels splits.
func TestGemmPanelsSerial(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	old := parallelThreshold
	parallelThreshold = 0
	defer func() { parallelThreshold = old }()
	rnd := rand.New(rand.NewPCG(9, 10))
	for _, s := range []struct{ m, n, k int }{{1, 1, 1}, {13, 70, 9}, {64, 97, 147}, {40, 33, 300}, {5, 200, 17}} {
		a := make([]float64, s.m*s.k)
		b := make([]float64, s.k*s.n)
		c0 := make([]float64, s.m*s.n)
		for _, x := range [][]float64{a, b, c0} {
			for i := range x {
				x[i] = rnd.Float64()*2 - 1
			}
		}
		pack := func(b []float64, ldb int) func(dst []float64, w, p0, kb, j0, cols int) {
			return func(dst []float64, w, p0, kb, j0, cols int) {
				for p := range kb {
					for j := range w {
						v := 0.0
						if j < cols {
							v = b[(p0+p)*ldb+j0+j]
						}
						dst[p*w+j] = v
					}
				}
			}
		}
		for _, beta := range []float64{0, 1} {
			name := fmt.Sprintf("%+v beta=%v", s, beta)
			want := append([]float64(nil), c0...)
			GemmPanelsF64(s.m, s.n, s.k, 1, a, s.k, pack(b, s.n), beta, want, s.n)
			got := append([]float64(nil), c0...)
			GemmPanelsSerialF64(s.m, s.n, s.k, 1, a, s.k, pack(b, s.n), beta, got, s.n)
			// columns [0, 32) and [32, n), each packing its own panels
			parts := append([]float64(nil), c0...)
			for _, r := range [][2]int{{0, min(32, s.n)}, {min(32, s.n), s.n}} {
				GemmPanelsSerialF64(s.m, r[1]-r[0], s.k, 1, a, s.k, pack(b[r[0]:], s.n), beta, parts[r[0]:], s.n)
			}
			a32, b32, c32 := to32(a), to32(b), to32(c0)
			want32 := append([]float32(nil), c32...)
			GemmPanelsF32(s.m, s.n, s.k, 1, a32, s.k, pack32(b32, s.n), float32(beta), want32, s.n)
			got32 := append([]float32(nil), c32...)
			GemmPanelsSerialF32(s.m, s.n, s.k, 1, a32, s.k, pack32(b32, s.n), float32(beta), got32, s.n)
			for i := range want {
				if math.Float64bits(got[i]) != math.Float64bits(want[i]) || math.Float64bits(parts[i]) != math.Float64bits(want[i]) {
					t.Fatalf("%s: [%d] = %v serial, %v by parts; want %v", name, i, got[i], parts[i], want[i])
				}
				if math.Float32bits(got32[i]) != math.Float32bits(want32[i]) {
					t.Fatalf("%s float32: [%d] = %v; want %v", name, i, got32[i], want32[i])
				}
			}
		}
	}
}

func to32(s []float64) []float32 {
	r := make([]float32, len(s))
	for i, v := range s {
		r[i] = float32(v)
	}
	return r
}

func pack32(b []float32, ldb int) func(dst []float32, w, p0, kb, j0, cols int) {
	return func(dst []float32, w, p0, kb, j0, cols int) {
		for p := range kb {
			for j := range w {
				var v float32
				if j < cols {
					v = b[(p0+p)*ldb+j0+j]
				}
				dst[p*w+j] = v
			}
		}
	}
}
