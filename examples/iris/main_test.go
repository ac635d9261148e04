package main

import (
	"io"
	"path/filepath"
	"testing"
)

func TestRun(t *testing.T) {
	acc, err := run(io.Discard, 30, filepath.Join(t.TempDir(), "iris.png"))
	if err != nil {
		t.Fatal(err)
	}
	if acc < 0.8 {
		t.Errorf("test accuracy %.3f after 30 epochs; want ≥ 0.8", acc)
	}
}
