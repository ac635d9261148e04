// Copyright 2025 The nabla Authors. All rights reserved.

//go:build purego && goexperiment.simd

package kernel

import "simd/archsimd"

// vectorAdamImpls returns the archsimd Adam kernels this CPU can run, each
// called directly so that the AVX2 one is tested on AVX-512 machines too.
func vectorAdamImpls() []adamImpl {
	var impls []adamImpl
	if archsimd.X86.AVX2() {
		impls = append(impls, adamImpl{"simd-x8", func(p, g, m, v []float32, c AdamF32Coefs) { adamF32x8(p, g, m, v, &c) }})
	}
	if archsimd.X86.AVX512() {
		impls = append(impls, adamImpl{"simd-x16", func(p, g, m, v []float32, c AdamF32Coefs) { adamF32x16(p, g, m, v, &c) }})
	}
	return impls
}
