package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// The command as a user runs it: built once, run as a process with its
// address space limited, so that a reader that allocates without bound
// fails the test instead of the machine.
var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

const (
	vmLimitKB = 2 << 20   // ulimit -v: 2 GiB of address space (the Go runtime reserves ~0.6 GiB at start)
	maxRSSKB  = 400 << 10 // the peak resident memory a failing command may reach
)

// nablaBin returns the path of the nabla binary built from this package,
// or of the binary NABLA_BIN names (to run the tests against another
// build, such as one from before a fix).
func nablaBin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("NABLA_BIN"); p != "" {
		return p
	}
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "nabla-bin")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "nabla")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = errors.New("go build: " + err.Error() + ": " + string(out))
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// result is the outcome of one run of the binary.
type result struct {
	code           int
	stdout, stderr string
	maxRSSKB       int64
}

// runBin runs the nabla binary with args in the folder dir, stdin from
// stdin (nil: none), under the address-space limit.
func runBin(t *testing.T, dir string, stdin *os.File, args ...string) result {
	t.Helper()
	cmd := exec.Command("sh", append([]string{"-c", `ulimit -v ` + strconv.Itoa(vmLimitKB) + ` && exec "$0" "$@"`, nablaBin(t)}, args...)...)
	cmd.Dir = dir
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	r := result{stdout: o.String(), stderr: e.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("nabla %s: %v", strings.Join(args, " "), err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSSKB = ru.Maxrss
	}
	return r
}

// wantFailure checks that r is a failure as the command reports one: exit
// code 1, one line on stderr naming msg, no stack trace, memory bounded.
func wantFailure(t *testing.T, r result, msg string) {
	t.Helper()
	if r.code != exitFailure {
		t.Errorf("exit %d; want %d (stderr %q)", r.code, exitFailure, trunc(r.stderr))
	}
	if !strings.Contains(r.stderr, msg) {
		t.Errorf("stderr %q; want it to contain %q", trunc(r.stderr), msg)
	}
	for _, bad := range []string{"goroutine", "panic", "fatal error", "internal error"} {
		if strings.Contains(r.stderr, bad) {
			t.Errorf("stderr holds %q: %s", bad, trunc(r.stderr))
		}
	}
	if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n > 0 {
		t.Errorf("error of %d lines: %q", n+1, trunc(r.stderr))
	}
	if r.maxRSSKB > maxRSSKB {
		t.Errorf("peak memory %d MiB; want at most %d MiB", r.maxRSSKB>>10, maxRSSKB>>10)
	}
}

func trunc(s string) string {
	if len(s) > 600 {
		return s[:600] + "..."
	}
	return s
}
