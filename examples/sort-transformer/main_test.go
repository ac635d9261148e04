package main

import (
	"io"
	"testing"
)

// TestRun trains the sorter for a shortened run and checks that it sorts
// most held-out sequences.
func TestRun(t *testing.T) {
	acc, err := run(io.Discard, 120)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("held-out accuracy %.4f", acc)
	if acc < 0.95 {
		t.Errorf("held-out accuracy %.3f after 120 steps; want ≥ 0.95", acc)
	}
}
