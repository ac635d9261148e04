package dist_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The tests that need several ranks re-execute the test binary under
// mpirun: TestMain sees NABLA_DIST_ROLE and runs the named rank program
// instead of the tests, with its arguments as JSON in NABLA_DIST_ARGS.

const (
	roleEnv = "NABLA_DIST_ROLE"
	argsEnv = "NABLA_DIST_ARGS"
)

// roles are the programs a rank can run; each returns the process's exit
// code after printing what went wrong.
var roles = map[string]func(args json.RawMessage) int{}

func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		f, ok := roles[role]
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown role %q\n", role)
			os.Exit(3)
		}
		os.Exit(f(json.RawMessage(os.Getenv(argsEnv))))
	}
	code := m.Run()
	if subsetPath != "" {
		os.Remove(subsetPath)
	}
	os.Exit(code)
}

// mpirunResult is what a job printed and how it ended.
type mpirunResult struct {
	out     string
	err     error // nil for exit code 0
	elapsed time.Duration
}

// mpirun runs role on np ranks with args, each rank with GOMAXPROCS
// threads, and returns when the job ends or timeout passes. It skips the
// test where mpirun is absent.
func mpirun(t *testing.T, np, threads int, timeout time.Duration, role string, args any) mpirunResult {
	t.Helper()
	path, err := exec.LookPath("mpirun")
	if err != nil {
		t.Skip("mpirun not found (install openmpi-bin): skipping the multi-process test")
	}
	js, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "--oversubscribe", "--allow-run-as-root", "--bind-to", "none",
		"-np", fmt.Sprint(np), "-x", roleEnv, "-x", argsEnv, "-x", "GOMAXPROCS", os.Args[0])
	cmd.Env = append(os.Environ(), roleEnv+"="+role, argsEnv+"="+string(js), fmt.Sprintf("GOMAXPROCS=%d", threads))
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	start := time.Now()
	err = cmd.Run()
	res := mpirunResult{out: buf.String(), err: err, elapsed: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("mpirun -np %d %s did not end within %v:\n%s", np, role, timeout, res.out)
	}
	return res
}

// ok fails the test unless the job succeeded.
func (r mpirunResult) ok(t *testing.T) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("job failed (%v):\n%s", r.err, r.out)
	}
}

// rankf prints a line prefixed with the rank, for the test's log.
func rankf(rank int, format string, a ...any) {
	fmt.Fprintf(os.Stderr, "rank %d: %s\n", rank, strings.TrimSpace(fmt.Sprintf(format, a...)))
}
