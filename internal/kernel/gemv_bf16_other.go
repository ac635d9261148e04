// Copyright 2025 The nabla Authors. All rights reserved.

//go:build !amd64 || purego

package kernel

// gemvTBF16Kernels lists the implementations usable on this CPU, best
// last: without assembly, the Go version alone.
func gemvTBF16Kernels() []gemvTBF16Impl {
	return []gemvTBF16Impl{{"go", gemvTBF16Generic}}
}
