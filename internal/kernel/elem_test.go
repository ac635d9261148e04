// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

var elemSizes = []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 255, 256, 257}

const elemGuard = 5

// guardedVec returns n random values in the middle of a NaN-filled buffer.
func guardedVec(rnd *rand.Rand, n int) (s, buf []float32) {
	buf = make([]float32, n+2*elemGuard)
	for i := range buf {
		buf[i] = float32(math.NaN())
	}
	s = buf[elemGuard : elemGuard+n : elemGuard+n]
	for i := range s {
		s[i] = float32(rnd.NormFloat64())
	}
	return s, buf
}

func checkVecGuards(t *testing.T, name string, buf []float32) {
	t.Helper()
	n := len(buf) - 2*elemGuard
	for i, v := range buf {
		if (i < elemGuard || i >= elemGuard+n) && !math.IsNaN(float64(v)) {
			t.Errorf("%s: guard %d: got %v; want NaN", name, i-elemGuard, v)
		}
	}
}

func sameF32(a, b float32) bool {
	return a == b || a != a && b != b
}

type binaryImpl struct {
	name string
	f    func(dst, a, b []float32)
}

func TestBinaryF32(t *testing.T) {
	for _, tc := range []struct {
		name  string
		impls []binaryImpl
		ref   func(a, b float32) float32
	}{
		{"add", []binaryImpl{{"AddF32", AddF32}, {"generic", addF32Generic}}, func(a, b float32) float32 { return a + b }},
		{"mul", []binaryImpl{{"MulF32", MulF32}, {"generic", mulF32Generic}}, func(a, b float32) float32 { return a * b }},
		{"sub", []binaryImpl{{"SubF32", SubF32}, {"generic", subF32Generic}}, func(a, b float32) float32 { return a - b }},
		{"relugrad", []binaryImpl{{"ReluGradF32", ReluGradF32}, {"generic", reluGradF32Generic}}, func(a, b float32) float32 {
			if b > 0 {
				return a
			}
			return 0
		}},
	} {
		for _, impl := range tc.impls {
			rnd := rand.New(rand.NewPCG(1, 1))
			for _, n := range elemSizes {
				for _, alias := range []string{"none", "dst=a", "dst=b"} {
					name := fmt.Sprintf("%s/%s n=%d alias=%s", tc.name, impl.name, n, alias)
					a, abuf := guardedVec(rnd, n)
					b, bbuf := guardedVec(rnd, n)
					if n > 2 {
						a[n/2] = float32(math.NaN())
						b[n/3] = float32(math.Inf(1))
					}
					want := make([]float32, n)
					for i := range want {
						want[i] = tc.ref(a[i], b[i])
					}
					dst, dbuf := guardedVec(rnd, n)
					switch alias {
					case "dst=a":
						dst, dbuf = a, abuf
					case "dst=b":
						dst, dbuf = b, bbuf
					}
					impl.f(dst, a, b)
					for i := range want {
						if !sameF32(dst[i], want[i]) {
							t.Errorf("%s: dst[%d]: got %v; want %v", name, i, dst[i], want[i])
							break
						}
					}
					checkVecGuards(t, name+" dst", dbuf)
					checkVecGuards(t, name+" a", abuf)
					checkVecGuards(t, name+" b", bbuf)
				}
			}
		}
	}
}

type constImpl struct {
	name string
	f    func(dst, x []float32, c float32)
}

func TestConstF32(t *testing.T) {
	for _, tc := range []struct {
		name  string
		impls []constImpl
		ref   func(x, c float32) float32
	}{
		{"addconst", []constImpl{{"AddConstF32", AddConstF32}, {"generic", addConstF32Generic}}, func(x, c float32) float32 { return x + c }},
		{"mulconst", []constImpl{{"MulConstF32", MulConstF32}, {"generic", mulConstF32Generic}}, func(x, c float32) float32 { return x * c }},
	} {
		for _, impl := range tc.impls {
			rnd := rand.New(rand.NewPCG(4, 4))
			for _, n := range elemSizes {
				for _, c := range []float32{0, 1.5, float32(math.Inf(-1))} {
					for _, alias := range []bool{false, true} {
						name := fmt.Sprintf("%s/%s n=%d c=%v alias=%v", tc.name, impl.name, n, c, alias)
						x, xbuf := guardedVec(rnd, n)
						if n > 2 {
							x[n/2] = float32(math.NaN())
							x[n-1] = float32(math.Inf(1))
						}
						want := make([]float32, n)
						for i := range want {
							want[i] = tc.ref(x[i], c)
						}
						dst, dbuf := guardedVec(rnd, n)
						if alias {
							dst, dbuf = x, xbuf
						}
						impl.f(dst, x, c)
						for i := range want {
							if !sameF32(dst[i], want[i]) {
								t.Errorf("%s: dst[%d]: got %v; want %v", name, i, dst[i], want[i])
								break
							}
						}
						checkVecGuards(t, name+" dst", dbuf)
						checkVecGuards(t, name+" x", xbuf)
					}
				}
			}
		}
	}
}

