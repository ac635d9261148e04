// Copyright 2025 The nabla Authors. All rights reserved.

//go:build amd64 && !purego

package kernel

// transAsm reports whether the exported transcendental functions run
// assembly kernels, which TestTransF32Accuracy must then sweep densely.
const transAsm = true
