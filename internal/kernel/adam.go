// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import "math"

// AdamF32Coefs holds the per-step scalars of one Adam update (see
// [AdamF32]), already rounded to float32.
type AdamF32Coefs struct {
	B1, B2  float32 // decay rates β1, β2 of the moment averages
	C1, C2  float32 // 1-β1 and 1-β2
	BC2     float32 // √(1-β2ᵗ), the second-moment bias correction
	Eps     float32 // ε added to the denominator
	NegStep float32 // -lr/(1-β1ᵗ)
}

// AdamF32 applies one Adam update (without weight decay) to the parameters
// p with gradients g, first moments m and second moments v, updating p, m
// and v in place. It panics unless len(p) == len(g) == len(m) == len(v).
// The reference loop is
//
//	for i := range p {
//		d := g[i]
//		mi := m[i]*c.B1 + c.C1*d
//		vi := v[i]*c.B2 + c.C2*d*d
//		m[i], v[i] = mi, vi
//		p[i] += c.NegStep * (mi / (sqrt(vi)/c.BC2 + c.Eps))
//	}
//
// with sqrt the correctly rounded float32 square root. Every operation is
// rounded separately (no fused multiply-adds), in the order of the loop,
// so the result is the same bit for bit on every path. g must not alias
// p, m or v.
func AdamF32(p, g, m, v []float32, c AdamF32Coefs) {
	if len(g) != len(p) || len(m) != len(p) || len(v) != len(p) {
		panic("kernel: AdamF32: slice lengths differ")
	}
	adamF32(p, g, m, v, &c)
}

// adamF32Generic is the pure-Go twin of AdamF32. The explicit conversions
// stop the compiler from fusing products and sums.
func adamF32Generic(p, g, m, v []float32, c *AdamF32Coefs) {
	g, m, v = g[:len(p)], m[:len(p)], v[:len(p)]
	for i := range p {
		d := g[i]
		mi := float32(m[i]*c.B1) + float32(c.C1*d)
		vi := float32(v[i]*c.B2) + float32(float32(c.C2*d)*d)
		m[i], v[i] = mi, vi
		q := mi / (float32(math.Sqrt(float64(vi)))/c.BC2 + c.Eps)
		p[i] += float32(c.NegStep * q)
	}
}
