// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

// naiveProd is the reference triple loop, accumulated in float64: it returns
// op(A)*op(B) and |op(A)|*|op(B)| (used to scale the error tolerance).
func naiveProd[T float](transA, transB bool, m, n, k int, a []T, lda int, b []T, ldb int) (prod, mag []float64) {
	prod = make([]float64, m*n)
	mag = make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, sa float64
			for p := 0; p < k; p++ {
				var av, bv T
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
				sa += math.Abs(float64(av) * float64(bv))
			}
			prod[i*n+j] = s
			mag[i*n+j] = sa
		}
	}
	return prod, mag
}

// naiveGemm returns the reference alpha*op(A)*op(B) + beta*C and the
// magnitude |alpha|*|op(A)|*|op(B)| + |beta*C| of each element, given the
// results of naiveProd.
func naiveGemm[T float](m, n int, prod, pmag []float64, alpha, beta T, c []T, ldc int) (want, mag []float64) {
	want = make([]float64, m*n)
	mag = make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			w := float64(alpha) * prod[i*n+j]
			g := math.Abs(float64(alpha)) * pmag[i*n+j]
			if beta != 0 {
				cv := float64(c[i*ldc+j])
				w += float64(beta) * cv
				g += math.Abs(float64(beta) * cv)
			}
			want[i*n+j] = w
			mag[i*n+j] = g
		}
	}
	return want, mag
}

func eps[T float]() float64 {
	var z T
	if _, ok := any(z).(float32); ok {
		return 0x1p-23
	}
	return 0x1p-52
}

// guarded returns a slice of rows×cols elements with row stride ld, filled
// by fill, inside a larger buffer whose gaps and ends hold NaN. The full
// buffer and the offset of the slice are also returned for checkGuards.
func guarded[T float](rows, cols, ld int, fill func() T) (s, buf []T, off int) {
	const guard = 7
	n := 0
	if rows > 0 && cols > 0 {
		n = (rows-1)*ld + cols
	}
	buf = make([]T, n+2*guard)
	nan := T(math.NaN())
	for i := range buf {
		buf[i] = nan
	}
	s = buf[guard : guard+n : guard+n]
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			s[i*ld+j] = fill()
		}
	}
	return s, buf, guard
}

// checkGuards reports NaN guards (elements of buf outside the rows×cols
// matrix at off with stride ld) that were overwritten.
func checkGuards[T float](t *testing.T, name string, buf []T, off, rows, cols, ld int) {
	t.Helper()
	for i, v := range buf {
		j := i - off
		if j >= 0 && rows > 0 && cols > 0 && j/ld < rows && j%ld < cols {
			continue
		}
		if !math.IsNaN(float64(v)) {
			t.Errorf("%s guard at %d: got %v; want NaN", name, i-off, v)
			return
		}
	}
}

type gemmCase struct {
	m, n, k int
}

func gemmCases() []gemmCase {
	sizes := []int{0, 1, 2, 3, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65}
	var cs []gemmCase
	for _, s := range sizes {
		cs = append(cs, gemmCase{s, s, s}, gemmCase{s, 17, 33}, gemmCase{33, s, 17}, gemmCase{17, 33, s})
	}
	cs = append(cs,
		gemmCase{1, 65, 7}, gemmCase{65, 1, 9}, gemmCase{13, 97, 5}, gemmCase{97, 13, 300},
		gemmCase{300, 257, 129}, gemmCase{129, 45, 600},
	)
	return cs
}

type alphaBeta struct{ alpha, beta float64 }

var alphaBetas = []alphaBeta{{1, 0}, {1, 1}, {-0.5, 2}, {0, 0.5}, {0, 0}, {2, 0}}

