package loops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

var sizes = []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 255, 256, 257}

func randF32(rnd *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rnd.NormFloat64())
	}
	if n > 4 {
		s[1] = float32(math.NaN())
		s[2] = float32(math.Copysign(0, -1))
		s[3] = float32(math.Inf(-1))
		s[4] = float32(math.Inf(1))
	}
	return s
}

func same(a, b float32) bool {
	return a == b && math.Signbit(float64(a)) == math.Signbit(float64(b)) || a != a && b != b
}

// TestBinaryF32 checks the float32 fast paths of Binary (same shape and
// scalar on the right) element by element against binaryOne.
func TestBinaryF32(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, op := range []BinaryOp{Add, Sub, Mul, Div, Maximum, ReluGrad} {
		for _, n := range sizes {
			a, b := randF32(rnd, n), randF32(rnd, n)
			dst := make([]float32, n)
			Binary(op, dst, []int{n}, a, 0, []int{1}, b, 0, []int{1})
			for i := range dst {
				if want := binaryOne(op, a[i], b[i]); !same(dst[i], want) {
					t.Errorf("op %d n=%d: dst[%d] = op(%v, %v): got %v; want %v", op, n, i, a[i], b[i], dst[i], want)
					break
				}
			}
			if n == 0 {
				continue
			}
			Binary(op, dst, []int{n}, a, 0, []int{1}, b, n/2, []int{0})
			for i := range dst {
				if want := binaryOne(op, a[i], b[n/2]); !same(dst[i], want) {
					t.Errorf("op %d n=%d scalar: dst[%d] = op(%v, %v): got %v; want %v", op, n, i, a[i], b[n/2], dst[i], want)
					break
				}
			}
			// In place, as gradient accumulation does.
			want := make([]float32, n)
			for i := range want {
				want[i] = binaryOne(op, a[i], b[i])
			}
			Binary(op, a, []int{n}, a, 0, []int{1}, b, 0, []int{1})
			for i := range a {
				if !same(a[i], want[i]) {
					t.Errorf("op %d n=%d in place: dst[%d]: got %v; want %v", op, n, i, a[i], want[i])
					break
				}
			}
		}
	}
}

// TestBinaryBroadcastF32 checks a bias add, (rows, n) + (n).
func TestBinaryBroadcastF32(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	for _, n := range sizes[1:] {
		const rows = 3
		a, b := randF32(rnd, rows*n), randF32(rnd, n)
		dst := make([]float32, rows*n)
		Binary(Add, dst, []int{rows, n}, a, 0, []int{n, 1}, b, 0, []int{0, 1})
		for i := range dst {
			if want := a[i] + b[i%n]; !same(dst[i], want) {
				t.Fatalf("n=%d: dst[%d]: got %v; want %v", n, i, dst[i], want)
			}
		}
	}
}

// TestBinaryColumnBroadcastF32 covers a column (stride 0 along the last
// axis) on either side of every arithmetic op, the scalar fast paths.
func TestBinaryColumnBroadcastF32(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	ops := []struct {
		op BinaryOp
		f  func(x, y float32) float32
	}{
		{Add, func(x, y float32) float32 { return x + y }},
		{Sub, func(x, y float32) float32 { return x - y }},
		{Mul, func(x, y float32) float32 { return x * y }},
		{Div, func(x, y float32) float32 { return x / y }},
	}
	for _, n := range sizes[1:] {
		const rows = 3
		col, full := randF32(rnd, rows), randF32(rnd, rows*n)
		dst := make([]float32, rows*n)
		for _, o := range ops {
			Binary(o.op, dst, []int{rows, n}, col, 0, []int{1, 0}, full, 0, []int{n, 1})
			for i := range dst {
				if want := o.f(col[i/n], full[i]); !same(dst[i], want) {
					t.Fatalf("op %d, column left, n=%d: dst[%d]: got %v; want %v", o.op, n, i, dst[i], want)
				}
			}
			Binary(o.op, dst, []int{rows, n}, full, 0, []int{n, 1}, col, 0, []int{1, 0})
			for i := range dst {
				if want := o.f(full[i], col[i/n]); !same(dst[i], want) {
					t.Fatalf("op %d, column right, n=%d: dst[%d]: got %v; want %v", o.op, n, i, dst[i], want)
				}
			}
		}
	}
}

