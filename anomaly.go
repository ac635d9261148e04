package nabla

import (
	"math"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Anomaly detection has two halves, because the forward pass runs before
// Backward is called:
//
//   - [AnomalyMode] turns on the recording of call sites: while it is on,
//     every op recorded in a graph keeps the program counters of its caller
//     (runtime.Callers, about a microsecond). It is a process-wide counter,
//     read with one atomic load in record, so the normal path costs one
//     load and a branch; the project has no global grad mode, and this is
//     not one: the counter changes no value and no graph, only what an
//     error message can say, so goroutines that train other models while it
//     is on get the same results (and pay for the capture). Go has no
//     goroutine-local state that would scope it more narrowly, and a
//     per-tensor or per-arena flag would have to be threaded through every
//     op's output.
//   - [DetectAnomaly], a BackwardOption for Backward and Gradients, checks
//     every gradient that a backward rule returns for NaN and Inf, and
//     panics with a *GradError naming the first op whose rule produced one
//     and, if AnomalyMode was on during the forward pass, where that op was
//     called. It is per call, so it never changes another goroutine's pass.

// anomalySites counts the AnomalyMode scopes that are open.
var anomalySites atomic.Int32

// AnomalyMode turns on the recording of call sites for the ops of every
// graph built until the returned function is called, so that a backward
// pass with [DetectAnomaly] can say where the forward pass called the op
// whose gradient went wrong. Use it around the forward pass of the step that
// goes wrong, as torch.autograd.detect_anomaly:
//
//	defer nabla.AnomalyMode()()
//	loss := model.Forward(x)...
//	loss.Backward(nabla.DetectAnomaly())
//
// Scopes nest and may overlap between goroutines; recording stays on while
// any is open. It slows op recording (each op captures its caller's
// stack), never changes a value.
func AnomalyMode() (end func()) {
	anomalySites.Add(1)
	var once sync.Once
	return func() { once.Do(func() { anomalySites.Add(-1) }) }
}

// DetectAnomaly makes Backward or Gradients check every gradient that an
// op's backward rule returns for NaN and Inf, and panic with a *GradError
// that names the first op (in the backward pass's order) whose rule
// produced one, the input it was for, and the file:line where that op was
// called if [AnomalyMode] was on while the graph was built. It costs a pass
// over every gradient, so it is meant for debugging.
func DetectAnomaly() BackwardOption {
	return func(c *backwardConfig) { c.anomaly = true }
}

// callSite holds the program counters of the code that recorded an op.
type callSite struct{ pcs []uintptr }

// captureSite returns the call stack above record, which calls it.
func captureSite() *callSite {
	var pcs [32]uintptr
	n := runtime.Callers(3, pcs[:]) // skip Callers, captureSite, record
	return &callSite{pcs: append([]uintptr(nil), pcs[:n]...)}
}

// packageDir is the directory of this package's source files, as the
// runtime reports file names.
var packageDir = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}()

// String returns the first frame outside this package's own (non-test)
// files, the line of the user's code that called the op, followed by the
// next few frames.
func (s *callSite) String() string {
	frames := runtime.CallersFrames(s.pcs)
	var parts []string
	for {
		f, more := frames.Next()
		inside := filepath.Dir(f.File) == packageDir && !strings.HasSuffix(f.File, "_test.go")
		if !inside && f.File != "" {
			parts = append(parts, f.File+":"+strconv.Itoa(f.Line)+" ("+f.Function+")")
			if len(parts) == 4 || strings.HasPrefix(f.Function, "testing.") {
				break
			}
		}
		if !more {
			break
		}
	}
	if len(parts) == 0 {
		return "an unknown place"
	}
	return strings.Join(parts, ", called from ")
}

// checkAnomaly panics if the gradient g that op's backward rule returned
// for input i holds a NaN or an Inf.
func checkAnomaly(n *node, i int, g *Tensor) {
	bad := ""
	for _, v := range g.Float64s() {
		if math.IsNaN(v) {
			bad = "NaN"
			break
		}
		if math.IsInf(v, 0) && bad == "" {
			bad = "Inf"
		}
	}
	if bad == "" {
		return
	}
	where := "; run the forward pass inside nabla.AnomalyMode() to learn where it was called"
	if n.site != nil {
		where = "; " + n.op + " was called at " + n.site.String()
	}
	panic(&GradError{Op: "Backward", Reason: "anomaly: the backward rule of " + n.op + " returned " + bad +
		" in the gradient of its input " + strconv.Itoa(i) + " (shape " + shapeString(g.shape) + ")" + where})
}
