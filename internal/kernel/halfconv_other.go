// Copyright 2025 The nabla Authors. All rights reserved.

//go:build !amd64 || purego

package kernel

// No vector conversions here: halfPrefix is 0, so internal/half's scalar
// code converts everything and these are never called.

func halfPrefix(int) int { return 0 }

func widenF16([]float32, []uint16)   {}
func narrowF16([]uint16, []float32)  {}
func widenBF16([]float32, []uint16)  {}
func narrowBF16([]uint16, []float32) {}
