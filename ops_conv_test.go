package nabla_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nabla-go/nabla"
)

// naiveConv is the textbook definition of a grouped, strided, padded,
// dilated 2-d cross-correlation.
func naiveConv(x, w []float64, n, c, h, wd, o, kh, kw int, st, pd, dl [2]int, groups int) ([]float64, int, int) {
	oh := (h+2*pd[0]-dl[0]*(kh-1)-1)/st[0] + 1
	ow := (wd+2*pd[1]-dl[1]*(kw-1)-1)/st[1] + 1
	cg, og := c/groups, o/groups
	out := make([]float64, n*o*oh*ow)
	for b := 0; b < n; b++ {
		for oc := 0; oc < o; oc++ {
			grp := oc / og
			for y := 0; y < oh; y++ {
				for xx := 0; xx < ow; xx++ {
					s := 0.0
					for ic := 0; ic < cg; ic++ {
						for i := 0; i < kh; i++ {
							for j := 0; j < kw; j++ {
								iy, ix := y*st[0]-pd[0]+i*dl[0], xx*st[1]-pd[1]+j*dl[1]
								if iy < 0 || iy >= h || ix < 0 || ix >= wd {
									continue
								}
								s += x[((b*c+grp*cg+ic)*h+iy)*wd+ix] * w[((oc*cg+ic)*kh+i)*kw+j]
							}
						}
					}
					out[((b*o+oc)*oh+y)*ow+xx] = s
				}
			}
		}
	}
	return out, oh, ow
}

func TestConv2dMatchesDefinition(t *testing.T) {
	for _, tt := range []struct {
		name                string
		n, c, h, w, o, k, g int
		st, pd, dl          [2]int
	}{
		{"plain", 2, 3, 6, 5, 4, 3, 1, [2]int{1, 1}, [2]int{0, 0}, [2]int{1, 1}},
		{"lenet1", 2, 1, 28, 28, 6, 5, 1, [2]int{1, 1}, [2]int{2, 2}, [2]int{1, 1}},
		{"strided padded", 1, 2, 7, 9, 3, 3, 1, [2]int{2, 3}, [2]int{1, 2}, [2]int{1, 1}},
		{"dilated", 1, 2, 8, 8, 2, 3, 1, [2]int{1, 1}, [2]int{2, 2}, [2]int{2, 3}},
		{"groups", 2, 4, 5, 5, 6, 3, 2, [2]int{1, 1}, [2]int{1, 1}, [2]int{1, 1}},
		{"depthwise", 1, 3, 5, 5, 3, 3, 3, [2]int{1, 1}, [2]int{1, 1}, [2]int{1, 1}},
		{"lenet2", 3, 6, 14, 14, 16, 5, 1, [2]int{1, 1}, [2]int{0, 0}, [2]int{1, 1}},
		{"odd stride1 padded", 3, 2, 7, 9, 5, 3, 1, [2]int{1, 1}, [2]int{1, 2}, [2]int{1, 1}},
		{"odd stride2 padded", 3, 2, 7, 9, 5, 3, 1, [2]int{2, 2}, [2]int{1, 1}, [2]int{1, 1}},
		{"stride2 unpadded batch", 4, 3, 8, 6, 2, 2, 1, [2]int{2, 2}, [2]int{0, 0}, [2]int{1, 1}},
		{"pad wider than image", 2, 1, 2, 3, 2, 3, 1, [2]int{1, 1}, [2]int{2, 2}, [2]int{1, 1}},
		{"groups batch strided", 3, 4, 7, 6, 4, 3, 2, [2]int{2, 1}, [2]int{1, 0}, [2]int{1, 2}},
		// 32 filters per group or more: the implicit GEMM
		{"implicit padded", 3, 5, 9, 7, 32, 3, 1, [2]int{1, 1}, [2]int{1, 1}, [2]int{1, 1}},
		{"implicit stride2 dilated groups", 2, 4, 11, 10, 64, 3, 2, [2]int{2, 2}, [2]int{1, 2}, [2]int{2, 2}},
		{"implicit 1x1 stride2", 2, 6, 7, 9, 33, 1, 1, [2]int{2, 2}, [2]int{0, 0}, [2]int{1, 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			xs := make([]float64, tt.n*tt.c*tt.h*tt.w)
			ws := make([]float64, tt.o*(tt.c/tt.g)*tt.k*tt.k)
			for i := range xs {
				xs[i] = rng.NormFloat64()
			}
			for i := range ws {
				ws[i] = rng.NormFloat64()
			}
			want, oh, ow := naiveConv(xs, ws, tt.n, tt.c, tt.h, tt.w, tt.o, tt.k, tt.k, tt.st, tt.pd, tt.dl, tt.g)
			x := nabla.FromSlice(xs, tt.n, tt.c, tt.h, tt.w)
			w := nabla.FromSlice(ws, tt.o, tt.c/tt.g, tt.k, tt.k)
			got := nabla.Conv2d(x, w, nil, nabla.ConvOptions{Stride: tt.st, Padding: tt.pd, Dilation: tt.dl, Groups: tt.g})
			if s := got.Shape(); s[2] != oh || s[3] != ow {
				t.Fatalf("shape %v; want [.. .. %d %d]", s, oh, ow)
			}
			wantValues(t, "conv", got, want...)

			// With a bias, in float32 and in an arena, as in training.
			bias := make([]float64, tt.o)
			for i := range bias {
				bias[i] = float64(i) - 1.5
			}
			ar := nabla.NewArena()
			got = nabla.Conv2d(x.To(nabla.Float32).InArena(ar), w.To(nabla.Float32), nabla.FromSlice(bias).To(nabla.Float32),
				nabla.ConvOptions{Stride: tt.st, Padding: tt.pd, Dilation: tt.dl, Groups: tt.g})
			per := oh * ow
			g := got.Float64s()
			for i, v := range want {
				if b := bias[i/per%tt.o]; math.Abs(g[i]-(v+b)) > 1e-4*(1+math.Abs(v)) {
					t.Fatalf("conv+bias (float32, arena)[%d] = %v; want %v", i, g[i], v+b)
				}
			}
		})
	}
}

