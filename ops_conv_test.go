package nabla_test

import (
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
		})
	}
}

func TestPoolingValues(t *testing.T) {
	x := nabla.Arange(0, 16, 1).Reshape(1, 1, 4, 4)
	wantValues(t, "maxpool", nabla.MaxPool2d(x, [2]int{2, 2}, [2]int{}, [2]int{}), 5, 7, 13, 15)
	wantValues(t, "avgpool", nabla.AvgPool2d(x, [2]int{2, 2}, [2]int{}, [2]int{}), 2.5, 4.5, 10.5, 12.5)
	neg := x.Neg()
	// Padding must not win a max over negative values.
	wantValues(t, "maxpool padded", nabla.MaxPool2d(neg, [2]int{2, 2}, [2]int{2, 2}, [2]int{1, 1}), 0, -1, -3, -4, -5, -7, -12, -13, -15)
	wantValues(t, "adaptive", nabla.AdaptiveAvgPool2d(x, 1, 2), 6.5, 8.5)
	wantPanic[*nabla.ShapeError](t, func() { nabla.Conv2d(nabla.Ones(1, 3, 5, 5), nabla.Ones(2, 2, 3, 3), nil, nabla.ConvOptions{}) }, "Conv2d", "3 channels")
}
