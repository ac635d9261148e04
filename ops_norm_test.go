package nabla_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nabla-go/nabla"
)

// layerNormRef normalises rows of d elements in float64 from the
// definition, and returns the gradient of Σ g·y.
func layerNormRef(x, g []float64, d int, eps float64) (y, dx []float64) {
	y, dx = make([]float64, len(x)), make([]float64, len(x))
	for r := 0; r < len(x)/d; r++ {
		row, gr := x[r*d:(r+1)*d], g[r*d:(r+1)*d]
		var mean, v float64
		for _, a := range row {
			mean += a
		}
		mean /= float64(d)
		for _, a := range row {
			v += (a - mean) * (a - mean)
		}
		rs := 1 / math.Sqrt(v/float64(d)+eps)
		var ga, gb float64
		for i, a := range row {
			y[r*d+i] = (a - mean) * rs
			ga += gr[i]
			gb += gr[i] * (a - mean) * rs
		}
		for i := range row {
			dx[r*d+i] = rs * (gr[i] - ga/float64(d) - y[r*d+i]*gb/float64(d))
		}
	}
	return y, dx
}

func TestLayerNormMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for _, tc := range []struct {
		shape  []int
		k      int
		offset float64 // added to x: the variance must not cancel
	}{
		{[]int{5}, 1, 0},
		{[]int{7, 33}, 1, 0},
		{[]int{4, 3, 9}, 2, 0},
		{[]int{64, 4096}, 1, 0},
		{[]int{16, 300}, 1, 1000},
	} {
		for _, dt := range []nabla.DType{nabla.Float32, nabla.Float64} {
			t.Run(fmt.Sprintf("%v/k%d/offset%v/%v", tc.shape, tc.k, tc.offset, dt), func(t *testing.T) {
				x := nabla.RandN(r, tc.shape...).AddScalar(tc.offset).To(dt).RequireGrad()
				g := nabla.RandN(r, tc.shape...).To(dt)
				norm := tc.shape[len(tc.shape)-tc.k:]
				y := nabla.LayerNorm(x, norm, 1e-5)
				y.Backward(nabla.WithUpstream(g))
				d := 1
				for _, n := range norm {
					d *= n
				}
				wantY, wantG := layerNormRef(x.Float64s(), g.Float64s(), d, 1e-5)
				tol := 1e-12
				if dt == nabla.Float32 {
					tol = 2e-5
					if tc.offset != 0 {
						// x itself is rounded to float32 near 1000: the
						// deviations keep about 14 bits.
						tol = 2e-4
					}
				}
				for i, got := range y.Float64s() {
					if math.Abs(got-wantY[i]) > tol*(1+math.Abs(wantY[i])) {
						t.Fatalf("y[%d] = %v, want %v", i, got, wantY[i])
					}
				}
				for i, got := range x.Grad().Float64s() {
					if math.Abs(got-wantG[i]) > tol*(1+math.Abs(wantG[i])) {
						t.Fatalf("dx[%d] = %v, want %v", i, got, wantG[i])
					}
				}
				// The recorded (CreateGraph) backward, written with ops, must
				// give the same gradient as the fused one.
				x2 := x.Detach().RequireGrad()
				gr := nabla.Gradients(nabla.LayerNorm(x2, norm, 1e-5), []*nabla.Tensor{x2}, nabla.WithUpstream(g), nabla.CreateGraph())[0]
				for i, got := range gr.Float64s() {
					if math.Abs(got-wantG[i]) > tol*(1+math.Abs(wantG[i])) {
						t.Fatalf("recorded dx[%d] = %v, want %v", i, got, wantG[i])
					}
				}
			})
		}
	}
}

func TestLayerNormBadShape(t *testing.T) {
	x := nabla.Zeros(2, 3)
	for _, norm := range [][]int{nil, {2}, {2, 3, 1}, {4}} {
		err := nabla.Maybe(func() { nabla.LayerNorm(x, norm, 1e-5) })
		if _, ok := err.(*nabla.ShapeError); !ok {
			t.Errorf("normalized %v: got %v (%T), want a *nabla.ShapeError", norm, err, err)
		}
	}
}