// testGemm runs the full Gemm with micro-kernel kern over the test table.
func testGemm[T float](t *testing.T, kern *microKernel[T]) {
	rnd := rand.New(rand.NewPCG(1, 2))
	fill := func() T { return T(rnd.Float64()*2 - 1) }
	for ci, tc := range gemmCases() {
		for tr := 0; tr < 4; tr++ {
			transA, transB := tr&1 != 0, tr&2 != 0
			// Use padded strides on every other case.
			pad := (ci + tr) % 3
			ar, ac := tc.m, tc.k
			if transA {
				ar, ac = tc.k, tc.m
			}
			br, bc := tc.k, tc.n
			if transB {
				br, bc = tc.n, tc.k
			}
			lda, ldb, ldc := max(ac, 1)+pad, max(bc, 1)+2*pad, max(tc.n, 1)+pad
			a, abuf, aoff := guarded[T](ar, ac, lda, fill)
			b, bbuf, boff := guarded[T](br, bc, ldb, fill)
			prod, pmag := naiveProd(transA, transB, tc.m, tc.n, tc.k, a, lda, b, ldb)
			for _, ab := range alphaBetas {
				alpha, beta := T(ab.alpha), T(ab.beta)
				cfill := fill
				if beta == 0 {
					cfill = func() T { return T(math.NaN()) }
				}
				c, cbuf, coff := guarded[T](tc.m, tc.n, ldc, cfill)
				want, mag := naiveGemm(tc.m, tc.n, prod, pmag, alpha, beta, c, ldc)
				gemm(kern, transA, transB, tc.m, tc.n, tc.k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
				name := fmt.Sprintf("%s m=%d n=%d k=%d transA=%v transB=%v alpha=%v beta=%v lda=%d ldb=%d ldc=%d",
					kern.name, tc.m, tc.n, tc.k, transA, transB, alpha, beta, lda, ldb, ldc)
				tol := 2 * eps[T]() * float64(tc.k+2)
			loop:
				for i := 0; i < tc.m; i++ {
					for j := 0; j < tc.n; j++ {
						got := float64(c[i*ldc+j])
						w := want[i*tc.n+j]
						if math.IsNaN(got) || math.Abs(got-w) > tol*mag[i*tc.n+j]+1e-30 {
							t.Errorf("%s: C[%d][%d]: got %v; want %v", name, i, j, got, w)
							break loop
						}
					}
				}
				checkGuards(t, name+" C", cbuf, coff, tc.m, tc.n, ldc)
				if t.Failed() {
					return
				}
			}
			checkGuards(t, "A", abuf, aoff, ar, ac, lda)
			checkGuards(t, "B", bbuf, boff, br, bc, ldb)
		}
	}
}

func TestGemmF32(t *testing.T) {
	for _, kern := range kernelsF32() {
		t.Run(kern.name, func(t *testing.T) { testGemm(t, kern) })
	}
}

func TestGemmF64(t *testing.T) {
	for _, kern := range kernelsF64() {
		t.Run(kern.name, func(t *testing.T) { testGemm(t, kern) })
	}
}

// TestGemmParallel forces the parallel path on small products.
func TestGemmParallel(t *testing.T) {
	old, oldGemv := parallelThreshold, gemvParallelThreshold
	parallelThreshold, gemvParallelThreshold = 0, 0
	defer func() { parallelThreshold, gemvParallelThreshold = old, oldGemv }()
	t.Run("f32", func(t *testing.T) { testGemm(t, f32Kernel) })
	t.Run("f64", func(t *testing.T) { testGemm(t, f64Kernel) })
}

// TestGemmExported checks the exported entry points on a few shapes.
func TestGemmExported(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []gemmCase{{0, 0, 0}, {3, 0, 5}, {5, 7, 0}, {1, 7, 5}, {3, 9, 4}, {8, 33, 17}, {33, 17, 65}, {128, 256, 96}, {128, 10, 128}, {100, 16, 40}} {
		for tr := 0; tr < 4; tr++ {
			transA, transB := tr&1 != 0, tr&2 != 0
			a := make([]float32, tc.m*tc.k)
			b := make([]float32, tc.k*tc.n)
			c := make([]float32, tc.m*tc.n)
			for i := range a {
				a[i] = rnd.Float32()
			}
			for i := range b {
				b[i] = rnd.Float32()
			}
			for i := range c {
				c[i] = float32(math.NaN())
			}
			lda, ldb := max(tc.k, 1), max(tc.n, 1)
			if transA {
				lda = max(tc.m, 1)
			}
			if transB {
				ldb = max(tc.k, 1)
			}
			ldc := max(tc.n, 1)
			prod, pmag := naiveProd(transA, transB, tc.m, tc.n, tc.k, a, lda, b, ldb)
			want, mag := naiveGemm(tc.m, tc.n, prod, pmag, 1.5, 0, c, ldc)
			GemmF32(transA, transB, tc.m, tc.n, tc.k, 1.5, a, lda, b, ldb, 0, c, ldc)
			a64, b64, c64 := toF64(a), toF64(b), toF64(c)
			GemmF64(transA, transB, tc.m, tc.n, tc.k, 1.5, a64, lda, b64, ldb, 0, c64, ldc)
			for i := range want {
				if d := math.Abs(float64(c[i]) - want[i]); !(d <= 1e-5*mag[i]+1e-30) {
					t.Fatalf("GemmF32 %v trans=%d: C[%d]: got %v; want %v", tc, tr, i, c[i], want[i])
				}
				if d := math.Abs(c64[i] - want[i]); !(d <= 1e-13*mag[i]+1e-30) {
					t.Fatalf("GemmF64 %v trans=%d: C[%d]: got %v; want %v", tc, tr, i, c64[i], want[i])
				}
			}
		}
	}
}

func toF64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// testMicroKernel compares a micro-kernel with gemmKernelGeneric.
func testMicroKernel[T float](t *testing.T, kern *microKernel[T]) {
	rnd := rand.New(rand.NewPCG(5, 6))
	mr, nr := kern.mr, kern.nr
	for _, k := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 63, 64, 65, 256, 257} {
		a := make([]T, mr*k)
		b := make([]T, nr*k)
		for i := range a {
			a[i] = T(rnd.Float64()*2 - 1)
		}
		for i := range b {
			b[i] = T(rnd.Float64()*2 - 1)
		}
		for _, ab := range alphaBetas {
			alpha, beta := T(ab.alpha), T(ab.beta)
			ldc := nr + 3
			cfill := func() T { return T(rnd.Float64()) }
			if beta == 0 {
				cfill = func() T { return T(math.NaN()) }
			}
			c, cbuf, coff := guarded[T](mr, nr, ldc, cfill)
			want := append([]T(nil), c...)
			gemmKernelGeneric(mr, nr, k, a, b, want, ldc, alpha, beta)
			kern.fn(k, a, b, c, ldc, alpha, beta)
			name := fmt.Sprintf("%s k=%d alpha=%v beta=%v", kern.name, k, alpha, beta)
			tol := 2 * eps[T]() * float64(k+2)
			for i := 0; i < mr; i++ {
				for j := 0; j < nr; j++ {
					got, w := c[i*ldc+j], want[i*ldc+j]
					if math.IsNaN(float64(got)) || math.Abs(float64(got-w)) > tol*(math.Abs(float64(w))+float64(k)) {
						t.Fatalf("%s: C[%d][%d]: got %v; want %v", name, i, j, got, w)
					}
				}
			}
			checkGuards(t, name, cbuf, coff, mr, nr, ldc)
		}
	}
}