func TestPoolingValues(t *testing.T) {
	x := nabla.Arange(0, 16, 1).Reshape(1, 1, 4, 4)
	wantValues(t, "maxpool", nabla.MaxPool2d(x, [2]int{2, 2}, nabla.PoolOptions{}), 5, 7, 13, 15)
	wantValues(t, "avgpool", nabla.AvgPool2d(x, [2]int{2, 2}, nabla.PoolOptions{}), 2.5, 4.5, 10.5, 12.5)
	neg := x.Neg()
	// Padding must not win a max over negative values.
	wantValues(t, "maxpool padded", nabla.MaxPool2d(neg, [2]int{2, 2}, nabla.PoolOptions{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}}), 0, -1, -3, -4, -5, -7, -12, -13, -15)
	wantValues(t, "adaptive", nabla.AdaptiveAvgPool2d(x, 1, 2), 6.5, 8.5)
	wantPanic[*nabla.ShapeError](t, func() { nabla.Conv2d(nabla.Ones(1, 3, 5, 5), nabla.Ones(2, 2, 3, 3), nil, nabla.ConvOptions{}) }, "Conv2d", "3 channels")
}

// naivePool is the textbook max or average pooling of one (h, w) plane,
// with PyTorch's choice of index for max: the first maximum in row-major
// window order, a NaN beating any number (the last NaN).
func naivePool(x []float64, h, w int, k, st, pd [2]int, avg bool) (out []float64, idx []int) {
	oh := (h+2*pd[0]-k[0])/st[0] + 1
	ow := (w+2*pd[1]-k[1])/st[1] + 1
	for y := 0; y < oh; y++ {
		for xx := 0; xx < ow; xx++ {
			m, mi, s := math.Inf(-1), -1, 0.0
			for i := 0; i < k[0]; i++ {
				for j := 0; j < k[1]; j++ {
					iy, ix := y*st[0]-pd[0]+i, xx*st[1]-pd[1]+j
					if iy < 0 || iy >= h || ix < 0 || ix >= w {
						continue
					}
					v := x[iy*w+ix]
					s += v
					if mi < 0 || v > m || math.IsNaN(v) {
						m, mi = v, iy*w+ix
					}
				}
			}
			if avg {
				out = append(out, s/float64(k[0]*k[1]))
			} else {
				out = append(out, m)
			}
			idx = append(idx, mi)
		}
	}
	return out, idx
}

