// Copyright 2025 The nabla Authors. All rights reserved.

//go:build !amd64 || !purego || !goexperiment.simd

package kernel

// vectorAdamImpls is empty without the archsimd kernels
// (see adam_simd_amd64_test.go).
func vectorAdamImpls() []adamImpl { return nil }