func TestMicroKernelF32(t *testing.T) {
	for _, kern := range kernelsF32() {
		t.Run(kern.name, func(t *testing.T) { testMicroKernel(t, kern) })
		for _, e := range kern.edges {
			t.Run(e.name, func(t *testing.T) { testMicroKernel(t, e) })
		}
	}
}

func TestMicroKernelF64(t *testing.T) {
	for _, kern := range kernelsF64() {
		t.Run(kern.name, func(t *testing.T) { testMicroKernel(t, kern) })
	}
}

func TestGemmPanics(t *testing.T) {
	a := make([]float32, 12)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"negative m", func() { GemmF32(false, false, -1, 2, 2, 1, a, 2, a, 2, 0, a, 2) }},
		{"small lda", func() { GemmF32(false, false, 2, 2, 3, 1, a, 2, a, 2, 0, a, 2) }},
		{"short b", func() { GemmF32(false, false, 2, 5, 3, 1, a, 3, a, 5, 0, make([]float32, 10), 5) }},
		{"short c", func() { GemmF32(false, false, 4, 4, 1, 1, a, 1, a, 4, 0, a, 4) }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: got no panic; want panic", tc.name)
				}
			}()
			tc.f()
		}()
	}
}

func TestGemmAllocs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts need a non-race, non-short run")
	}
	for _, tc := range []struct {
		name    string
		m, n, k int
	}{
		{"small", 64, 64, 64},
		{"mlp", 128, 256, 784}, // parallel when GOMAXPROCS > 1
		{"gemv", 1, 256, 784},
		{"gemv64", 64, 256, 784}, // parallel when GOMAXPROCS > 1
	} {
		a := make([]float32, tc.m*tc.k)
		b := make([]float32, tc.k*tc.n)
		c := make([]float32, tc.m*tc.n)
		f := func() { GemmF32(false, true, tc.m, tc.n, tc.k, 1, a, tc.k, b, tc.k, 0, c, tc.n) }
		f()
		if allocs := testing.AllocsPerRun(20, f); allocs > 0 {
			t.Errorf("%s: GemmF32 allocations per call: got %v; want 0", tc.name, allocs)
		}
	}
}

