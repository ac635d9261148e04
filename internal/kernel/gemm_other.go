// Copyright 2025 The nabla Authors. All rights reserved.

//go:build !amd64 || purego

package kernel

// kernelsF32 and kernelsF64 list the micro-kernels usable on this CPU, best
// last. Tests run all of them.
func kernelsF32() []*microKernel[float32] {
	return append([]*microKernel[float32]{goKernel[float32]()}, simdKernelsF32()...)
}

func kernelsF64() []*microKernel[float64] {
	return append([]*microKernel[float64]{goKernel[float64]()}, simdKernelsF64()...)
}

// transposeF32 does nothing without assembly: transposePanel does it all.
func transposeF32(dst []float32, w int, src []float32, ld, rows, kb int) (rdone, pdone int) {
	return 0, 0
}
