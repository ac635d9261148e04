// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

// The micro-kernels used by GemmF32 and GemmF64, chosen once at start-up.
var (
	f32Kernel = best(kernelsF32())
	f64Kernel = best(kernelsF64())
)

func best[T float](ks []*microKernel[T]) *microKernel[T] { return ks[len(ks)-1] }