func TestAxpyScaleReluF32(t *testing.T) {
	type impls struct {
		name  string
		axpy  func(alpha float32, x, y []float32)
		scale func(alpha float32, x []float32)
		relu  func(dst, x []float32)
	}
	for _, impl := range []impls{
		{"exported", AxpyF32, ScaleF32, ReluF32},
		{"generic", axpyF32Generic, scaleF32Generic, reluF32Generic},
	} {
		rnd := rand.New(rand.NewPCG(2, 2))
		for _, n := range elemSizes {
			for _, alpha := range []float32{0, 1, -2.5} {
				name := fmt.Sprintf("%s n=%d alpha=%v", impl.name, n, alpha)
				x, xbuf := guardedVec(rnd, n)
				y, ybuf := guardedVec(rnd, n)
				y0 := append([]float32(nil), y...)
				impl.axpy(alpha, x, y)
				for i := range y {
					want := float64(y0[i]) + float64(alpha)*float64(x[i])
					tol := 1e-7 * (math.Abs(float64(y0[i])) + math.Abs(float64(alpha*x[i])))
					if math.Abs(float64(y[i])-want) > tol {
						t.Errorf("axpy %s: y[%d]: got %v; want %v", name, i, y[i], want)
						break
					}
				}
				checkVecGuards(t, "axpy "+name+" x", xbuf)
				checkVecGuards(t, "axpy "+name+" y", ybuf)

				x0 := append([]float32(nil), x...)
				impl.scale(alpha, x)
				for i := range x {
					if want := x0[i] * alpha; !sameF32(x[i], want) {
						t.Errorf("scale %s: x[%d]: got %v; want %v", name, i, x[i], want)
						break
					}
				}
				checkVecGuards(t, "scale "+name, xbuf)
			}
			name := fmt.Sprintf("relu %s n=%d", impl.name, n)
			x, xbuf := guardedVec(rnd, n)
			if n > 3 {
				x[1] = float32(math.NaN())
				x[2] = float32(math.Copysign(0, -1))
				x[3] = float32(math.Inf(-1))
			}
			dst, dbuf := guardedVec(rnd, n)
			impl.relu(dst, x)
			for i, v := range x {
				want := v
				if v < 0 {
					want = 0
				}
				if !sameF32(dst[i], want) {
					t.Errorf("%s: dst[%d]: got %v; want %v", name, i, dst[i], want)
					break
				}
			}
			checkVecGuards(t, name+" dst", dbuf)
			impl.relu(x, x) // in place
			for i := range x {
				if !sameF32(x[i], dst[i]) {
					t.Errorf("%s in place: x[%d]: got %v; want %v", name, i, x[i], dst[i])
					break
				}
			}
			checkVecGuards(t, name+" x", xbuf)
		}
	}
}

