package main

import (
	"io"
	"path/filepath"
	"testing"
)

func TestRun(t *testing.T) {
	acc, err := run(io.Discard, 250, filepath.Join(t.TempDir(), "lstm.png"))
	if err != nil {
		t.Fatal(err)
	}
	if acc < 0.95 {
		t.Errorf("test accuracy %.3f after 250 steps; want ≥ 0.95", acc)
	}
}
