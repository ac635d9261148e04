// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// adamRef is the reference loop of AdamF32, one element at a time.
func adamRef(p, g, m, v float32, c AdamF32Coefs) (float32, float32, float32) {
	mi := float32(m*c.B1) + float32(c.C1*g)
	vi := float32(v*c.B2) + float32(float32(c.C2*g)*g)
	s := float32(math.Sqrt(float64(vi)))
	q := mi / (s/c.BC2 + c.Eps)
	return p + float32(c.NegStep*q), mi, vi
}

// adamImpl is an implementation of AdamF32 under test.
type adamImpl struct {
	name string
	f    func(p, g, m, v []float32, c AdamF32Coefs)
}

func TestAdamF32(t *testing.T) {
	coefs := func(step int, lr, b1, b2, eps float64) AdamF32Coefs {
		ts := float64(step)
		return AdamF32Coefs{
			B1: float32(b1), B2: float32(b2), C1: float32(1 - b1), C2: float32(1 - b2),
			BC2: float32(math.Sqrt(1 - math.Pow(b2, ts))), Eps: float32(eps),
			NegStep: float32(-lr / (1 - math.Pow(b1, ts))),
		}
	}
	impls := append([]adamImpl{
		{"AdamF32", AdamF32},
		{"generic", func(p, g, m, v []float32, c AdamF32Coefs) { adamF32Generic(p, g, m, v, &c) }},
	}, vectorAdamImpls()...)
	for _, impl := range impls {
		rnd := rand.New(rand.NewPCG(5, 5))
		for _, n := range elemSizes {
			for ci, c := range []AdamF32Coefs{
				coefs(1, 1e-3, 0.9, 0.999, 1e-8),
				coefs(7, 0.1, 0.8, 0.99, 1e-6),
				coefs(1000, 3e-4, 0.9, 0.999, 0),
			} {
				name := fmt.Sprintf("%s n=%d coefs=%d", impl.name, n, ci)
				p, pbuf := guardedVec(rnd, n)
				g, gbuf := guardedVec(rnd, n)
				m, mbuf := guardedVec(rnd, n)
				v, vbuf := guardedVec(rnd, n)
				for i := range v {
					m[i] *= 0.01
					v[i] = v[i] * v[i] * 1e-4
				}
				// Special values: zero moments and gradient (0/eps, or
				// 0/0 when eps is 0), NaN and infinite gradients, a
				// gradient whose square overflows, a denormal moment.
				specials := []struct{ g, m, v float32 }{
					{0, 0, 0},
					{float32(math.NaN()), 0, 0},
					{float32(math.Inf(1)), 0, 0},
					{float32(math.Inf(-1)), 1, 1},
					{3e38, 0, 0},
					{1e-30, 1e-40, 1e-40},
					{-2, 0, float32(math.Inf(1))},
				}
				for i, sp := range specials {
					if k := 3 * i; k < n {
						g[k], m[k], v[k] = sp.g, sp.m, sp.v
					}
				}
				want := make([][3]float32, n)
				for i := range p {
					pw, mw, vw := adamRef(p[i], g[i], m[i], v[i], c)
					want[i] = [3]float32{pw, mw, vw}
				}
				impl.f(p, g, m, v, c)
				for i, w := range want {
					if !sameF32(p[i], w[0]) || !sameF32(m[i], w[1]) || !sameF32(v[i], w[2]) {
						t.Errorf("%s: element %d: got p, m, v = %v, %v, %v; want %v, %v, %v", name, i, p[i], m[i], v[i], w[0], w[1], w[2])
						break
					}
				}
				checkVecGuards(t, name+" p", pbuf)
				checkVecGuards(t, name+" g", gbuf)
				checkVecGuards(t, name+" m", mbuf)
				checkVecGuards(t, name+" v", vbuf)
			}
		}
	}
}

func TestAdamF32Panics(t *testing.T) {
	a := make([]float32, 3)
	for i := range 4 {
		s := [4][]float32{a, a, a, a}
		s[i] = a[:2]
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("AdamF32 with slice %d short: got no panic; want panic", i)
				}
			}()
			AdamF32(s[0], s[1], s[2], s[3], AdamF32Coefs{})
		}()
	}
}

func BenchmarkAdamF32(b *testing.B) {
	const n = 1 << 16
	p, g, m, v := randSlice[float32](n), randSlice[float32](n), make([]float32, n), make([]float32, n)
	c := AdamF32Coefs{B1: 0.9, B2: 0.999, C1: 0.1, C2: 0.001, BC2: 0.1, Eps: 1e-8, NegStep: -1e-3}
	for _, bc := range []struct {
		name string
		f    func()
	}{
		{"asm", func() { AdamF32(p, g, m, v, c) }},
		{"generic", func() { adamF32Generic(p, g, m, v, &c) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(4 * n)
			for b.Loop() {
				bc.f()
			}
		})
	}
}
