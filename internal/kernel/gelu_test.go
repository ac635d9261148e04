// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import (
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestGeluPolyInGenerator checks that mkasm.go, which cannot import this
// package, carries the same coefficients as gelu.go: the assembly and the
// Go twin must evaluate the same polynomial.
func TestGeluPolyInGenerator(t *testing.T) {
	src, err := os.ReadFile("mkasm.go")
	if err != nil {
		t.Fatal(err)
	}
	const start = "var geluPoly = [...]float64{"
	text := string(src)
	i := strings.Index(text, start)
	if i < 0 {
		t.Fatalf("mkasm.go has no %q", start)
	}
	body := text[i+len(start):]
	body = body[:strings.Index(body, "}")]
	var got []float64
	for _, f := range strings.FieldsFunc(body, func(r rune) bool { return r == ',' || r == '\n' || r == '\t' || r == ' ' }) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			t.Fatalf("mkasm.go geluPoly: %v", err)
		}
		got = append(got, v)
	}
	if len(got) != len(geluPoly) {
		t.Fatalf("mkasm.go has %d coefficients, gelu.go %d", len(got), len(geluPoly))
	}
	for i, v := range geluPoly {
		if got[i] != v {
			t.Errorf("coefficient %d: mkasm.go %v, gelu.go %v", i, got[i], v)
		}
	}
}

// TestGeluGradF32 checks the fused gradient g·GELU'(x) against the
// float64 reference rounded once, on the sweep and the special inputs with
// random g (and ±Inf, 0 among them): within one ulp, or within 1e-9·|g| near
// the derivative's zero, as GeluDerivF32 is; and the length check.
func TestGeluGradF32(t *testing.T) {
	x := append(sweep(100, 40009, 5_000), transSpecials()...)
	rnd := rand.New(rand.NewPCG(9, 9))
	g := make([]float32, len(x))
	for i := range g {
		g[i] = float32(rnd.NormFloat64() * 10)
	}
	g[0], g[1], g[2] = float32(math.Inf(1)), float32(math.Inf(-1)), 0
	dst := make([]float32, len(x))
	GeluGradF32(dst, g, x)
	for i, v := range x {
		xd := float64(v)
		d := math.Erfc(-xd/math.Sqrt2)/2 + xd*math.Exp(-xd*xd/2)/math.Sqrt(2*math.Pi)
		want := float64(g[i]) * d
		if math.Abs(float64(dst[i])-want) <= 1e-9*math.Abs(float64(g[i])) {
			continue
		}
		if ulpDiff(dst[i], float32(want)) > 1 {
			t.Errorf("GeluGradF32(g=%v, x=%v) = %v; want %v", g[i], v, dst[i], float32(want))
		}
	}
	// In place, over g and over x, as the backward pass may call it.
	for _, over := range []string{"g", "x"} {
		gc, xc := append([]float32(nil), g...), append([]float32(nil), x...)
		out := gc
		if over == "x" {
			out = xc
		}
		GeluGradF32(out, gc, xc)
		for i := range out {
			if math.Float32bits(out[i]) != math.Float32bits(dst[i]) && (out[i] == out[i] || dst[i] == dst[i]) {
				t.Fatalf("in place over %s: [%d] = %v; want %v", over, i, out[i], dst[i])
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("GeluGradF32 with different lengths: got no panic; want panic")
		}
	}()
	GeluGradF32(make([]float32, 3), make([]float32, 3), make([]float32, 2))
}
