// Copyright 2025 The nabla Authors. All rights reserved.

//go:build !amd64 || purego

package kernel

// transAsm reports whether the exported transcendental functions run
// assembly kernels. Here they are the pure-Go twins themselves, which the
// default build checks densely; this build sweeps sparsely (the dense sweep
// took three minutes of the purego CI run).
const transAsm = false
