// Copyright 2025 The nabla Authors. All rights reserved.

//go:build amd64 && !purego

package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// trans32Kernel is one float32-arithmetic assembly kernel and its twin.
type trans32Kernel struct {
	name string
	ok   bool // the CPU runs it
	f    func(dst, x []float32)
	twin func(dst, x []float32)
}

func trans32Kernels() []trans32Kernel {
	return []trans32Kernel{
		{"expF32AVX2", hasAVX2, expF32AVX2, expF32Twin},
		{"expF32AVX512", hasAVX512, expF32AVX512, expF32Twin},
		{"sigmoidF32AVX2", hasAVX2, sigmoidF32AVX2, sigmoidF32Twin},
		{"sigmoidF32AVX512", hasAVX512, sigmoidF32AVX512, sigmoidF32Twin},
		{"tanhF32AVX2", hasAVX2, tanhF32AVX2, tanhF32Twin},
		{"tanhF32AVX512", hasAVX512, tanhF32AVX512, tanhF32Twin},
		{"logF32AVX2", hasAVX2, logF32AVX2, logF32Twin},
		{"logF32AVX512", hasAVX512, logF32AVX512, logF32Twin},
		{"softplusF32AVX2", hasAVX2, softplusF32AVX2, softplusF32Twin},
		{"softplusF32AVX512", hasAVX512, softplusF32AVX512, softplusF32Twin},
	}
}

// TestTrans32Twins checks every float32 transcendental assembly kernel the
// CPU runs against its pure-Go twin, on the special inputs, a sweep and
// lengths straddling the vector widths, with guards around dst: within one
// ulp (the twin's FMA can round twice, rarely), and counts the inputs
// where they differ at all.
func TestTrans32Twins(t *testing.T) {
	x := append(sweep(100, 4099, 50_000), transSpecials()...)
	for _, k := range trans32Kernels() {
		if !k.ok {
			t.Logf("%s: not supported by this CPU", k.name)
			continue
		}
		got, want := make([]float32, len(x)), make([]float32, len(x))
		k.f(got, x)
		k.twin(want, x)
		diff := 0
		for i := range x {
			if d := ulpDiff(got[i], want[i]); d > 1 {
				t.Errorf("%s(%v) = %v; twin %v", k.name, x[i], got[i], want[i])
			} else if d == 1 {
				diff++
			}
		}
		t.Logf("%s: %d of %d inputs differ from the twin by 1 ulp", k.name, diff, len(x))
		rnd := rand.New(rand.NewPCG(7, 7))
		for _, n := range elemSizes {
			for _, alias := range []bool{false, true} {
				name := fmt.Sprintf("%s n=%d alias=%v", k.name, n, alias)
				x, xbuf := guardedVec(rnd, n)
				for i := range x {
					x[i] *= 40
				}
				want := make([]float32, n)
				k.twin(want, x)
				dst, dbuf := guardedVec(rnd, n)
				if alias {
					dst, dbuf = x, xbuf
				}
				k.f(dst, x)
				for i := range want {
					if ulpDiff(dst[i], want[i]) > 1 {
						t.Errorf("%s: dst[%d]: got %v; want %v", name, i, dst[i], want[i])
						break
					}
				}
				checkVecGuards(t, name+" dst", dbuf)
			}
		}
	}
}