// TestPoolingMatchesDefinition checks max and average pooling, values and
// gradients, against the definition on the fast 2×2 path and the general
// one, with ties, NaNs and infinities in the max pools.
func TestPoolingMatchesDefinition(t *testing.T) {
	for _, tt := range []struct {
		name       string
		n, c, h, w int
		k, st, pd  [2]int
	}{
		{"2x2 even", 2, 3, 6, 8, [2]int{2, 2}, [2]int{2, 2}, [2]int{0, 0}},
		{"2x2 odd", 2, 2, 7, 5, [2]int{2, 2}, [2]int{2, 2}, [2]int{0, 0}},
		{"2x2 stride1", 1, 2, 5, 6, [2]int{2, 2}, [2]int{1, 1}, [2]int{0, 0}},
		{"3x3 s2 p1", 2, 2, 7, 6, [2]int{3, 3}, [2]int{2, 2}, [2]int{1, 1}},
		{"2x3 s1x2 p0x1", 2, 1, 4, 7, [2]int{2, 3}, [2]int{1, 2}, [2]int{0, 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 8))
			hw := tt.h * tt.w
			xs := make([]float64, tt.n*tt.c*hw)
			for i := range xs {
				// Few distinct values, so that windows hold ties.
				xs[i] = float64(rng.IntN(4)) - 2
			}
			// Special values in the first plane.
			xs[0], xs[1], xs[tt.w] = math.NaN(), math.Inf(1), math.Inf(-1)
			xs[3], xs[tt.w+2] = math.NaN(), math.NaN()
			// Infinities alone in a later pair of rows, and a NaN in the
			// last plane, away from the first rows.
			xs[2*tt.w+1], xs[3*tt.w] = math.Inf(1), math.Inf(-1)
			xs[len(xs)-hw+2*tt.w+1] = math.NaN()
			for _, avg := range []bool{false, true} {
				var want, wantGrad []float64
				up := make([]float64, 0)
				for p := 0; p < tt.n*tt.c; p++ {
					plane := xs[p*hw : (p+1)*hw]
					if avg {
						plane = append([]float64(nil), plane...)
						for i, v := range plane {
							if math.IsNaN(v) || math.IsInf(v, 0) {
								plane[i] = 1
							}
						}
						copy(xs[p*hw:], plane)
					}
					o, idx := naivePool(plane, tt.h, tt.w, tt.k, tt.st, tt.pd, avg)
					g := make([]float64, hw)
					for q := range o {
						u := float64(len(up)%7) - 3
						up = append(up, u)
						if avg {
							continue
						}
						g[idx[q]] += u
					}
					want = append(want, o...)
					wantGrad = append(wantGrad, g...)
				}
				for _, dt := range []nabla.DType{nabla.Float64, nabla.Float32} {
					x := nabla.FromSlice(xs, tt.n, tt.c, tt.h, tt.w).To(dt).Detach().RequireGrad()
					in := x
					if dt == nabla.Float32 {
						// float32 in an arena, as in training: the
						// indices of the maxima live in arena memory
						in = x.InArena(nabla.NewArena())
					}
					var y *nabla.Tensor
					if avg {
						y = nabla.AvgPool2d(in, tt.k, nabla.PoolOptions{Stride: tt.st, Padding: tt.pd})
					} else {
						y = nabla.MaxPool2d(in, tt.k, nabla.PoolOptions{Stride: tt.st, Padding: tt.pd})
					}
					got := y.Float64s()
					for i := range want {
						if got[i] != want[i] && !(math.IsNaN(got[i]) && math.IsNaN(want[i])) && math.Abs(got[i]-want[i]) > 1e-6 {
							t.Fatalf("avg=%v %v: out[%d] = %v; want %v", avg, dt, i, got[i], want[i])
						}
					}
					if !avg {
						// without grad (inference), the values alone: the same bits
						inf := nabla.MaxPool2d(x.Detach(), tt.k, nabla.PoolOptions{Stride: tt.st, Padding: tt.pd}).Float64s()
						for i := range got {
							if math.Float64bits(inf[i]) != math.Float64bits(got[i]) {
								t.Fatalf("%v: inference out[%d] = %v; with grad %v", dt, i, inf[i], got[i])
							}
						}
					}
					y.Backward(nabla.WithUpstream(nabla.FromSlice(up, y.Shape()...).To(dt)))
					if avg {
						continue // the gradient checks cover it
					}
					gg := x.Grad().Float64s()
					for i := range wantGrad {
						if gg[i] != wantGrad[i] {
							t.Fatalf("%v: grad[%d] = %v; want %v", dt, i, gg[i], wantGrad[i])
						}
					}
				}
			}
		})
	}
}

