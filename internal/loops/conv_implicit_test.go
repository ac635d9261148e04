package loops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// convGeom returns the Conv of n images of c channels h×w by o filters of
// k×k taps.
func convGeom(n, c, h, w, o, k, groups int, st, pd, dl [2]int) Conv {
	oh := (h+2*pd[0]-dl[0]*(k-1)-1)/st[0] + 1
	ow := (w+2*pd[1]-dl[1]*(k-1)-1)/st[1] + 1
	return Conv{Window: Window{N: n, C: c, H: h, W: w, KH: k, KW: k, SH: st[0], SW: st[1],
		PH: pd[0], PW: pd[1], DH: dl[0], DW: dl[1], OH: oh, OW: ow}, O: o, Groups: groups}
}

// naiveConvForward is the convolution by definition, in float64.
func naiveConvForward(img, w, bias []float64, cv Conv) []float64 {
	cg, og := cv.C/cv.Groups, cv.O/cv.Groups
	out := make([]float64, cv.N*cv.O*cv.OH*cv.OW)
	for b := 0; b < cv.N; b++ {
		for o := 0; o < cv.O; o++ {
			gi := o / og
			for oy := 0; oy < cv.OH; oy++ {
				for ox := 0; ox < cv.OW; ox++ {
					s := 0.0
					if bias != nil {
						s = bias[o]
					}
					for ic := 0; ic < cg; ic++ {
						for i := 0; i < cv.KH; i++ {
							for j := 0; j < cv.KW; j++ {
								y, x := oy*cv.SH-cv.PH+i*cv.DH, ox*cv.SW-cv.PW+j*cv.DW
								if y < 0 || y >= cv.H || x < 0 || x >= cv.W {
									continue
								}
								s += img[((b*cv.C+gi*cg+ic)*cv.H+y)*cv.W+x] * w[((o*cg+ic)*cv.KH+i)*cv.KW+j]
							}
						}
					}
					out[((b*cv.O+o)*cv.OH+oy)*cv.OW+ox] = s
				}
			}
		}
	}
	return out
}

// TestConvForwardImplicit checks the implicit-GEMM forward pass against
// the definition and against the unfolding path, in float32 and float64,
// at one and two threads (which change the images per chunk), on odd
// sizes, strides, padding, dilation, groups, 1×1 filters and small images
// batched into one product.
func TestConvForwardImplicit(t *testing.T) {
	for _, tt := range []struct {
		n, c, h, w, o, k, g int
		st, pd, dl          [2]int
	}{
		{1, 3, 7, 6, 12, 3, 1, [2]int{1, 1}, [2]int{1, 1}, [2]int{1, 1}},
		{2, 5, 9, 7, 10, 3, 1, [2]int{2, 2}, [2]int{1, 1}, [2]int{1, 1}},
		{3, 4, 9, 11, 9, 1, 1, [2]int{2, 2}, [2]int{0, 0}, [2]int{1, 1}},
		{2, 8, 6, 6, 33, 1, 1, [2]int{1, 1}, [2]int{0, 0}, [2]int{1, 1}},
		{2, 4, 9, 8, 20, 3, 2, [2]int{1, 2}, [2]int{2, 1}, [2]int{2, 1}},
		{3, 2, 10, 11, 12, 3, 1, [2]int{1, 1}, [2]int{1, 3}, [2]int{1, 2}},
		{9, 3, 7, 7, 16, 3, 1, [2]int{1, 1}, [2]int{1, 1}, [2]int{1, 1}},
		{5, 2, 3, 4, 9, 3, 1, [2]int{1, 1}, [2]int{2, 2}, [2]int{1, 1}},
		{2, 6, 5, 13, 27, 2, 3, [2]int{2, 1}, [2]int{0, 1}, [2]int{1, 1}},
		{1, 16, 15, 15, 40, 3, 1, [2]int{1, 1}, [2]int{1, 1}, [2]int{1, 1}},
		{4, 3, 40, 37, 11, 5, 1, [2]int{1, 1}, [2]int{2, 2}, [2]int{1, 1}},
		// strided kernels read phase planes
		{1, 3, 23, 21, 16, 7, 1, [2]int{2, 2}, [2]int{3, 3}, [2]int{1, 1}}, // resnet's stem
		{2, 5, 12, 13, 12, 3, 1, [2]int{2, 2}, [2]int{1, 1}, [2]int{1, 1}},
		{1, 4, 17, 14, 10, 3, 1, [2]int{3, 2}, [2]int{1, 0}, [2]int{2, 1}},
		{2, 6, 11, 10, 12, 2, 2, [2]int{2, 3}, [2]int{1, 1}, [2]int{1, 2}},
		{1, 2, 4, 5, 9, 3, 1, [2]int{2, 2}, [2]int{0, 0}, [2]int{1, 1}},
		// one image, many filters, few positions: split by filters at
		// two threads (500 is not a multiple of the rows of 16)
		{1, 16, 7, 7, 500, 3, 1, [2]int{1, 1}, [2]int{1, 1}, [2]int{1, 1}},
	} {
		cv := convGeom(tt.n, tt.c, tt.h, tt.w, tt.o, tt.k, tt.g, tt.st, tt.pd, tt.dl)
		name := fmt.Sprintf("%+v", tt)
		rng := rand.New(rand.NewPCG(7, 8))
		img := make([]float64, tt.n*tt.c*tt.h*tt.w)
		w := make([]float64, tt.o*(tt.c/tt.g)*tt.k*tt.k)
		bias := make([]float64, tt.o)
		for _, s := range [][]float64{img, w, bias} {
			for i := range s {
				s[i] = rng.NormFloat64()
			}
		}
		want := naiveConvForward(img, w, bias, cv)
		wantNB := naiveConvForward(img, w, nil, cv)
		for _, threads := range []int{1, 2} {
			func() {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
				for _, withBias := range []bool{false, true} {
					b, ref := []float64(nil), wantNB
					if withBias {
						b, ref = bias, want
					}
					got := make([]float64, len(ref))
					for i := range got {
						got[i] = math.NaN() // every element must be written
					}
					convForwardImplicit(got, img, w, b, cv, &ConvEpilogue[float64]{})
					old := make([]float64, len(ref))
					convForwardCols(old, img, w, b, cv, &ConvEpilogue[float64]{})
					for i := range ref {
						if math.Abs(got[i]-ref[i]) > 1e-12*(1+math.Abs(ref[i])) || math.Abs(got[i]-old[i]) > 1e-12*(1+math.Abs(ref[i])) {
							t.Fatalf("%s threads=%d bias=%v float64: [%d] = %v; want %v (unfolding path %v)", name, threads, withBias, i, got[i], ref[i], old[i])
						}
					}
					img32, w32, b32 := to32(img), to32(w), to32(b)
					got32 := make([]float32, len(ref))
					for i := range got32 {
						got32[i] = float32(math.NaN())
					}
					convForwardImplicit(got32, img32, w32, b32, cv, &ConvEpilogue[float32]{})
					old32 := make([]float32, len(ref))
					convForwardCols(old32, img32, w32, b32, cv, &ConvEpilogue[float32]{})
					for i := range ref {
						g, o := float64(got32[i]), float64(old32[i])
						if math.Abs(g-ref[i]) > 1e-4*(1+math.Abs(ref[i])) || math.Abs(g-o) > 1e-4*(1+math.Abs(ref[i])) {
							t.Fatalf("%s threads=%d bias=%v float32: [%d] = %v; want %v (unfolding path %v)", name, threads, withBias, i, g, ref[i], o)
						}
					}
				}
			}()
		}
	}
}

