// Copyright 2025 The nabla Authors. All rights reserved.

// Package kernel provides the CPU compute kernels of nabla: dense matrix
// multiplication (GemmF32, GemmF64), vectorized float32 elementwise
// operations, transcendental functions (ExpF32, LogF32, TanhF32,
// SigmoidF32, SoftplusF32: computed in float64, within one ulp of the
// correctly rounded result), the Adam update (AdamF32), and ParallelFor,
// which splits a loop across the workers that Gemm uses.
//
// Gemm follows the classic Goto/BLIS design. Blocks of op(A) and op(B) are
// packed into contiguous panels sized for the caches (a kc×nc block of B stays
// in L2, an mr×kc micro-panel of A stays in L1), and a register-blocked
// micro-kernel computes an mr×nr tile of C. On amd64 the micro-kernels are
// written in Go assembly (an AVX-512 kernel and an AVX2+FMA kernel, chosen
// once at run time with golang.org/x/sys/cpu); elsewhere, or when built with
// the purego tag, a pure-Go micro-kernel is used. Large products are split
// between runtime.GOMAXPROCS(0) long-lived worker goroutines, which poll
// for work for a short while before sleeping (waking a sleeping core costs
// more than a product of a small MLP layer); small ones run on the calling
// goroutine. Packing buffers are pooled, so a warm call does
// not allocate.
//
// Every assembly routine has a pure-Go twin that is always compiled and
// tested against it.
package kernel