// TestConv2dGradientsMatchOps checks the two ways Conv2d's backward pass
// runs against each other: directly, chunk by chunk (a plain Backward),
// and built from differentiable ops over the whole batch (when the
// backward pass is recorded with CreateGraph). The gradient checks verify
// the first numerically and the derivatives of the second, so this pins
// the second's values. The batches are large enough for several chunks
// per goroutine.
func TestConv2dGradientsMatchOps(t *testing.T) {
	for _, tt := range []struct {
		name                string
		n, c, h, w, o, k, g int
		st, pd, dl          [2]int
	}{
		{"lenet1", 19, 1, 28, 28, 6, 5, 1, [2]int{1, 1}, [2]int{2, 2}, [2]int{1, 1}},
		{"lenet2", 21, 6, 14, 14, 16, 5, 1, [2]int{1, 1}, [2]int{0, 0}, [2]int{1, 1}},
		{"strided groups", 13, 4, 9, 7, 6, 3, 2, [2]int{2, 1}, [2]int{1, 0}, [2]int{1, 2}},
		{"one image", 1, 3, 6, 5, 2, 3, 1, [2]int{1, 1}, [2]int{1, 1}, [2]int{1, 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(9, 10))
			x := nabla.RandN(rng, tt.n, tt.c, tt.h, tt.w).To(nabla.Float64).Detach().RequireGrad()
			w := nabla.RandN(rng, tt.o, tt.c/tt.g, tt.k, tt.k).To(nabla.Float64).Detach().RequireGrad()
			b := nabla.RandN(rng, tt.o).To(nabla.Float64).Detach().RequireGrad()
			opt := nabla.ConvOptions{Stride: tt.st, Padding: tt.pd, Dilation: tt.dl, Groups: tt.g}
			loss := func() *nabla.Tensor {
				y := nabla.Conv2d(x, w, b, opt)
				return y.Mul(y.Sin()).Sum() // a non-constant upstream
			}
			loss().Backward()
			direct := []*nabla.Tensor{x.Grad(), w.Grad(), b.Grad()}
			viaOps := nabla.Gradients(loss(), []*nabla.Tensor{x, w, b}, nabla.CreateGraph())
			for i, name := range []string{"x", "w", "b"} {
				d, o := direct[i].Float64s(), viaOps[i].Float64s()
				for j := range d {
					if math.Abs(d[j]-o[j]) > 1e-9*(1+math.Abs(d[j])) {
						t.Fatalf("grad %s[%d]: direct %v; via ops %v", name, j, d[j], o[j])
					}
				}
			}
		})
	}
}

// TestConvPoolBackwardInDirtyArena checks that the backward passes of
// Conv2d and MaxPool2d write every element of the input gradients they
// take from an arena, whose recycled buffers hold old values (NaNs here).
func TestConvPoolBackwardInDirtyArena(t *testing.T) {
	for _, tt := range []struct {
		name          string
		n, c, h, w, o int
		opt           nabla.ConvOptions
	}{
		{"wide", 5, 3, 8, 9, 4, nabla.ConvOptions{Padding: [2]int{1, 2}}},
		{"strided", 5, 3, 9, 8, 4, nabla.ConvOptions{Stride: [2]int{2, 1}, Padding: [2]int{1, 0}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, 12))
			x := nabla.RandN(rng, tt.n, tt.c, tt.h, tt.w).RequireGrad()
			w := nabla.RandN(rng, tt.o, tt.c, 3, 3).RequireGrad()
			b := nabla.RandN(rng, tt.o).RequireGrad()
			loss := func(in *nabla.Tensor) *nabla.Tensor {
				y := nabla.MaxPool2d(in, [2]int{2, 2}, nabla.PoolOptions{})
				y = nabla.Conv2d(y, w, b, tt.opt)
				return y.Mul(y.Sin()).Sum()
			}
			loss(x).Backward()
			want := x.Grad().Float64s()
			x.ZeroGrad()
			ar := nabla.NewArena()
			for range 2 {
				// Fill buffers of every size the backward pass takes
				// with NaNs, then free them for it.
				nan := nabla.Full(math.NaN(), tt.n, tt.c, tt.h, tt.w)
				x.Detach().InArena(ar).Add(nan)
				nabla.MaxPool2d(x.Detach().InArena(ar).Add(nan), [2]int{2, 2}, nabla.PoolOptions{}).Add(nabla.Full(math.NaN(), tt.n, tt.c, tt.h/2, tt.w/2))
				ar.Reset()
				x.ZeroGrad()
				loss(x.InArena(ar)).Backward()
				got := x.Grad().Float64s()
				for i := range want {
					if math.Abs(got[i]-want[i]) > 1e-5*(1+math.Abs(want[i])) || math.IsNaN(got[i]) {
						t.Fatalf("grad[%d] = %v; want %v", i, got[i], want[i])
					}
				}
				ar.Reset()
			}
		})
	}
}

