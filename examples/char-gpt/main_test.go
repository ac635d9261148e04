package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRun trains for a shortened run on Opticks and checks that the
// validation loss fell from its start near ln(vocabulary) ≈ 4.4 and that
// samples were printed.
func TestRun(t *testing.T) {
	if _, err := opticks(); err != nil {
		t.Skip(err)
	}
	var out strings.Builder
	png := filepath.Join(t.TempDir(), "curves.png")
	vl, err := run(&out, options{steps: 60, every: 30, sample: 80, out: png})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("validation losses %v", vl)
	if len(vl) != 2 || !(vl[1] < 3.4) {
		t.Errorf("validation losses %v after 30 and 60 steps; want two, the last < 3.4", vl)
	}
	if b, err := os.ReadFile(png); err != nil || !strings.HasPrefix(string(b), "\x89PNG") {
		t.Errorf("the loss curves %s: %v, not a PNG file", png, err)
	}
	if n := strings.Count(out.String(), "\nstep "); n != 2 {
		t.Errorf("printed %d step reports, want 2:\n%s", n, out.String())
	}
}

// TestBadInput checks the errors for a bad flag and a too short text.
func TestBadInput(t *testing.T) {
	if _, err := run(io.Discard, options{steps: 0, every: 1, sample: 1}); err == nil || !strings.Contains(err.Error(), "-steps") {
		t.Errorf("steps 0: error %v, want one naming -steps", err)
	}
	p := filepath.Join(t.TempDir(), "short.txt")
	if err := os.WriteFile(p, []byte("too short"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(io.Discard, options{textFile: p, steps: 1, every: 1, sample: 1}); err == nil || !strings.Contains(err.Error(), "too few") {
		t.Errorf("short text: error %v, want one saying it is too few characters", err)
	}
}
