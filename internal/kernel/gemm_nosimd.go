// Copyright 2025 The nabla Authors. All rights reserved.

//go:build !amd64 || (purego && !goexperiment.simd)

package kernel

// Without GOEXPERIMENT=simd (or off amd64) the pure-Go build has no vector
// micro-kernels (see gemm_simdsel_amd64.go) and no vector Adam (see
// elem_simd_amd64.go).
func simdKernelsF32() []*microKernel[float32] { return nil }

func simdKernelsF64() []*microKernel[float64] { return nil }

func adamF32Vec(p, g, m, v []float32, c *AdamF32Coefs) bool { return false }
