package nabla_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nabla-go/nabla"
)

// softmaxRef computes softmax or log-softmax of x (row-major, shape) along
// axis in float64, straight from the definition, and, given an upstream
// gradient g, the gradient of Σ g·f(x).
func softmaxRef(x, g []float64, shape []int, axis int, log bool) (out, grad []float64) {
	outer, n, inner := 1, shape[axis], 1
	for _, d := range shape[:axis] {
		outer *= d
	}
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	out, grad = make([]float64, len(x)), make([]float64, len(x))
	for o := 0; o < outer; o++ {
		for j := 0; j < inner; j++ {
			at := func(i int) int { return (o*n+i)*inner + j }
			m := math.Inf(-1)
			for i := 0; i < n; i++ {
				m = math.Max(m, x[at(i)])
			}
			var s float64
			for i := 0; i < n; i++ {
				s += math.Exp(x[at(i)] - m)
			}
			var gs, gys float64
			for i := 0; i < n; i++ {
				p := math.Exp(x[at(i)]-m) / s
				if log {
					out[at(i)] = x[at(i)] - m - math.Log(s)
				} else {
					out[at(i)] = p
				}
				gs += g[at(i)]
				gys += g[at(i)] * p
			}
			for i := 0; i < n; i++ {
				p := math.Exp(x[at(i)]-m) / s
				if log {
					grad[at(i)] = g[at(i)] - p*gs
				} else {
					grad[at(i)] = p * (g[at(i)] - gys)
				}
			}
		}
	}
	return out, grad
}

func TestSoftmaxMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	type tc struct {
		shape     []int
		axis      int
		transpose bool // the input is a transposed view
		scale     float64
	}
	cases := []tc{
		{shape: []int{7}, axis: 0},
		{shape: []int{5, 1000}, axis: 1},
		{shape: []int{5, 1000}, axis: -1, scale: 100},
		{shape: []int{33, 9}, axis: 0},
		{shape: []int{3, 4, 5}, axis: 1},
		{shape: []int{3, 4, 5}, axis: 2, transpose: true},
		{shape: []int{64, 10}, axis: 1, scale: 1000},
		{shape: []int{2, 1, 3}, axis: 1},
		{shape: []int{300, 300}, axis: 0},
	}
	for _, c := range cases {
		for _, dt := range []nabla.DType{nabla.Float32, nabla.Float64} {
			for _, log := range []bool{false, true} {
				name := fmt.Sprintf("%v/axis%d/transpose=%v/scale%v/%v/log=%v", c.shape, c.axis, c.transpose, c.scale, dt, log)
				t.Run(name, func(t *testing.T) {
					scale := c.scale
					if scale == 0 {
						scale = 3
					}
					x := nabla.RandN(r, c.shape...).MulScalar(scale).To(dt)
					if c.transpose {
						x = x.Transpose(0, len(c.shape)-1).Contiguous().Transpose(0, len(c.shape)-1)
					}
					x = x.RequireGrad()
					g := nabla.RandN(r, c.shape...).To(dt)
					var y *nabla.Tensor
					if log {
						y = x.LogSoftmax(c.axis)
					} else {
						y = x.Softmax(c.axis)
					}
					y.Backward(nabla.WithUpstream(g))
					axis := (c.axis + len(c.shape)) % len(c.shape)
					wantY, wantG := softmaxRef(x.Float64s(), g.Float64s(), c.shape, axis, log)
					tol := 1e-12
					if dt == nabla.Float32 {
						tol = 2e-5
					}
					compare := func(what string, got, want []float64) {
						t.Helper()
						for i := range want {
							if d := math.Abs(got[i] - want[i]); d > tol*(1+math.Abs(want[i])) || math.IsNaN(got[i]) {
								t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
							}
						}
					}
					compare("output", y.Float64s(), wantY)
					compare("gradient", x.Grad().Float64s(), wantG)
				})
			}
		}
	}
}

// TestSoftmaxSpecialValues checks that a slice with NaN, +Inf or only -Inf
// gives NaN, as PyTorch does, that -Inf entries give 0 (and -Inf for
// log-softmax) when the maximum is finite, and that other slices are not
// affected.
func TestSoftmaxSpecialValues(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	for _, tc := range []struct {
		name    string
		row     []float64
		soft    []float64
		logSoft []float64
	}{
		{"-Inf entry", []float64{0, math.Inf(-1)}, []float64{1, 0}, []float64{0, math.Inf(-1)}},
		{"all -Inf", []float64{math.Inf(-1), math.Inf(-1)}, []float64{nan, nan}, []float64{nan, nan}},
		{"+Inf entry", []float64{inf, 0}, []float64{nan, nan}, []float64{nan, nan}},
		{"NaN entry", []float64{0, nan}, []float64{nan, nan}, []float64{nan, nan}},
		{"huge", []float64{1e30, 1e30}, []float64{0.5, 0.5}, []float64{-math.Ln2, -math.Ln2}},
	} {
		for _, dt := range []nabla.DType{nabla.Float32, nabla.Float64} {
			t.Run(fmt.Sprintf("%s/%v", tc.name, dt), func(t *testing.T) {
				// The special row first, then an ordinary one that must not
				// be affected.
				x := nabla.FromSlice(append(append([]float64{}, tc.row...), 1, 1), 2, 2).To(dt)
				for _, f := range []struct {
					name string
					got  *nabla.Tensor
					want []float64
				}{
					{"Softmax", x.Softmax(1), append(append([]float64{}, tc.soft...), 0.5, 0.5)},
					{"LogSoftmax", x.LogSoftmax(1), append(append([]float64{}, tc.logSoft...), -math.Ln2, -math.Ln2)},
				} {
					for i, v := range f.got.Float64s() {
						w := f.want[i]
						if math.IsNaN(w) != math.IsNaN(v) || !math.IsNaN(w) && math.Abs(v-w) > 1e-6 && v != w {
							t.Errorf("%s = %v, want %v", f.name, f.got.Float64s(), f.want)
							break
						}
					}
				}
			})
		}
	}
}

func TestSoftmaxBadAxis(t *testing.T) {
	x := nabla.Zeros(2, 3)
	for _, f := range []func(){func() { x.Softmax(2) }, func() { x.LogSoftmax(-3) }, func() { nabla.Scalar(1).Softmax(0) }} {
		err := nabla.Maybe(func() { f() })
		if _, ok := err.(*nabla.ShapeError); !ok {
			t.Errorf("got %v (%T), want a *nabla.ShapeError", err, err)
		}
	}
}