// TestBatchNormMatchesDefinition compares BatchNorm's output, statistics
// and both gradients (fused and recorded) with the definition: each
// channel's values gathered into one row, normalised as layerNormRef does.
func TestBatchNormMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	for _, shape := range [][]int{{4, 3}, {2, 3, 5}, {4, 8, 6, 7}, {3, 64, 20, 20}} {
		for _, dt := range []nabla.DType{nabla.Float32, nabla.Float64} {
			t.Run(fmt.Sprintf("%v/%v", shape, dt), func(t *testing.T) {
				N, C := shape[0], shape[1]
				S := 1
				for _, d := range shape[2:] {
					S *= d
				}
				x := nabla.RandN(r, shape...).AddScalar(3).To(dt).RequireGrad()
				g := nabla.RandN(r, shape...).To(dt)
				y, mean, variance := nabla.BatchNorm(x, 1e-5)
				y.Backward(nabla.WithUpstream(g))
				// channel-major rows of N·S values
				at := func(c, j int) int { return (j/S*C+c)*S + j%S }
				xs, gs := x.Float64s(), g.Float64s()
				xr, gr := make([]float64, len(xs)), make([]float64, len(xs))
				for c := range C {
					for j := range N * S {
						xr[c*N*S+j], gr[c*N*S+j] = xs[at(c, j)], gs[at(c, j)]
					}
				}
				wantY, wantG := layerNormRef(xr, gr, N*S, 1e-5)
				tol := 1e-12
				if dt == nabla.Float32 {
					tol = 2e-5
				}
				ys, dxs, ms, vs := y.Float64s(), x.Grad().Float64s(), mean.Float64s(), variance.Float64s()
				x2 := x.Detach().RequireGrad()
				y2, _, _ := nabla.BatchNorm(x2, 1e-5)
				rec := nabla.Gradients(y2, []*nabla.Tensor{x2}, nabla.WithUpstream(g), nabla.CreateGraph())[0].Float64s()
				for c := range C {
					var m, v float64
					for j := range N * S {
						m += xr[c*N*S+j]
					}
					m /= float64(N * S)
					for j := range N * S {
						v += (xr[c*N*S+j] - m) * (xr[c*N*S+j] - m)
					}
					v /= float64(N * S)
					if math.Abs(ms[c]-m) > tol*(1+math.Abs(m)) || math.Abs(vs[c]-v) > tol*(1+v) {
						t.Fatalf("channel %d: mean %v variance %v; want %v %v", c, ms[c], vs[c], m, v)
					}
					for j := range N * S {
						i, k := at(c, j), c*N*S+j
						if math.Abs(ys[i]-wantY[k]) > tol*(1+math.Abs(wantY[k])) {
							t.Fatalf("y[%d] = %v, want %v", i, ys[i], wantY[k])
						}
						if math.Abs(dxs[i]-wantG[k]) > tol*(1+math.Abs(wantG[k])) {
							t.Fatalf("dx[%d] = %v, want %v", i, dxs[i], wantG[k])
						}
						if math.Abs(rec[i]-wantG[k]) > tol*(1+math.Abs(wantG[k])) {
							t.Fatalf("recorded dx[%d] = %v, want %v", i, rec[i], wantG[k])
						}
					}
				}
			})
		}
	}
	if err := nabla.Maybe(func() { nabla.BatchNorm(nabla.Zeros(3), 1e-5) }); err == nil {
		t.Error("BatchNorm of a 1-d tensor did not panic")
	}
}

// TestRMSNormMatchesDefinition compares RMSNorm with x·(mean(x²)+eps)^-½
// built of ops, forward and both backward paths (fused and recorded).
func TestRMSNormMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(45, 46))
	for _, shape := range [][]int{{5}, {7, 33}, {4, 3, 9}, {64, 4096}} {
		for _, dt := range []nabla.DType{nabla.Float32, nabla.Float64} {
			t.Run(fmt.Sprintf("%v/%v", shape, dt), func(t *testing.T) {
				x := nabla.RandN(r, shape...).To(dt).RequireGrad()
				g := nabla.RandN(r, shape...).To(dt)
				norm := shape[len(shape)-1:]
				y := nabla.RMSNorm(x, norm, 1e-5)
				y.Backward(nabla.WithUpstream(g))
				x64 := x.Detach().To(nabla.Float64).RequireGrad()
				ref := x64.Mul(x64.Square().MeanKeep(-1).AddScalar(1e-5).PowScalar(-0.5))
				ref.Backward(nabla.WithUpstream(g.To(nabla.Float64)))
				x2 := x.Detach().RequireGrad()
				rec := nabla.Gradients(nabla.RMSNorm(x2, norm, 1e-5), []*nabla.Tensor{x2}, nabla.WithUpstream(g), nabla.CreateGraph())[0]
				tol := 1e-12
				if dt == nabla.Float32 {
					tol = 2e-5
				}
				for _, c := range []struct {
					name      string
					got, want []float64
				}{{"y", y.Float64s(), ref.Float64s()}, {"dx", x.Grad().Float64s(), x64.Grad().Float64s()}, {"recorded dx", rec.Float64s(), x64.Grad().Float64s()}} {
					for i, v := range c.got {
						if math.Abs(v-c.want[i]) > tol*(1+math.Abs(c.want[i])) {
							t.Fatalf("%s[%d] = %v, want %v", c.name, i, v, c.want[i])
						}
					}
				}
			})
		}
	}
}
