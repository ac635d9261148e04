package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestBenchOpsAccepted checks that --workloads takes OPS by name, in any
// case and beside W1..W5, without running it: with the context cancelled
// (Ctrl-C before the first workload) the command stops as interrupted
// (exit 130) instead of refusing the name (exit 2). internal/workload's
// TestQuickOps runs OPS itself, on small tensors, so that the race-enabled
// tests stay fast; a full-size quick OPS takes seconds.
func TestBenchOpsAccepted(t *testing.T) {
	for _, wl := range []string{"OPS", "ops", "W5,OPS"} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var o, e bytes.Buffer
		code := run(ctx, []string{"bench", "--workloads", wl, "--quick"}, &o, &e)
		if code != exitInterrupted || o.Len() != 0 {
			t.Errorf("bench --workloads %s --quick (cancelled): exit %d, stdout %q, stderr %q; want exit %d and no figure",
				wl, code, o.String(), e.String(), exitInterrupted)
		}
	}
}

// TestBenchUnknownWorkload checks that a workload name that is neither
// a workload nor OPS is a usage error (exit 2) that names the valid ones,
// before anything runs.
func TestBenchUnknownWorkload(t *testing.T) {
	for _, wl := range []string{"W99", "OPS,W42", "op"} {
		code, stdout, stderr := runCmd(t, "bench", "--workloads", wl, "--quick")
		if code != exitUsage || stdout != "" || !strings.Contains(stderr, "W1..W10") || !strings.Contains(stderr, "OPS)") {
			t.Errorf("bench --workloads %s: exit %d, stdout %q, stderr %q; want exit 2 naming the workloads", wl, code, stdout, stderr)
		}
	}
}

// TestBenchHelp checks that the usage text lists OPS and the language-model
// workloads.
func TestBenchHelp(t *testing.T) {
	code, stdout, _ := runCmd(t, "bench", "--help")
	if code != 0 || !strings.Contains(stdout, "Usage: nabla bench") {
		t.Errorf("bench --help: exit %d, output %q", code, stdout)
	}
	for _, w := range []string{"OPS", "W6", "W7", "W8", "--w6-val-steps"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("bench --help does not name %s", w)
		}
	}
}

// TestBenchNegativeValSteps checks that --w6-val-steps -1 is a usage error.
func TestBenchNegativeValSteps(t *testing.T) {
	code, _, stderr := runCmd(t, "bench", "--workloads", "W6", "--w6-val-steps", "-1")
	if code != exitUsage || !strings.Contains(stderr, "--w6-val-steps") {
		t.Errorf("bench --w6-val-steps -1: exit %d, stderr %q; want exit 2 naming the flag", code, stderr)
	}
}
