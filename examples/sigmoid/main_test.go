package main

import (
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	var b strings.Builder
	if err := run(&b, 0); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"reciprocal  y = 1/c       1.0000   -0.2500     -0.2500",
		"negative    a = -z       -0.2500   -1.0000      0.2500",
		"autodiff   dy/dz = 0.2500",
		"numerical  dy/dz = 0.2500",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