// testGemmPanels runs the Gemm whose B is packed by a PanelFunc over the
// test table (neither operand transposed), against the reference loop and
// against the packed path of the ordinary Gemm, bit for bit: both pack
// the same panels.
func testGemmPanels[T float](t *testing.T, kern *microKernel[T]) {
	rnd := rand.New(rand.NewPCG(5, 6))
	fill := func() T { return T(rnd.Float64()*2 - 1) }
	for ci, tc := range gemmCases() {
		pad := ci % 3
		lda, ldb, ldc := max(tc.k, 1)+pad, max(tc.n, 1)+2*pad, max(tc.n, 1)+pad
		a, _, _ := guarded[T](tc.m, tc.k, lda, fill)
		b, _, _ := guarded[T](tc.k, tc.n, ldb, fill)
		prod, pmag := naiveProd(false, false, tc.m, tc.n, tc.k, a, lda, b, ldb)
		var calls atomic.Int64 // packB runs on several goroutines at once
		pb := func(dst []T, w, p0, kb, j0, cols int) {
			calls.Add(1)
			if len(dst) != w*kb || j0+cols > tc.n || p0+kb > tc.k || cols > w {
				// (Errorf: this may run on a worker goroutine)
				t.Errorf("m=%d n=%d k=%d: packB(len %d, w=%d, p0=%d, kb=%d, j0=%d, cols=%d) out of range", tc.m, tc.n, tc.k, len(dst), w, p0, kb, j0, cols)
				return
			}
			for p := range kb {
				for j := range w {
					var v T
					if j < cols {
						v = b[(p0+p)*ldb+j0+j]
					}
					dst[p*w+j] = v
				}
			}
		}
		for _, ab := range alphaBetas {
			alpha, beta := T(ab.alpha), T(ab.beta)
			c, cbuf, coff := guarded[T](tc.m, tc.n, ldc, fill)
			c2 := append([]T(nil), cbuf...)[coff:]
			want, mag := naiveGemm(tc.m, tc.n, prod, pmag, alpha, beta, c, ldc)
			gemm(kern, false, false, tc.m, tc.n, tc.k, alpha, a, lda, nil, max(tc.n, 1), beta, c, ldc, pb)
			// The ordinary Gemm on its packed path, on the same C.
			if tc.m > 0 && tc.n > 0 && tc.k > 0 && alpha != 0 {
				args := gemmArgs[T]{false, false, tc.m, tc.n, tc.k, alpha, beta, a, b, c2, lda, ldb, ldc, nil}
				kern.run(&args, 0, tc.m, 0, tc.n)
			} else if tc.m > 0 && tc.n > 0 {
				scaleC(tc.m, tc.n, beta, c2, ldc)
			}
			name := fmt.Sprintf("%s m=%d n=%d k=%d alpha=%v beta=%v", kern.name, tc.m, tc.n, tc.k, alpha, beta)
			tol := 2 * eps[T]() * float64(tc.k+2)
		loop:
			for i := 0; i < tc.m; i++ {
				for j := 0; j < tc.n; j++ {
					got := float64(c[i*ldc+j])
					if w := want[i*tc.n+j]; math.IsNaN(got) || math.Abs(got-w) > tol*mag[i*tc.n+j]+1e-30 {
						t.Errorf("%s: C[%d][%d]: got %v; want %v", name, i, j, got, w)
						break loop
					}
					if got2 := float64(c2[i*ldc+j]); got != got2 {
						t.Errorf("%s: C[%d][%d]: got %v; the packed Gemm gives %v", name, i, j, got, got2)
						break loop
					}
				}
			}
			checkGuards(t, name+" C", cbuf, coff, tc.m, tc.n, ldc)
			if t.Failed() {
				return
			}
		}
		if tc.m > 0 && tc.n > 0 && tc.k > 0 && calls.Load() == 0 {
			t.Fatalf("m=%d n=%d k=%d: packB never called", tc.m, tc.n, tc.k)
		}
	}
}

func TestGemmPanels(t *testing.T) {
	for _, kern := range kernelsF32() {
		t.Run("f32/"+kern.name, func(t *testing.T) { testGemmPanels(t, kern) })
	}
	for _, kern := range kernelsF64() {
		t.Run("f64/"+kern.name, func(t *testing.T) { testGemmPanels(t, kern) })
	}
	old := parallelThreshold
	parallelThreshold = 0
	defer func() { parallelThreshold = old }()
	t.Run("parallel/f32", func(t *testing.T) { testGemmPanels(t, f32Kernel) })
	t.Run("parallel/f64", func(t *testing.T) { testGemmPanels(t, f64Kernel) })
}