// TestConv2dReLU checks Conv2dReLU against Conv2d, Add and Relu: the same
// bits when nothing requires grad (the fused pass), in float32 and
// float64, with and without a residual and a bias, at a batch of one and
// more; the same gradients when inputs require grad (the ops themselves);
// and a residual that broadcasts, which the fused pass leaves to Add.
func TestConv2dReLU(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, tt := range []struct {
		n, c, h, w, o, k int
		opt              nabla.ConvOptions
	}{
		{1, 8, 20, 20, 40, 3, nabla.ConvOptions{Padding: [2]int{1, 1}}},
		{3, 6, 11, 9, 36, 3, nabla.ConvOptions{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}}},
		{2, 4, 9, 9, 8, 3, nabla.ConvOptions{Groups: 2, Dilation: [2]int{2, 1}}},
		{1, 3, 23, 23, 16, 7, nabla.ConvOptions{Stride: [2]int{2, 2}, Padding: [2]int{3, 3}}},
	} {
		for _, dt := range []nabla.DType{nabla.Float32, nabla.Float64} {
			x := nabla.RandN(rng, tt.n, tt.c, tt.h, tt.w).To(dt)
			w := nabla.RandN(rng, tt.o, tt.c/max(tt.opt.Groups, 1), tt.k, tt.k).To(dt)
			b := nabla.RandN(rng, tt.o).To(dt)
			y := nabla.Conv2d(x, w, b, tt.opt)
			res := nabla.RandN(rng, y.Shape()...).To(dt)
			for _, c := range []struct {
				name    string
				b, res  *nabla.Tensor
				want    *nabla.Tensor
				recheck bool
			}{
				{"relu", b, nil, y.Relu(), true},
				{"nobias", nil, nil, nabla.Conv2d(x, w, nil, tt.opt).Relu(), false},
				{"residual", b, res, y.Add(res).Relu(), true},
				{"broadcast", b, res.Slice(0, 0, 1, 1), y.Add(res.Slice(0, 0, 1, 1)).Relu(), false},
			} {
				got := nabla.Conv2dReLU(x, w, c.b, c.res, tt.opt)
				if got.RequiresGrad() {
					t.Fatalf("%+v %v %s: the result requires grad", tt, dt, c.name)
				}
				gv, wv := got.Float64s(), c.want.Float64s()
				for i := range wv {
					if math.Float64bits(gv[i]) != math.Float64bits(wv[i]) {
						t.Fatalf("%+v %v %s: [%d] = %v; want %v", tt, dt, c.name, i, gv[i], wv[i])
					}
				}
				if !c.recheck || dt != nabla.Float64 {
					continue
				}
				// with grad: the ops' gradients
				grads := func(fused bool) [][]float64 {
					xg, wg, bg := x.Detach().RequireGrad(), w.Detach().RequireGrad(), b.Detach().RequireGrad()
					var out *nabla.Tensor
					if fused {
						out = nabla.Conv2dReLU(xg, wg, bg, c.res, tt.opt)
					} else {
						out = nabla.Conv2d(xg, wg, bg, tt.opt)
						if c.res != nil {
							out = out.Add(c.res)
						}
						out = out.Relu()
					}
					out.Square().Sum().Backward()
					return [][]float64{xg.Grad().Float64s(), wg.Grad().Float64s(), bg.Grad().Float64s()}
				}
				g1, g2 := grads(true), grads(false)
				for k := range g1 {
					for i := range g1[k] {
						if g1[k][i] != g2[k][i] {
							t.Fatalf("%+v %s: gradient %d [%d] = %v; want %v", tt, c.name, k, i, g1[k][i], g2[k][i])
						}
					}
				}
			}
		}
	}
}
