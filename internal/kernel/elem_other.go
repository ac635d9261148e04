// Copyright 2025 The nabla Authors. All rights reserved.

//go:build !amd64 || purego

package kernel

func addF32(dst, a, b []float32)            { addF32Generic(dst, a, b) }
func mulF32(dst, a, b []float32)            { mulF32Generic(dst, a, b) }
func axpyF32(alpha float32, x, y []float32) { axpyF32Generic(alpha, x, y) }
func scaleF32(alpha float32, x []float32)   { scaleF32Generic(alpha, x) }
func reluF32(dst, x []float32)              { reluF32Generic(dst, x) }
func sumF32(x []float32) float32            { return sumF32Generic(x) }
func maxF32(x []float32) float32            { return maxF32Generic(x) }
func dotF32(x, y []float32) float32         { return dotF32Generic(x, y) }

func subF32(dst, a, b []float32)              { subF32Generic(dst, a, b) }
func addConstF32(dst, x []float32, c float32) { addConstF32Generic(dst, x, c) }
func mulConstF32(dst, x []float32, c float32) { mulConstF32Generic(dst, x, c) }
func sumF32F64(x []float32) float64           { return sumF32F64Generic(x) }

func adamF32(p, g, m, v []float32, c *AdamF32Coefs) {
	if !adamF32Vec(p, g, m, v, c) {
		adamF32Generic(p, g, m, v, c)
	}
}

func expF32(dst, x []float32)     { expF32Generic(dst, x) }
func sigmoidF32(dst, x []float32) { sigmoidF32Generic(dst, x) }
func tanhF32(dst, x []float32)    { tanhF32Generic(dst, x) }

func reluGradF32(dst, x, y []float32) { reluGradF32Generic(dst, x, y) }
func logF32(dst, x []float32)         { logF32Generic(dst, x) }
func softplusF32(dst, x []float32)    { softplusF32Generic(dst, x) }

func geluF32(dst, x []float32)      { geluF32Generic(dst, x) }
func geluDerivF32(dst, x []float32) { geluDerivF32Generic(dst, x) }

func geluGradF32(dst, g, x []float32) { geluGradF32Generic(dst, g, x) }
