// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

// GemmPanelsSerialF32 is GemmPanelsF32 on the calling goroutine only, for
// callers that split the work between goroutines themselves: a
// convolution of one image splits the columns (window positions), so that
// each goroutine packs only its own panels of B. (GemmPanelsF32 may split
// the rows instead, and then every goroutine packs all of B.) Its results
// are GemmPanelsF32's, bit for bit.
func GemmPanelsSerialF32(m, n, k int, alpha float32, a []float32, lda int, packB PanelFunc[float32], beta float32, c []float32, ldc int) {
	gemmSerial(f32Kernel, m, n, k, alpha, a, lda, packB, beta, c, ldc)
}

// GemmPanelsSerialF64 is the float64 version of GemmPanelsSerialF32.
func GemmPanelsSerialF64(m, n, k int, alpha float64, a []float64, lda int, packB PanelFunc[float64], beta float64, c []float64, ldc int) {
	gemmSerial(f64Kernel, m, n, k, alpha, a, lda, packB, beta, c, ldc)
}

func gemmSerial[T float](kern *microKernel[T], m, n, k int, alpha T, a []T, lda int, pb PanelFunc[T], beta T, c []T, ldc int) {
	checkGemm(false, false, m, n, k, len(a), lda, k*n, max(1, n), len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	args := gemmArgs[T]{false, false, m, n, k, alpha, beta, a, nil, c, lda, max(1, n), ldc, pb}
	kern.run(&args, 0, m, 0, n)
}