// TestSplitFilters pins the choice between splitting one image's
// convolution by window positions or by filters on resnet18's shapes.
func TestSplitFilters(t *testing.T) {
	for _, c := range []struct {
		o, l, parts int
		want        bool
	}{
		{512, 49, 2, true},    // layer 4: 2 panels of positions, 2.4M weights
		{256, 196, 2, true},   // layer 3: 7 panels
		{64, 3136, 2, false},  // layer 1: 98 panels, 37K weights
		{64, 12544, 2, false}, // the stem
		{16, 49, 2, false},    // one row of 16 filters
	} {
		if got := splitFilters(c.o, c.l, c.parts); got != c.want {
			t.Errorf("splitFilters(%d, %d, %d) = %v; want %v", c.o, c.l, c.parts, got, c.want)
		}
	}
}

func to32(s []float64) []float32 {
	if s == nil {
		return nil
	}
	r := make([]float32, len(s))
	for i, v := range s {
		r[i] = float32(v)
	}
	return r
}

// TestConvForwardFused checks that the epilogue (residual add, ReLU) gives
// the separate ops' results bit for bit, on both forward paths, at one and
// two threads (a batch of one splits the epilogue between goroutines).
func TestConvForwardFused(t *testing.T) {
	for _, tt := range []struct {
		n, c, h, w, o, k int
		st, pd           [2]int
	}{
		{1, 8, 40, 40, 40, 3, [2]int{1, 1}, [2]int{1, 1}},
		{3, 5, 9, 7, 36, 3, [2]int{2, 2}, [2]int{1, 1}},
		{2, 3, 12, 12, 6, 5, [2]int{1, 1}, [2]int{2, 2}},
		{1, 16, 9, 9, 33, 1, [2]int{2, 2}, [2]int{0, 0}},
		{1, 16, 7, 7, 500, 3, [2]int{1, 1}, [2]int{1, 1}}, // split by filters
	} {
		cv := convGeom(tt.n, tt.c, tt.h, tt.w, tt.o, tt.k, 1, tt.st, tt.pd, [2]int{1, 1})
		rng := rand.New(rand.NewPCG(3, 4))
		rnd := func(n int) []float32 {
			s := make([]float32, n)
			for i := range s {
				s[i] = float32(rng.NormFloat64())
			}
			return s
		}
		size := cv.N * cv.O * cv.OH * cv.OW
		img, w, bias, res := rnd(cv.N*cv.C*cv.H*cv.W), rnd(cv.O*cv.C*cv.KH*cv.KW), rnd(cv.O), rnd(size)
		for _, threads := range []int{1, 2} {
			func() {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
				want := make([]float32, size)
				ConvForward(want, img, w, bias, cv)
				wantR := make([]float32, size)
				unary(Relu, wantR, want, 0)
				wantAR := make([]float32, size)
				for i := range want {
					wantAR[i] = want[i] + res[i]
				}
				unary(Relu, wantAR, wantAR, 0)
				for _, c := range []struct {
					ep   ConvEpilogue[float32]
					want []float32
				}{{ConvEpilogue[float32]{ReLU: true}, wantR}, {ConvEpilogue[float32]{Res: res, ReLU: true}, wantAR}} {
					got := make([]float32, size)
					ConvForwardFused(got, img, w, bias, cv, c.ep)
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(c.want[i]) {
							t.Fatalf("%+v threads=%d res=%v: [%d] = %v; want %v", tt, threads, c.ep.Res != nil, i, got[i], c.want[i])
						}
					}
				}
			}()
		}
	}
}