func TestUnaryF32(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		op  UnaryOp
		p   float64
		ref func(x float32) float32
	}{
		{Relu, 0, func(x float32) float32 {
			if x < 0 {
				return 0
			}
			return x
		}},
		{Scale, -1.5, func(x float32) float32 { return x * -1.5 }},
		{Shift, 0.25, func(x float32) float32 { return x + 0.25 }},
		{Neg, 0, func(x float32) float32 { return -x }},
	} {
		for _, n := range sizes {
			x := randF32(rnd, n)
			dst := make([]float32, n)
			Unary(tc.op, dst, x, tc.p)
			for i := range dst {
				if want := tc.ref(x[i]); !same(dst[i], want) {
					t.Errorf("op %d n=%d: dst[%d] = op(%v): got %v; want %v", tc.op, n, i, x[i], dst[i], want)
					break
				}
			}
			// float64 agrees.
			x64, d64 := make([]float64, n), make([]float64, n)
			for i, v := range x {
				x64[i] = float64(v)
			}
			Unary(tc.op, d64, x64, tc.p)
			for i := range dst {
				if !same(float32(d64[i]), dst[i]) {
					t.Errorf("op %d n=%d: float64 dst[%d]: got %v; float32 gives %v", tc.op, n, i, d64[i], dst[i])
					break
				}
			}
		}
	}
}

func TestReduceF32(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 8))
	for _, R := range sizes[1:] {
		for _, shape := range [][2]int{{1, 1}, {3, 1}, {2, 5}} {
			A, B := shape[0], shape[1]
			name := fmt.Sprintf("A=%d R=%d B=%d", A, R, B)
			src := make([]float32, A*R*B)
			for i := range src {
				src[i] = float32(rnd.NormFloat64()) * 1000
			}
			dst := make([]float32, A*B)
			Reduce(Sum, dst, src, A, R, B)
			for a := 0; a < A; a++ {
				for b := 0; b < B; b++ {
					var s float64
					var s32 float32
					for r := 0; r < R; r++ {
						s += float64(src[(a*R+r)*B+b])
						s32 += src[(a*R+r)*B+b]
					}
					got := dst[a*B+b]
					if B == 1 {
						// Rows sum in float64: within an ulp of the exact sum.
						if math.Abs(float64(got)-s) > 0x1p-23*math.Abs(s)+1e-30 {
							t.Errorf("sum %s: dst[%d]: got %v; want %v", name, a, got, s)
						}
					} else if got != s32 {
						// Columns sum in float32, row after row.
						t.Errorf("sum %s: dst[%d]: got %v; want %v", name, a*B+b, got, s32)
					}
				}
			}
			for _, op := range []ReduceOp{Max, Min, ArgMax, ArgMin} {
				if R > 2 {
					src[R/2*B] = float32(math.NaN())
				}
				Reduce(op, dst, src, A, R, B)
				for a := 0; a < A; a++ {
					for b := 0; b < B; b++ {
						m, at := src[a*R*B+b], 0
						for r := 1; r < R; r++ {
							if v := src[(a*R+r)*B+b]; better(op == Max || op == ArgMax, v, m) {
								m, at = v, r
							}
						}
						want := m
						arg := op == ArgMax || op == ArgMin
						if arg {
							want = float32(at)
						}
						if got := dst[a*B+b]; !same(got, want) && !(arg && got == want) {
							t.Errorf("op %d %s: dst[%d]: got %v; want %v", op, name, a*B+b, got, want)
						}
					}
				}
			}
		}
	}
}

func TestFastPathAllocs(t *testing.T) {
	a, b, dst := make([]float32, 64), make([]float32, 64), make([]float32, 64)
	shape, one := []int{8, 8}, []int{8, 1}
	for name, f := range map[string]func(){
		"Binary":  func() { Binary(Add, dst, shape, a, 0, one, b, 0, one) },
		"Scalar":  func() { Binary(Mul, dst, shape, a, 0, one, b, 0, []int{0, 0}) },
		"Unary":   func() { Unary(Relu, dst, a, 0) },
		"ReduceR": func() { Reduce(Sum, dst, a, 8, 8, 1) },
		"ReduceC": func() { Reduce(Sum, dst, a, 1, 8, 8) },
	} {
		if n := testing.AllocsPerRun(10, f); n > 0 {
			t.Errorf("%s: got %v allocations; want 0", name, n)
		}
	}
}

