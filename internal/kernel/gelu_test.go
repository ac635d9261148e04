// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import (
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
