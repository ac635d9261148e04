package nabla

import (
	"strconv"
	"strings"
)

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func shapeString(s []int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(d))
	}
	b.WriteByte(']')
	return b.String()
}

// BroadcastShapes returns the shape that NumPy broadcasting gives operands
// of the given shapes, or panics with a *ShapeError naming op if they do not
// broadcast.
func broadcastShapes(op string, a, b []int) []int {
	if sameShape(a, b) {
		return a
	}
	r := max(len(a), len(b))
	out := make([]int, r)
	for i := 1; i <= r; i++ {
		da, db := 1, 1
		if i <= len(a) {
			da = a[len(a)-i]
		}
		if i <= len(b) {
			db = b[len(b)-i]
		}
		switch {
		case da == db || db == 1:
			out[r-i] = da
		case da == 1:
			out[r-i] = db
		default:
			panicShape(op, "do not broadcast ("+strconv.Itoa(da)+" != "+strconv.Itoa(db)+")", a, b)
		}
	}
	return out
}

// broadcastStrides returns t's strides seen from the (larger) shape: 0 on
// new and stretched dimensions.
func (t *Tensor) broadcastStrides(shape []int) []int {
	st := make([]int, len(shape))
	k := len(shape) - len(t.shape)
	for i := range t.shape {
		if t.shape[i] != 1 {
			st[k+i] = t.strides[i]
		}
	}
	return st
}

// BroadcastTo returns a view of t expanded to shape following NumPy's rules:
// dimensions of size 1 are stretched and new leading dimensions added, with
// stride 0 and no copy. Its gradient sums back to t's shape. It panics with
// a *ShapeError if t does not broadcast to shape.
func (t *Tensor) BroadcastTo(shape ...int) *Tensor {
	if sameShape(t.shape, shape) {
		return t
	}
	if len(shape) < len(t.shape) {
		panicShape("BroadcastTo", "cannot broadcast to fewer dimensions", t.shape, shape)
	}
	k := len(shape) - len(t.shape)
	for i, d := range t.shape {
		if d != 1 && d != shape[k+i] {
			panicShape("BroadcastTo", "dimension "+strconv.Itoa(i)+" does not broadcast ("+strconv.Itoa(d)+" != "+strconv.Itoa(shape[k+i])+")", t.shape, shape)
		}
	}
	shape = append([]int(nil), shape...)
	out := t.view(shape, t.broadcastStrides(shape), t.offset)
	return record("BroadcastTo", out, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		return []*Tensor{g.SumTo(in[0].shape...)}
	}, t)
}

// Expand is BroadcastTo, under PyTorch's name.
func (t *Tensor) Expand(shape ...int) *Tensor { return t.BroadcastTo(shape...) }

// SumTo sums t down to shape, undoing broadcasting: it sums the extra
// leading dimensions and, with kept dimensions, every dimension where shape
// has 1. It is the one place that reduces a broadcast gradient back to an
// input's shape. It panics with a *ShapeError if shape does not broadcast to
// t's shape.
func (t *Tensor) SumTo(shape ...int) *Tensor {
	if sameShape(t.shape, shape) {
		return t
	}
	k := len(t.shape) - len(shape)
	if k < 0 {
		panicShape("SumTo", "target has more dimensions", t.shape, shape)
	}
	var axes []int
	for i := 0; i < len(t.shape); i++ {
		if i < k {
			axes = append(axes, i)
			continue
		}
		switch shape[i-k] {
		case t.shape[i]:
		case 1:
			axes = append(axes, i)
		default:
			panicShape("SumTo", "dimension "+strconv.Itoa(i)+" cannot be summed to "+strconv.Itoa(shape[i-k]), t.shape, shape)
		}
	}
	return t.SumKeep(axes...).Reshape(shape...)
}
