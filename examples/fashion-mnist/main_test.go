package main

import (
	"errors"
	"io"
	"io/fs"
	"testing"
)

func TestRun(t *testing.T) {
	rs, err := run(io.Discard, options{model: "both", epochs: 2, limit: 300})
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist):", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 {
		t.Fatalf("got %d results; want 2", len(rs))
	}
	for _, r := range rs {
		if r.accuracy < 0.2 { // 300 images, 2 epochs: better than chance (0.1)
			t.Errorf("%s: test accuracy %.3f on 300 images; want ≥ 0.2", r.model, r.accuracy)
		}
	}
}
