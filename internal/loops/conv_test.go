package loops

import (
	"math"
	"math/rand/v2"
	"testing"
)

// poolOut is the number of window positions along one axis, as PyTorch
// computes it (floor or ceil mode, the last window starting inside the
// input or its left padding).
func poolOut(n, k, s, p, d int, ceil bool) int {
	num := n + 2*p - d*(k-1) - 1
	if ceil {
		num += s - 1
	}
	o := int(math.Floor(float64(num)/float64(s))) + 1
	if ceil && (o-1)*s >= n+p {
		o--
	}
	return o
}

// naiveMax is max pooling of one plane by definition, as PyTorch's
// kernel: over the taps inside the plane, the first maximum in row-major
// order or the last NaN; -Inf and -1 for a window without taps.
func naiveMax(plane []float64, g Window) (out []float64, idx []int32) {
	for oy := 0; oy < g.OH; oy++ {
		for ox := 0; ox < g.OW; ox++ {
			m, k := math.Inf(-1), -1
			for i := 0; i < g.KH; i++ {
				for j := 0; j < g.KW; j++ {
					y, x := oy*g.SH-g.PH+i*g.DH, ox*g.SW-g.PW+j*g.DW
					if y < 0 || y >= g.H || x < 0 || x >= g.W {
						continue
					}
					if v := plane[y*g.W+x]; k < 0 || v > m || v != v {
						m, k = v, y*g.W+x
					}
				}
			}
			out = append(out, m)
			idx = append(idx, int32(k))
		}
	}
	return out, idx
}

// TestMaxPoolDefinition checks MaxPool, on the fast 2×2 path (with ceil
// mode's half windows) and the general and dilated ones, in float32 and
// float64, against the definition, on planes with ties, NaNs and
// infinities.
func TestMaxPoolDefinition(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	for _, tt := range []struct {
		h, w, kh, kw, sh, sw, ph, pw, dh, dw int
		ceil                                 bool
	}{
		{7, 9, 2, 2, 2, 2, 0, 0, 1, 1, true},
		{8, 9, 2, 2, 2, 2, 0, 0, 1, 1, true},
		{7, 8, 2, 2, 2, 2, 0, 0, 1, 1, true},
		{7, 9, 2, 2, 2, 2, 0, 0, 1, 1, false},
		{1, 1, 2, 2, 2, 2, 0, 0, 1, 1, true},
		{8, 7, 3, 3, 2, 2, 1, 1, 1, 1, true},
		{9, 8, 3, 2, 2, 3, 1, 1, 2, 3, true},
		{9, 8, 3, 3, 1, 1, 1, 0, 2, 2, false},
		{2, 5, 2, 2, 1, 1, 1, 1, 3, 1, false},   // rows: every window misses the input
		{12, 12, 3, 3, 2, 2, 1, 1, 1, 1, false}, // resnet's stem pool
		{11, 13, 3, 3, 2, 2, 1, 1, 1, 1, true},
		{11, 13, 3, 3, 2, 2, 1, 1, 1, 1, false},
		{5, 6, 3, 3, 2, 2, 0, 0, 1, 1, true},
		{2, 2, 3, 3, 2, 2, 1, 1, 1, 1, false},
		{9, 10, 2, 2, 2, 2, 1, 1, 1, 1, true},
		{7, 5, 3, 4, 1, 3, 1, 2, 1, 1, true},
		{6, 1, 2, 1, 1, 1, 1, 0, 1, 1, false},
	} {
		g := Window{N: 2, C: 2, H: tt.h, W: tt.w, KH: tt.kh, KW: tt.kw, SH: tt.sh, SW: tt.sw, PH: tt.ph, PW: tt.pw, DH: tt.dh, DW: tt.dw}
		g.OH = poolOut(g.H, g.KH, g.SH, g.PH, g.DH, tt.ceil)
		g.OW = poolOut(g.W, g.KW, g.SW, g.PW, g.DW, tt.ceil)
		hw, L := g.H*g.W, g.OH*g.OW
		img := make([]float64, g.N*g.C*hw)
		for i := range img {
			img[i] = float64(rnd.IntN(5)) - 2
			if img[i] == 0 && rnd.IntN(2) == 0 {
				img[i] = math.Copysign(0, -1) // ties of -0 and +0 pick the first
			}
		}
		// specials in the first plane only, so the others take the fast
		// loops
		specials := []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.NaN()}
		for i, v := range specials {
			img[(i*7)%hw] = v
		}
		img32 := make([]float32, len(img))
		for i, v := range img {
			img32[i] = float32(v)
		}
		out64, idx64 := make([]float64, g.N*g.C*L), make([]int32, g.N*g.C*L)
		out32, idx32 := make([]float32, g.N*g.C*L), make([]int32, g.N*g.C*L)
		MaxPool(out64, idx64, img, g)
		MaxPool(out32, idx32, img32, g)
		// MaxPoolValues gives MaxPool's values, bit for bit
		val64, val32 := make([]float64, len(out64)), make([]float32, len(out32))
		MaxPoolValues(val64, img, g)
		MaxPoolValues(val32, img32, g)
		for i := range val64 {
			if math.Float64bits(val64[i]) != math.Float64bits(out64[i]) || math.Float32bits(val32[i]) != math.Float32bits(out32[i]) {
				t.Fatalf("%+v element %d: MaxPoolValues gives %v (float64), %v (float32); MaxPool %v, %v", tt, i, val64[i], val32[i], out64[i], out32[i])
			}
		}
		for p := 0; p < g.N*g.C; p++ {
			want, wantIdx := naiveMax(img[p*hw:(p+1)*hw], g)
			for q := range want {
				i := p*L + q
				same := func(v float64) bool { return v == want[q] || v != v && want[q] != want[q] }
				if !same(out64[i]) || !same(float64(out32[i])) || idx64[i] != wantIdx[q] || idx32[i] != wantIdx[q] {
					t.Fatalf("%+v plane %d window %d: got %v@%d (float64), %v@%d (float32); want %v@%d",
						tt, p, q, out64[i], idx64[i], out32[i], idx32[i], want[q], wantIdx[q])
				}
			}
		}
		if holes := g.Holes(); holes != (tt.dh == 3) {
			t.Errorf("%+v: Holes() = %v", tt, holes)
		}
	}
}