// TestTrans32TwinsExhaustive checks, over every float32 (run with
// -exhaustive), that the AVX2 and AVX-512 kernels give the same bits and
// are within one ulp of the twin. With TestTransF32Exhaustive (which runs
// the exported function, the widest kernel) it bounds every kernel's error.
func TestTrans32TwinsExhaustive(t *testing.T) {
	if !*exhaustive {
		t.Skip("run with -exhaustive")
	}
	if !hasAVX512 {
		t.Skip("needs AVX-512 to compare the kernels")
	}
	pairs := []struct {
		name         string
		avx2, avx512 func(dst, x []float32)
		twin         func(dst, x []float32)
	}{
		{"exp", expF32AVX2, expF32AVX512, expF32Twin},
		{"sigmoid", sigmoidF32AVX2, sigmoidF32AVX512, sigmoidF32Twin},
		{"tanh", tanhF32AVX2, tanhF32AVX512, tanhF32Twin},
		{"log", logF32AVX2, logF32AVX512, logF32Twin},
		{"softplus", softplusF32AVX2, softplusF32AVX512, softplusF32Twin},
		{"gelu", geluF32AVX2, geluF32AVX512, geluF32Generic},
		{"geluDeriv", geluDerivF32AVX2, geluDerivF32AVX512, geluDerivF32Generic},
	}
	const chunk = 1 << 24
	x := make([]float32, chunk)
	a, b, c := make([]float32, chunk), make([]float32, chunk), make([]float32, chunk)
	for _, pr := range pairs {
		t.Run(pr.name, func(t *testing.T) {
			diff := 0
			for base := uint64(0); base < 1<<32; base += chunk {
				for i := range x {
					x[i] = math.Float32frombits(uint32(base) + uint32(i))
				}
				pr.avx2(a, x)
				pr.avx512(b, x)
				pr.twin(c, x)
				for i := range x {
					if math.Float32bits(a[i]) != math.Float32bits(b[i]) && (a[i] == a[i] || b[i] == b[i]) {
						t.Fatalf("x=%v: AVX2 %v, AVX-512 %v", x[i], a[i], b[i])
					}
					if d := ulpDiff(b[i], c[i]); d > 1 {
						t.Fatalf("x=%v: AVX-512 %v, twin %v", x[i], b[i], c[i])
					} else if d == 1 {
						diff++
					}
				}
			}
			t.Logf("AVX2 and AVX-512 identical; %d inputs differ from the twin by 1 ulp", diff)
		})
	}
}

// TestGeluKernels checks that the AVX2 and AVX-512 GELU kernels (forward,
// derivative and fused gradient) give the same bits on the sweep, the
// special inputs and lengths straddling both vector widths, without
// writing outside dst, and that the fused gradient is within one ulp of
// its pure-Go twin.
func TestGeluKernels(t *testing.T) {
	if !hasAVX512 {
		t.Skip("needs AVX-512 to compare the kernels")
	}
	x := append(sweep(100, 4099, 50_000), transSpecials()...)
	rnd := rand.New(rand.NewPCG(8, 8))
	g := make([]float32, len(x))
	for i := range g {
		g[i] = float32(rnd.NormFloat64())
	}
	g[0], g[1] = float32(math.Inf(1)), 0
	grad := func(f func(dst, g, x []float32)) func(dst, x []float32) {
		return func(dst, x []float32) { f(dst, g[:len(x)], x) }
	}
	for _, k := range []struct {
		name         string
		avx2, avx512 func(dst, x []float32)
		twin         func(dst, x []float32)
	}{
		{"gelu", geluF32AVX2, geluF32AVX512, geluF32Generic},
		{"geluDeriv", geluDerivF32AVX2, geluDerivF32AVX512, geluDerivF32Generic},
		{"geluGrad", grad(geluGradF32AVX2), grad(geluGradF32AVX512), grad(geluGradF32Generic)},
	} {
		a, b, c := make([]float32, len(x)), make([]float32, len(x)), make([]float32, len(x))
		k.avx2(a, x)
		k.avx512(b, x)
		k.twin(c, x)
		for i := range x {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) && (a[i] == a[i] || b[i] == b[i]) {
				t.Errorf("%s(%v): AVX2 %v, AVX-512 %v", k.name, x[i], a[i], b[i])
			}
			if ulpDiff(b[i], c[i]) > 1 && math.Abs(float64(b[i])-float64(c[i])) > 1e-9 {
				t.Errorf("%s(%v): AVX-512 %v, twin %v", k.name, x[i], b[i], c[i])
			}
		}
		for _, n := range elemSizes {
			for _, f := range []func(dst, x []float32){k.avx2, k.avx512} {
				xs, _ := guardedVec(rnd, n)
				want := make([]float32, n)
				k.twin(want, xs)
				dst, dbuf := guardedVec(rnd, n)
				f(dst, xs)
				for i := range want {
					if ulpDiff(dst[i], want[i]) > 1 && math.Abs(float64(dst[i])-float64(want[i])) > 1e-9 {
						t.Errorf("%s n=%d: dst[%d] = %v; want %v", k.name, n, i, dst[i], want[i])
						break
					}
				}
				checkVecGuards(t, fmt.Sprintf("%s n=%d dst", k.name, n), dbuf)
			}
		}
	}
}
