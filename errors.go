package nabla

import (
	"errors"
	"fmt"
	"strings"
)

// ShapeError reports a programming mistake in the shape of an op's operands
// or in an axis argument. Ops panic with a *ShapeError; [Maybe] turns such a
// panic back into an error.
type ShapeError struct {
	Op     string  // the op that failed, e.g. "MatMul"
	Shapes [][]int // the shapes of the operands involved
	Reason string  // what did not fit, e.g. "3 != 4"
}

// Error formats the error as "nabla: Op: shapes ...: reason".
func (e *ShapeError) Error() string {
	var b strings.Builder
	b.WriteString("nabla: ")
	b.WriteString(e.Op)
	b.WriteString(": ")
	switch len(e.Shapes) {
	case 0:
	case 1:
		fmt.Fprintf(&b, "shape %v: ", e.Shapes[0])
	default:
		b.WriteString("shapes ")
		for i, s := range e.Shapes {
			if i > 0 {
				if i == len(e.Shapes)-1 {
					b.WriteString(" and ")
				} else {
					b.WriteString(", ")
				}
			}
			fmt.Fprint(&b, s)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// GradError reports a misuse of automatic differentiation, such as calling
// Backward on a tensor that does not require gradients, or on a non-scalar
// without an upstream gradient.
type GradError struct {
	Op     string // the call that failed, e.g. "Backward"
	Reason string
}

// Error formats the error as "nabla: Op: reason".
func (e *GradError) Error() string { return "nabla: " + e.Op + ": " + e.Reason }

// ValueError reports an argument whose value (not shape) is wrong, such as
// an index out of range or a dtype mismatch where none is allowed.
type ValueError struct {
	Op     string
	Reason string
}

// Error formats the error as "nabla: Op: reason".
func (e *ValueError) Error() string { return "nabla: " + e.Op + ": " + e.Reason }

func shapeErr(op, reason string, shapes ...[]int) *ShapeError {
	cp := make([][]int, len(shapes))
	for i, s := range shapes {
		cp[i] = append([]int{}, s...)
	}
	return &ShapeError{Op: op, Shapes: cp, Reason: reason}
}

func panicShape(op, reason string, shapes ...[]int) {
	panic(shapeErr(op, reason, shapes...))
}

func panicValue(op, format string, args ...any) {
	panic(&ValueError{Op: op, Reason: fmt.Sprintf(format, args...)})
}

// Maybe calls f and returns the *ShapeError, *GradError or *ValueError that f
// panicked with, or nil if f returned normally. Any other panic is passed on
// unchanged. It lets callers that prefer errors use the panicking API:
//
//	err := nabla.Maybe(func() { y = a.MatMul(b) })
func Maybe(f func()) (err error) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if e, ok := r.(error); ok && isNablaError(e) {
			err = e
			return
		}
		panic(r)
	}()
	f()
	return nil
}

func isNablaError(e error) bool {
	var se *ShapeError
	var ge *GradError
	var ve *ValueError
	return errors.As(e, &se) || errors.As(e, &ge) || errors.As(e, &ve)
}
