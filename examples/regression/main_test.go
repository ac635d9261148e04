package main

import (
	"io"
	"path/filepath"
	"testing"
)

func TestRun(t *testing.T) {
	rs, err := run(io.Discard, 300, filepath.Join(t.TempDir(), "regression.png"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.r2 < 0.2 {
			t.Errorf("%s: test R² %.3f after 300 steps; want ≥ 0.2", r.name, r.r2)
		}
	}
}
