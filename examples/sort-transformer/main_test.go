package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRun trains the sorter for a shortened run and checks that it sorts
// most held-out sequences.
func TestRun(t *testing.T) {
	png := filepath.Join(t.TempDir(), "sort.png")
	acc, err := run(io.Discard, 120, png)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(png); err != nil || !strings.HasPrefix(string(b), "\x89PNG") {
		t.Errorf("the learning curves %s: %v, not a PNG file", png, err)
	}
	t.Logf("held-out accuracy %.4f", acc)
	if acc < 0.95 {
		t.Errorf("held-out accuracy %.3f after 120 steps; want ≥ 0.95", acc)
	}
}
