// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

var exhaustive = flag.Bool("exhaustive", false, "check the transcendental kernels on every float32")

// ulpDiff returns the distance in float32 ulps between a and b (0 when
// both are NaN, a large number when only one is).
func ulpDiff(a, b float32) int64 {
	if a != a || b != b {
		if a != a && b != b {
			return 0
		}
		return math.MaxInt64
	}
	ord := func(v float32) int64 {
		u := math.Float32bits(v)
		if u&(1<<31) != 0 {
			return -int64(u &^ (1 << 31))
		}
		return int64(u)
	}
	d := ord(a) - ord(b)
	if d < 0 {
		d = -d
	}
	return d
}

type transFunc struct {
	name    string
	f, twin func(dst, x []float32)
	ref     func(x float64) float64
	// absTol, when not zero, also accepts results within absTol of ref:
	// near a zero of a function that is a difference of larger terms
	// (GELU's derivative at x ≈ -0.75) ulps of the tiny result are not
	// the measure.
	absTol float64
}

func transFuncs() []transFunc {
	return []transFunc{
		{"exp", ExpF32, expF32Generic, math.Exp, 0},
		{"sigmoid", SigmoidF32, sigmoidF32Generic, func(x float64) float64 {
			if x >= 0 {
				return 1 / (1 + math.Exp(-x))
			}
			e := math.Exp(x)
			return e / (1 + e)
		}, 0},
		{"tanh", TanhF32, tanhF32Generic, math.Tanh, 0},
		{"log", LogF32, logF32Generic, math.Log, 0},
		{"softplus", SoftplusF32, softplusF32Generic, func(x float64) float64 {
			return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x)))
		}, 0},
		{"gelu", GeluF32, geluF32Generic, func(x float64) float64 {
			return x * math.Erfc(-x/math.Sqrt2) / 2
		}, 0},
		{"geluDeriv", GeluDerivF32, geluDerivF32Generic, func(x float64) float64 {
			return math.Erfc(-x/math.Sqrt2)/2 + x*math.Exp(-x*x/2)/math.Sqrt(2*math.Pi)
		}, 1e-9},
	}
}

// transSpecials are inputs at the edges of the kernels' ranges.
func transSpecials() []float32 {
	s := []float32{
		0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		1, -1, 0.5, -0.5, 1e-30, -1e-30, 1e-45, -1e-45, 1e-40, math.SmallestNonzeroFloat32, math.MaxFloat32, -math.MaxFloat32,
		88.72283, 88.72284, 88.7228394, 88.8, 89, 90, -87.33654, -87.33655, -87.34, -100, -103.27893, -103.972, -103.97208, -104, -110, -111, 110, 111,
		9, 9.1, 10, 20, -9, -20, 0.625, -0.625, 0x1p-12, -0x1p-12, 0x1p-9,
		float32(math.Ln2 / 2), -float32(math.Ln2 / 2),
		float32(math.Sqrt2), float32(math.Sqrt2 / 2), 2, 0.5, 0.75, 1e38, 1e-38, 37, 40, -37, -40, -0.88137,
	}
	for _, v := range s[:len(s):len(s)] {
		s = append(s, math.Nextafter32(v, float32(math.Inf(1))), math.Nextafter32(v, float32(math.Inf(-1))))
	}
	return s
}

// checkTrans runs f on x and returns the largest ulp error against ref
// rounded to float32, with the input where it occurs. Errors within absTol
// count as 0.
func checkTrans(f func(dst, x []float32), ref func(float64) float64, absTol float64, x []float32) (worst int64, at float32) {
	dst := make([]float32, len(x))
	f(dst, x)
	for i, v := range x {
		want := ref(float64(v))
		if math.Abs(float64(dst[i])-want) <= absTol {
			continue
		}
		if d := ulpDiff(dst[i], float32(want)); d > worst {
			worst, at = d, v
		}
	}
	return worst, at
}

// sweep returns every step-th float32 of [-lim, lim] by bit pattern (dense
// near zero) and every point of a uniform grid of spacing lim/n.
func sweep(lim float32, step uint32, n int) []float32 {
	// Every float32 of [0.5, 2], where log's reduction switches.
	var x []float32
	for u := math.Float32bits(0.5); u <= math.Float32bits(2); u += step / 64 {
		x = append(x, math.Float32frombits(u))
	}
	top := math.Float32bits(lim)
	for u := uint32(0); u <= top; u += step {
		v := math.Float32frombits(u)
		x = append(x, v, -v)
	}
	for i := -n; i <= n; i++ {
		x = append(x, lim*float32(i)/float32(n))
	}
	return x
}

// maxTransULP is the error bound of the kernels computed in float64
// (within one ulp on every input checked, but not yet run exhaustively since
// their last change); transMaxULP tightens it to one ulp for the kernels
// that TestTransF32Exhaustive has checked on every float32.
const maxTransULP = 2

var transMaxULP = map[string]int64{"exp": 1, "sigmoid": 1, "tanh": 1, "log": 1, "softplus": 1}