// TestParallelElementwise checks that the split Unary and Binary (long
// slices, several cores) give exactly the serial loops' results, for flat,
// broadcast and strided operands.
func TestParallelElementwise(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	rnd := rand.New(rand.NewPCG(9, 9))
	n := 2*elemGrain + 7
	a, b := randF32(rnd, n), randF32(rnd, n)
	got, want := make([]float32, n), make([]float32, n)
	Unary(Tanh, got, a, 0)
	unary(Tanh, want, a, 0)
	if !slices.EqualFunc(got, want, same) {
		t.Errorf("Unary: split result differs from the serial one")
	}
	for _, tc := range []struct {
		name       string
		shape      []int
		aStr, bStr []int
	}{
		{"flat", []int{n}, []int{1}, []int{1}},
		{"scalar", []int{n}, []int{1}, []int{0}},
		{"rows", []int{7, n / 7}, []int{n / 7, 1}, []int{0, 1}},
		{"column", []int{n / 7, 7}, []int{7, 1}, []int{1, 0}},
		{"3-d", []int{3, 5, n / 15}, []int{n / 3, n / 15, 1}, []int{0, n / 15, 1}},
	} {
		size := 1
		for _, d := range tc.shape {
			size *= d
		}
		got, want := got[:size], want[:size]
		Binary(Mul, got, tc.shape, a, 0, tc.aStr, b, 0, tc.bStr)
		binary(Mul, want, tc.shape, a, 0, tc.aStr, b, 0, tc.bStr)
		if !slices.EqualFunc(got, want, same) {
			t.Errorf("Binary %s: split result differs from the serial one", tc.name)
		}
	}
}

// TestParallelReduce checks Reduce on large arrays at two and three cores
// against the serial loop, reduce, exactly, for every op (ArgMax and ArgMin
// split every way; Sum, Max and Min by outer blocks, columns, or for a
// single row by pieces), both element types and every way of splitting.
func TestParallelReduce(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	// Each case has at least 3*elemGrain elements, so that it is split in
	// as many parts as there are cores; want is the split chosen with two
	// and with three parts.
	for _, tc := range []struct {
		name    string
		A, R, B int
		want    [2]reduceSplit
	}{
		{"rows", 96, 1100, 1, [2]reduceSplit{splitOuter, splitOuter}},
		{"rows uneven", 13, 8000, 1, [2]reduceSplit{splitOuter, splitOuter}},
		{"columns", 1, 100, 1030, [2]reduceSplit{splitCols, splitCols}},
		{"blocks", 6, 100, 170, [2]reduceSplit{splitOuter, splitOuter}},
		{"few blocks", 5, 120, 170, [2]reduceSplit{splitCols, splitR}},
		{"full", 1, 100003, 1, [2]reduceSplit{splitR, splitR}},
		{"few rows", 5, 20001, 1, [2]reduceSplit{splitR, splitR}},
		{"few narrow blocks", 5, 6600, 3, [2]reduceSplit{splitR, splitR}},
	} {
		for i, procs := range []int{2, 3} {
			runtime.GOMAXPROCS(procs)
			n := tc.A * tc.R * tc.B
			parts := min(procs, n/elemGrain)
			if parts != procs {
				t.Fatalf("%s: %d elements make %d parts; want %d", tc.name, n, parts, procs)
			}
			if got := chooseSplit(tc.A, tc.B, parts); got != tc.want[i] {
				t.Errorf("%s, %d parts: split %d; want %d", tc.name, parts, got, tc.want[i])
			}
			name := fmt.Sprintf("%s/%d-procs", tc.name, procs)
			t.Run(name+"/float32", func(t *testing.T) {
				testParallelReduce[float32](t, tc.A, tc.R, tc.B)
			})
			t.Run(name+"/float64", func(t *testing.T) {
				testParallelReduce[float64](t, tc.A, tc.R, tc.B)
			})
		}
	}
}