func TestReduceF32(t *testing.T) {
	type impls struct {
		name  string
		sum   func(x []float32) float32
		sum64 func(x []float32) float64
		max   func(x []float32) float32
		dot   func(x, y []float32) float32
	}
	for _, impl := range []impls{
		{"exported", SumF32, SumF32F64, MaxF32, DotF32},
		{"generic", sumF32Generic, sumF32F64Generic, maxF32Generic, dotF32Generic},
	} {
		rnd := rand.New(rand.NewPCG(3, 3))
		for _, n := range elemSizes {
			name := fmt.Sprintf("%s n=%d", impl.name, n)
			x, _ := guardedVec(rnd, n)
			y, _ := guardedVec(rnd, n)
			var s, sa, d, da float64
			for i := range x {
				s += float64(x[i])
				sa += math.Abs(float64(x[i]))
				d += float64(x[i]) * float64(y[i])
				da += math.Abs(float64(x[i]) * float64(y[i]))
			}
			tol := 2 * 0x1p-23 * float64(n+1)
			if got := impl.sum(x); math.Abs(float64(got)-s) > tol*sa {
				t.Errorf("sum %s: got %v; want %v", name, got, s)
			}
			// float64 accumulation: the error is a few float64 ulps.
			if got := impl.sum64(x); math.Abs(got-s) > 0x1p-50*float64(n+1)*sa {
				t.Errorf("sum64 %s: got %v; want %v", name, got, s)
			}
			if got := impl.dot(x, y); math.Abs(float64(got)-d) > tol*da {
				t.Errorf("dot %s: got %v; want %v", name, got, d)
			}
			if n == 0 {
				continue
			}
			want := x[0]
			for _, v := range x {
				want = max(want, v)
			}
			if got := impl.max(x); got != want {
				t.Errorf("max %s: got %v; want %v", name, got, want)
			}
			// The maximum at each end.
			for _, i := range []int{0, n - 1} {
				old := x[i]
				x[i] = 1000
				if got := impl.max(x); got != 1000 {
					t.Errorf("max %s with x[%d]=1000: got %v; want 1000", name, i, got)
				}
				x[i] = old
			}
			// A NaN anywhere gives NaN.
			for _, i := range []int{0, n / 2, n - 1} {
				old := x[i]
				x[i] = float32(math.NaN())
				if got := impl.max(x); !math.IsNaN(float64(got)) {
					t.Errorf("max %s with x[%d]=NaN: got %v; want NaN", name, i, got)
				}
				if got := impl.sum(x); !math.IsNaN(float64(got)) {
					t.Errorf("sum %s with x[%d]=NaN: got %v; want NaN", name, i, got)
				}
				if got := impl.sum64(x); !math.IsNaN(got) {
					t.Errorf("sum64 %s with x[%d]=NaN: got %v; want NaN", name, i, got)
				}
				x[i] = old
			}
		}
	}
}

func TestElemPanics(t *testing.T) {
	a := make([]float32, 3)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"AddF32", func() { AddF32(a, a, a[:2]) }},
		{"SubF32", func() { SubF32(a, a[:2], a) }},
		{"AddConstF32", func() { AddConstF32(a, a[:2], 1) }},
		{"MulConstF32", func() { MulConstF32(a[:1], a, 1) }},
		{"MulF32", func() { MulF32(a[:1], a, a) }},
		{"ReluGradF32", func() { ReluGradF32(a, a, a[:1]) }},
		{"AxpyF32", func() { AxpyF32(1, a, a[:2]) }},
		{"ReluF32", func() { ReluF32(a, a[:2]) }},
		{"DotF32", func() { DotF32(a, a[:1]) }},
		{"MaxF32", func() { MaxF32(nil) }},
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

func BenchmarkElemF32(b *testing.B) {
	const n = 4096
	x, y, z := randSlice[float32](n), randSlice[float32](n), make([]float32, n)
	for _, bc := range []struct {
		name string
		f    func()
	}{
		{"Add", func() { AddF32(z, x, y) }},
		{"Mul", func() { MulF32(z, x, y) }},
		{"Axpy", func() { AxpyF32(0.5, x, z) }},
		{"Scale", func() { ScaleF32(1, z) }},
		{"Relu", func() { ReluF32(z, x) }},
		{"ReluGrad", func() { ReluGradF32(z, x, y) }},
		{"ReluGrad/generic", func() { reluGradF32Generic(z, x, y) }},
		{"Sum", func() { SumF32(x) }},
		{"SumF64", func() { SumF32F64(x) }},
		{"Sub", func() { SubF32(z, x, y) }},
		{"AddConst", func() { AddConstF32(z, x, 1) }},
		{"Max", func() { MaxF32(x) }},
		{"Dot", func() { DotF32(x, y) }},
		{"Add/generic", func() { addF32Generic(z, x, y) }},
		{"Dot/generic", func() { dotF32Generic(x, y) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(4 * n)
			for b.Loop() {
				bc.f()
			}
		})
	}
}
