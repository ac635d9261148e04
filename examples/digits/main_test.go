package main

import (
	"io"
	"path/filepath"
	"testing"
)

func TestRun(t *testing.T) {
	acc, err := run(io.Discard, 5, filepath.Join(t.TempDir(), "digits.png"))
	if err != nil {
		t.Fatal(err)
	}
	if acc < 0.9 {
		t.Errorf("test accuracy %.3f after 5 epochs; want ≥ 0.9", acc)
	}
}
