// Copyright 2025 The nabla Authors. All rights reserved.

//go:build !amd64 || (purego && !goexperiment.simd)

package kernel

// Without GOEXPERIMENT=simd (or off amd64) the pure-Go build has no vector
// micro-kernels; see gemm_simdsel_amd64.go.
func simdKernelsF32() []*microKernel[float32] { return nil }

func simdKernelsF64() []*microKernel[float64] { return nil }