func testParallelReduce[T Float](t *testing.T, A, R, B int) {
	rnd := rand.New(rand.NewPCG(uint64(A), uint64(R*B)))
	n := A * R * B
	at := func(a, r, b int) int { return (a*R+r)*B + b }
	normal := make([]T, n)
	for i := range normal {
		normal[i] = T(rnd.NormFloat64())
	}
	// NaN and infinities here and there: some outputs have none, some one,
	// some several in different pieces of R; the first NaN must win.
	nan := slices.Clone(normal)
	for i := range nan {
		switch u := rnd.Float64(); {
		case u < 2e-4:
			nan[i] = T(math.NaN())
		case u < 3e-4:
			nan[i] = T(math.Inf(1))
		case u < 4e-4:
			nan[i] = T(math.Inf(-1))
		}
	}
	nan[0] = T(math.NaN()) // a NaN first: nothing after it may win
	// Ties: small integers, then the maximum 3 and the minimum -1 twice
	// each, in the second half of R (in later pieces when R is split): the
	// first of the two must win, and ties in earlier pieces must not.
	ties := make([]T, n)
	for i := range ties {
		ties[i] = T(rnd.IntN(3))
	}
	for a := range A {
		for b := range B {
			for _, v := range []T{3, 3, -1, -1} {
				ties[at(a, R/2+rnd.IntN(R-R/2), b)] = v
			}
		}
	}
	got, want := make([]T, A*B), make([]T, A*B)
	for _, data := range []struct {
		name string
		src  []T
	}{{"normal", normal}, {"nan", nan}, {"ties", ties}} {
		src := data.src
		for _, op := range []ReduceOp{Sum, Max, Min, ArgMax, ArgMin} {
			Reduce(op, got, src, A, R, B)
			reduce(op, want, src, A, R, B)
			for a := range A {
				for b := range B {
					g, w := got[a*B+b], want[a*B+b]
					if op == ArgMax || op == ArgMin {
						// Today's semantics, independently of reduce: the
						// first extreme, NaN beating any number.
						m, first := src[at(a, 0, b)], 0
						for r := 1; r < R; r++ {
							if v := src[at(a, r, b)]; better(op == ArgMax, v, m) {
								m, first = v, r
							}
						}
						if w != T(first) {
							t.Fatalf("%s op %d: serial dst[%d] = %v; want the first extreme at %d", data.name, op, a*B+b, w, first)
						}
					}
					if g != w && !(g != g && w != w) {
						t.Fatalf("%s op %d: dst[%d]: split %v, serial %v", data.name, op, a*B+b, g, w)
					}
				}
			}
		}
	}
}

// TestBinaryCoalesced checks Binary on shapes whose dimensions it merges
// (broadcasts over trailing blocks, dimensions of length 1, contiguous
// operands) or cannot (a transposed operand), against the element-by-
// element definition, serially and split between goroutines.
func TestBinaryCoalesced(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, tc := range []struct {
		name  string
		shape []int
		b     []int // b's shape (broadcast to shape); nil: b is shape's transpose of the last two axes
	}{
		{"image channels", []int{4, 16, 24, 24}, []int{1, 16, 1, 1}},
		{"big image channels", []int{4, 64, 32, 32}, []int{1, 64, 1, 1}},
		{"same shape", []int{3, 5, 7}, []int{3, 5, 7}},
		{"ones", []int{1, 1, 1}, []int{1, 1, 1}},
		{"unit dims", []int{6, 1, 40, 1}, []int{1, 1, 40, 1}},
		{"row bias", []int{300, 260}, []int{260}},
		{"column", []int{300, 260}, []int{300, 1}},
		{"transposed", []int{2, 170, 190}, nil},
	} {
		for _, procs := range []int{1, 2} {
			runtime.GOMAXPROCS(procs)
			n := 1
			for _, d := range tc.shape {
				n *= d
			}
			r := len(tc.shape)
			rnd := rand.New(rand.NewPCG(uint64(n), 1))
			a := make([]float32, n)
			for i := range a {
				a[i] = float32(rnd.NormFloat64())
			}
			aStr := make([]int, r)
			s := 1
			for i := r - 1; i >= 0; i-- {
				aStr[i] = s
				s *= tc.shape[i]
			}
			var b []float32
			bStr := make([]int, r)
			if tc.b == nil {
				b = make([]float32, n)
				copy(bStr, aStr)
				bStr[r-1], bStr[r-2] = tc.shape[r-2], 1
				bStr[0] = tc.shape[r-1] * tc.shape[r-2]
			} else {
				bs := append(make([]int, r-len(tc.b)), tc.b...)
				for i := range r - len(tc.b) {
					bs[i] = 1
				}
				m, s := 1, 1
				for i := r - 1; i >= 0; i-- {
					if bs[i] != 1 {
						bStr[i] = s
					}
					s *= bs[i]
					m *= bs[i]
				}
				b = make([]float32, m)
			}
			for i := range b {
				b[i] = float32(rnd.NormFloat64())
			}
			for _, op := range []BinaryOp{Add, Mul, Sub, Maximum} {
				got := make([]float32, n)
				Binary(op, got, tc.shape, a, 0, aStr, b, 0, bStr)
				idx := make([]int, r)
				for i := range n {
					ai, bi := 0, 0
					for k := range r {
						ai += idx[k] * aStr[k]
						bi += idx[k] * bStr[k]
					}
					if w := binaryOne(op, a[ai], b[bi]); got[i] != w {
						t.Fatalf("%s procs=%d op %d: dst[%d] = %v; want %v", tc.name, procs, op, i, got[i], w)
					}
					for k := r - 1; k >= 0; k-- {
						if idx[k]++; idx[k] < tc.shape[k] {
							break
						}
						idx[k] = 0
					}
				}
			}
		}
	}
}