func maxULP(name string) int64 {
	if m, ok := transMaxULP[name]; ok {
		return m
	}
	return maxTransULP
}

func TestTransF32Accuracy(t *testing.T) {
	step, n := uint32(401), 500_000
	if testing.Short() || raceEnabled || !transAsm {
		step, n = 4099, 50_000
	}
	x := append(sweep(100, step, n), transSpecials()...)
	for _, tf := range transFuncs() {
		for _, impl := range []struct {
			name string
			f    func(dst, x []float32)
		}{{"exported", tf.f}, {"generic", tf.twin}} {
			worst, at := checkTrans(impl.f, tf.ref, tf.absTol, x)
			t.Logf("%s/%s: max error %d ulp at %v (%d inputs)", tf.name, impl.name, worst, at, len(x))
			if worst > maxULP(tf.name) {
				t.Errorf("%s/%s: error %d ulp at x=%v; want <= %d", tf.name, impl.name, worst, at, maxULP(tf.name))
			}
		}
	}
}

// TestTrans32TwinAccuracy checks the pure-Go forms of the float32
// kernels (expF32Twin and the others) on the sweep and the special inputs:
// within one ulp. In the default build the kernels' exhaustive check and
// TestTrans32Twins bound them everywhere; here they run on every build.
func TestTrans32TwinAccuracy(t *testing.T) {
	step, n := uint32(401), 500_000
	if testing.Short() || raceEnabled || !transAsm {
		step, n = 4099, 50_000
	}
	x := append(sweep(100, step, n), transSpecials()...)
	twins := map[string]func(dst, x []float32){"exp": expF32Twin, "sigmoid": sigmoidF32Twin, "tanh": tanhF32Twin, "log": logF32Twin,
		"softplus": softplusF32Twin}
	for _, tf := range transFuncs() {
		twin, ok := twins[tf.name]
		if !ok {
			continue
		}
		worst, at := checkTrans(twin, tf.ref, tf.absTol, x)
		t.Logf("%s: max error %d ulp at %v (%d inputs)", tf.name, worst, at, len(x))
		if worst > 1 {
			t.Errorf("%s: error %d ulp at x=%v; want <= 1", tf.name, worst, at)
		}
	}
}

// TestTransF32Exhaustive checks every float32 (run with -exhaustive).
func TestTransF32Exhaustive(t *testing.T) {
	if !*exhaustive {
		t.Skip("run with -exhaustive")
	}
	const chunk = 1 << 24
	x := make([]float32, chunk)
	for _, tf := range transFuncs() {
		t.Run(tf.name, func(t *testing.T) {
			var worst int64
			var at float32
			for base := uint64(0); base < 1<<32; base += chunk {
				for i := range x {
					x[i] = math.Float32frombits(uint32(base) + uint32(i))
				}
				if w, a := checkTrans(tf.f, tf.ref, tf.absTol, x); w > worst {
					worst, at = w, a
				}
			}
			t.Logf("max error %d ulp at %v over all float32", worst, at)
			if worst > maxULP(tf.name) {
				t.Errorf("error %d ulp at x=%v; want <= %d", worst, at, maxULP(tf.name))
			}
		})
	}
}

// TestTransF32Guards checks lengths straddling the vector width, aliasing
// and the NaN guards around the slices.
func TestTransF32Guards(t *testing.T) {
	for _, tf := range transFuncs() {
		rnd := rand.New(rand.NewPCG(6, 6))
		for _, n := range elemSizes {
			for _, alias := range []bool{false, true} {
				name := fmt.Sprintf("%s n=%d alias=%v", tf.name, n, alias)
				x, xbuf := guardedVec(rnd, n)
				for i := range x {
					x[i] *= 4
				}
				want := make([]float32, n)
				tf.twin(want, x)
				dst, dbuf := guardedVec(rnd, n)
				if alias {
					dst, dbuf = x, xbuf
				}
				tf.f(dst, x)
				for i := range want {
					if ulpDiff(dst[i], want[i]) > 1 {
						t.Errorf("%s: dst[%d]: got %v; want %v", name, i, dst[i], want[i])
						break
					}
				}
				checkVecGuards(t, name+" dst", dbuf)
				checkVecGuards(t, name+" x", xbuf)
			}
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s with different lengths: got no panic; want panic", tf.name)
				}
			}()
			tf.f(make([]float32, 3), make([]float32, 2))
		}()
	}
}

func BenchmarkTransF32(b *testing.B) {
	const n = 4096
	x, dst := randSlice[float32](n), make([]float32, n)
	for i := range x {
		x[i] *= 10
	}
	for _, tf := range transFuncs() {
		for _, impl := range []struct {
			name string
			f    func(dst, x []float32)
		}{{"asm", tf.f}, {"generic", tf.twin}} {
			b.Run(tf.name+"/"+impl.name, func(b *testing.B) {
				b.SetBytes(4 * n)
				for b.Loop() {
					impl.f(dst, x)
				}
			})
		}
	}
}