// TestAvgPoolAdjoint checks that AvgPoolAdjoint is the adjoint of AvgPool
// for each divisor rule: <AvgPool(x), u> = <x, AvgPoolAdjoint(u)>.
func TestAvgPoolAdjoint(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 8))
	g := Window{N: 1, C: 2, H: 8, W: 7, KH: 3, KW: 2, SH: 2, SW: 3, PH: 1, PW: 1, DH: 1, DW: 1}
	g.OH = poolOut(g.H, g.KH, g.SH, g.PH, 1, true)
	g.OW = poolOut(g.W, g.KW, g.SW, g.PW, 1, true)
	x := make([]float64, g.N*g.C*g.H*g.W)
	u := make([]float64, g.N*g.C*g.OH*g.OW)
	for i := range x {
		x[i] = rnd.NormFloat64()
	}
	for i := range u {
		u[i] = rnd.NormFloat64()
	}
	for _, dv := range []AvgDivisor{{}, {ExcludePad: true}, {Override: 5}, {Override: -2, ExcludePad: true}} {
		y := make([]float64, len(u))
		AvgPool(y, x, g, dv)
		z := make([]float64, len(x))
		AvgPoolAdjoint(z, u, g, dv)
		var a, b float64
		for i := range y {
			a += y[i] * u[i]
		}
		for i := range z {
			b += z[i] * x[i]
		}
		if math.Abs(a-b) > 1e-12*(1+math.Abs(a)) {
			t.Errorf("%+v: <AvgPool(x), u> = %v; <x, AvgPoolAdjoint(u)> = %v", dv, a, b)
		}
	}
}
