// Copyright 2025 The nabla Authors. All rights reserved.

//go:build purego && goexperiment.simd

package kernel

import "simd/archsimd"

// adamF32Vec is adamF32Generic with simd/archsimd vectors of 16 lanes
// (AVX-512) or 8 (AVX2), bit for bit: every operation rounds on its own,
// in the reference loop's order (archsimd fuses no multiply-add unless
// asked). It reports false, doing nothing, on a CPU with neither. In the
// pure-Go build Adam was 39% of a W3 epoch.
func adamF32Vec(p, g, m, v []float32, c *AdamF32Coefs) bool {
	switch {
	case archsimd.X86.AVX512():
		adamF32x16(p, g, m, v, c)
	case archsimd.X86.AVX2():
		adamF32x8(p, g, m, v, c)
	default:
		return false
	}
	return true
}

func adamF32x16(p, g, m, v []float32, c *AdamF32Coefs) {
	n := len(p) &^ 15
	b1, b2 := archsimd.BroadcastFloat32x16(c.B1), archsimd.BroadcastFloat32x16(c.B2)
	c1, c2 := archsimd.BroadcastFloat32x16(c.C1), archsimd.BroadcastFloat32x16(c.C2)
	bc2, eps := archsimd.BroadcastFloat32x16(c.BC2), archsimd.BroadcastFloat32x16(c.Eps)
	step := archsimd.BroadcastFloat32x16(c.NegStep)
	for i := 0; i < n; i += 16 {
		d := archsimd.LoadFloat32x16Slice(g[i:])
		mi := archsimd.LoadFloat32x16Slice(m[i:]).Mul(b1).Add(c1.Mul(d))
		vi := archsimd.LoadFloat32x16Slice(v[i:]).Mul(b2).Add(c2.Mul(d).Mul(d))
		mi.StoreSlice(m[i:])
		vi.StoreSlice(v[i:])
		q := mi.Div(vi.Sqrt().Div(bc2).Add(eps))
		archsimd.LoadFloat32x16Slice(p[i:]).Add(step.Mul(q)).StoreSlice(p[i:])
	}
	adamF32Generic(p[n:], g[n:], m[n:], v[n:], c)
}

func adamF32x8(p, g, m, v []float32, c *AdamF32Coefs) {
	n := len(p) &^ 7
	b1, b2 := archsimd.BroadcastFloat32x8(c.B1), archsimd.BroadcastFloat32x8(c.B2)
	c1, c2 := archsimd.BroadcastFloat32x8(c.C1), archsimd.BroadcastFloat32x8(c.C2)
	bc2, eps := archsimd.BroadcastFloat32x8(c.BC2), archsimd.BroadcastFloat32x8(c.Eps)
	step := archsimd.BroadcastFloat32x8(c.NegStep)
	for i := 0; i < n; i += 8 {
		d := archsimd.LoadFloat32x8Slice(g[i:])
		mi := archsimd.LoadFloat32x8Slice(m[i:]).Mul(b1).Add(c1.Mul(d))
		vi := archsimd.LoadFloat32x8Slice(v[i:]).Mul(b2).Add(c2.Mul(d).Mul(d))
		mi.StoreSlice(m[i:])
		vi.StoreSlice(v[i:])
		q := mi.Div(vi.Sqrt().Div(bc2).Add(eps))
		archsimd.LoadFloat32x8Slice(p[i:]).Add(step.Mul(q)).StoreSlice(p[i:])
	}
	adamF32Generic(p[n:], g[n:], m[n:], v[n:], c)
}
