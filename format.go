package nabla

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxPrinted is the number of elements beyond which String elides the
// middle of each axis, as NumPy does.
const maxPrinted = 1000

// String formats t's values as nested brackets followed by its shape and
// dtype, e.g. "[[1 2 3] [4 5 6]] shape=[2 3] float32". Large tensors show
// the first and last three entries of each axis.
func (t *Tensor) String() string { return t.format(-1) }

// format writes t as String does, rounding values to prec decimals when
// prec >= 0.
func (t *Tensor) format(prec int) string {
	var b strings.Builder
	vals := t.formatValues(prec)
	elide := len(vals) > maxPrinted
	if len(t.shape) == 0 {
		b.WriteString(vals[0])
	} else {
		writeNested(&b, vals, t.shape, elide)
	}
	fmt.Fprintf(&b, " shape=%s %s", shapeString(t.shape), t.dtype)
	if t.requiresGrad {
		if t.node != nil {
			b.WriteString(" grad_fn=" + t.node.op)
		} else {
			b.WriteString(" requires_grad")
		}
	}
	return b.String()
}

// Format implements fmt.Formatter so that %v prints String and a precision
// such as %.3v rounds the values to that many decimals.
func (t *Tensor) Format(f fmt.State, verb rune) {
	prec := -1
	if p, ok := f.Precision(); ok && (verb == 'v' || verb == 'f' || verb == 'g') {
		prec = p
	}
	io.WriteString(f, t.format(prec))
}

func roundTo(v float64, digits int) float64 {
	s := strconv.FormatFloat(v, 'f', digits, 64)
	r, _ := strconv.ParseFloat(s, 64)
	return r
}

// formatValues returns t's elements in row-major order as strings: integers
// without decimals, Bool as true and false, floats in the shortest form
// that reads back as the same value of t's dtype (rounded to prec decimals
// when prec >= 0).
func (t *Tensor) formatValues(prec int) []string {
	out := make([]string, t.Len())
	switch {
	case t.dtype == Bool:
		for i, v := range t.Bools() {
			out[i] = strconv.FormatBool(v)
		}
	case t.dtype.IsInt():
		for i, v := range t.Int64s() {
			out[i] = strconv.FormatInt(v, 10)
		}
	default:
		bits := 32 // float32, and the half dtypes, whose values are float32s
		if t.dtype == Float64 {
			bits = 64
		}
		for i, v := range t.Float64s() {
			if prec >= 0 {
				v = roundTo(v, prec)
			}
			out[i] = strconv.FormatFloat(v, 'g', -1, bits)
		}
	}
	return out
}

func writeNested(b *strings.Builder, vals []string, shape []int, elide bool) {
	b.WriteByte('[')
	n := shape[0]
	inner := numel(shape[1:])
	for i := 0; i < n; i++ {
		if elide && n > 6 && i == 3 {
			b.WriteString(" ...")
			i = n - 3
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		if len(shape) == 1 {
			b.WriteString(vals[i])
		} else {
			writeNested(b, vals[i*inner:(i+1)*inner], shape[1:], elide)
		}
	}
	b.WriteByte(']')
}
