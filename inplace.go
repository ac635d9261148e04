package nabla

import (
	"github.com/nabla-go/nabla/internal/loops"
	"strconv"
	"sync/atomic"
	"unsafe"
)

// In-place ops and version counters.
//
// Every storage has a version: the number of in-place writes made to it.
// The in-place ops below, Set, and optimizer steps (through MarkModified)
// increase it; views share it, as they share the storage. When an op is
// recorded, the graph notes the versions of its inputs and output, and the
// backward pass compares them with the current ones before it runs the op's
// rule: if a tensor that the rule reads was written in place since, the pass
// panics with a *GradError, as PyTorch's "one of the variables needed for
// gradient computation has been modified by an inplace operation". Writes
// through Data32 and Data64 are invisible to the counter (the slice outlives
// the call); code that writes through them calls MarkModified.
//
// The counter is made on first need (the first view or in-place write of a
// storage), so that ordinary ops allocate nothing more; a tensor without one
// is at version 0.

// storageVersion counts the in-place writes to one storage.
type storageVersion struct {
	n      atomic.Uint64
	shared atomic.Bool // some other tensor (a view, a Detach) shares the storage
}

// versionNow returns the current version of t's storage.
func (t *Tensor) versionNow() uint64 {
	if c := t.version.Load(); c != nil {
		return c.n.Load()
	}
	return 0
}

// counter returns t's version counter, making it on first need. Several
// goroutines may read (and view) the same tensor, so it is made with a CAS.
func (t *Tensor) counter() *storageVersion {
	c := t.version.Load()
	if c == nil {
		c = new(storageVersion)
		if !t.version.CompareAndSwap(nil, c) {
			c = t.version.Load()
		}
	}
	return c
}

// sharedCounter is counter for a view of t about to be made: it marks the
// storage as shared.
func (t *Tensor) sharedCounter() *storageVersion {
	c := t.counter()
	if !c.shared.Load() {
		c.shared.Store(true)
	}
	return c
}

// Version returns the number of in-place writes made to t's storage (by
// the in-place ops, Set, MarkModified and optimizer steps), shared by all
// the views of that storage, as PyTorch's Tensor._version.
func (t *Tensor) Version() uint64 { return t.versionNow() }

// MarkModified records that t's storage was written outside nabla's ops,
// through the slice of Data32 or Data64, so that a backward pass that still
// needs the old values panics instead of computing wrong gradients. The
// optimizers in package optim call it on every parameter they update.
func (t *Tensor) MarkModified() { t.counter().n.Add(1) }

// nodeMore is the state of a node that few nodes need.
type nodeMore struct {
	ver  []uint64 // the versions of more than two inputs, and the output's last
	prev *Tensor  // an in-place op's input: the tensor it overwrote, with its old graph
}

// input returns the tensor that held n's input j when n was recorded. An
// in-place op that overwrote that input since gave the input's *Tensor a
// new graph; n's gradient belongs to the old one, which the in-place op
// keeps as prev, so follow prev back to the write that came before n.
func (n *node) input(j int) *Tensor {
	x := n.inputs[j]
	if x == nil || x.node == nil || !x.node.inplace {
		return x
	}
	v := n.savedVersion(j)
	for x.node != nil && x.node.inplace && x.node.savedVersion(len(x.node.inputs)) > v {
		x = x.node.more.prev
	}
	return x
}

// savedVersion returns the version of operand j of n (len(n.inputs) for
// the output) when n was recorded.
func (n *node) savedVersion(j int) uint64 {
	if n.more != nil && n.more.ver != nil {
		return n.more.ver[j]
	}
	if j == len(n.inputs) {
		return n.ver[2]
	}
	return n.ver[j]
}

// noteVersions stores the versions of n's inputs and of out, at record time.
func (n *node) noteVersions(out *Tensor) {
	if len(n.inputs) <= 2 {
		for i, x := range n.inputs {
			if x != nil {
				n.ver[i] = x.versionNow()
			}
		}
		n.ver[2] = out.versionNow()
		return
	}
	ver := make([]uint64, len(n.inputs)+1)
	for i, x := range n.inputs {
		if x != nil {
			ver[i] = x.versionNow()
		}
	}
	ver[len(n.inputs)] = out.versionNow()
	n.more = &nodeMore{ver: ver}
}

// checkVersions panics with a *GradError if the backward rule of n, about
// to run for out, reads an operand that was written in place since n was
// recorded.
func checkVersions(n *node, out *Tensor) {
	for j, x := range n.inputs {
		if x != nil && x.versionNow() != n.savedVersion(j) && readsOperand(n, j, out) {
			panicModified(n, j, n.input(j))
		}
	}
	if j := len(n.inputs); out.versionNow() != n.savedVersion(j) && readsOperand(n, j, out) {
		panicModified(n, j, out)
	}
}

func panicModified(n *node, j int, x *Tensor) {
	what := "its output"
	if j < len(n.inputs) {
		what = "its input " + strconv.Itoa(j)
	}
	kind := "a leaf"
	switch {
	case x.node != nil:
		kind = "the result of " + x.node.op
	case x.requiresGrad:
		kind = "a leaf that requires grad"
	}
	panic(&GradError{Op: n.op, Reason: "one of the tensors needed for gradient computation has been modified by an in-place operation: " +
		what + ", " + kind + " of shape " + shapeString(x.shape) + " " + x.dtype.String() +
		", is at version " + strconv.FormatUint(x.versionNow(), 10) + "; it was at version " +
		strconv.FormatUint(n.savedVersion(j), 10) + " when " + n.op + " ran. Clone it before changing it, or change it out of place"})
}

// readsOperand reports whether the backward rule of n reads the values of
// operand j (the output when j == len(n.inputs)). A view's output shares
// its input's storage, so a write to either changes what the view's graph
// describes: that is always an error. Ops not listed read everything,
// which may refuse a program PyTorch accepts, but never computes a wrong
// gradient.
func readsOperand(n *node, j int, out *Tensor) bool {
	isOut := j == len(n.inputs)
	if isOut && !n.inplace {
		for _, x := range n.inputs {
			if x != nil && sameStorage(x, out) {
				return true
			}
		}
	}
	switch n.op {
	case "Add", "Sub", "Neg", "AddScalar", "MulScalar", "Sum", "To", "Clone", "Contiguous", "Reshape",
		"Squeeze", "Unsqueeze", "Permute", "BroadcastTo", "Slice", "SliceBackward", "Identity", "InArena",
		"Concat", "Fill":
		return false
	case "ReluInPlace":
		return isOut
	case "Exp", "Tanh", "Sigmoid", "Sqrt", "Reciprocal":
		return isOut
	case "Log", "Sin", "Cos", "Relu", "LeakyRelu", "Abs", "Erf", "Softplus", "PowScalar", "Gelu", "Clamp":
		return j == 0
	case "Mul", "MatMul":
		// each input's gradient reads the other input
		return !isOut && n.inputs[1-j].requiresGrad
	case "Where":
		return j == 0 // the condition
	}
	return true
}

// sameStorage reports whether a and b are views of one storage.
func sameStorage(a, b *Tensor) bool {
	switch {
	case a.dtype != b.dtype:
		return false
	case a.dtype == Float64:
		return cap(a.f64) > 0 && cap(b.f64) > 0 && unsafe.SliceData(a.f64[:1]) == unsafe.SliceData(b.f64[:1])
	default:
		return cap(a.f32) > 0 && cap(b.f32) > 0 && unsafe.SliceData(a.f32[:1]) == unsafe.SliceData(b.f32[:1])
	}
}

// checkWritable panics unless op may write into t in place, and reports
// whether the write must be recorded in the graph (with others, the
// tensors the new values depend on).
func (t *Tensor) checkWritable(op string, others ...*Tensor) bool {
	if t.node == nil && t.requiresGrad {
		panic(&GradError{Op: op, Reason: "a leaf that requires grad is used in an in-place operation; change it inside NoGrad, or use an out-of-place op"})
	}
	for i, d := range t.shape {
		if d > 1 && t.strides[i] == 0 {
			panicShape(op, "the tensor is an expanded view: several of its elements share one memory location", t.shape)
		}
	}
	if t.noGraph {
		return false
	}
	tracked := t.requiresGrad
	for _, u := range others {
		if u != nil && u.requiresGrad && !u.noGraph {
			tracked = true
		}
	}
	if !tracked {
		return false
	}
	if t.node != nil {
		if t.node.inplace {
			return true
		}
		for _, x := range t.node.inputs {
			if x != nil && sameStorage(x, t) {
				panic(&GradError{Op: op, Reason: "in-place operation on a view (made by " + t.node.op + ") of a tensor that requires grad: its base would not see the change in the graph; Clone the view first, or change it out of place"})
			}
		}
	} else if c := t.version.Load(); c != nil && c.shared.Load() {
		panic(&GradError{Op: op, Reason: "in-place operation that makes a tensor require grad, on a tensor whose memory is shared with views: they would not see the gradient; Clone it first, or change it out of place"})
	}
	return true
}

// writeBack stores the values of r (t's shape) into t's memory, bumps the
// version, and, when tracked, makes r's graph t's: t now stands for r.
func (t *Tensor) writeBack(r *Tensor, tracked bool) *Tensor {
	if r.dtype != t.dtype {
		r = r.To(t.dtype)
	}
	r = r.contiguous()
	if t.dtype == Float64 {
		scatter(t.f64, t.offset, t.shape, t.strides, r.f64[r.offset:r.offset+r.Len()])
	} else {
		scatter(t.f32, t.offset, t.shape, t.strides, r.f32[r.offset:r.offset+r.Len()])
	}
	c := t.counter()
	c.n.Add(1)
	if tracked {
		prev := t.old(true, false) // t before the write, for earlier consumers
		n := r.node
		// The node now produces t: its output is t at the new version, a
		// tensor that shares its storage with its input (the old t) by
		// design, not as a view does.
		if n.more == nil {
			n.more = &nodeMore{}
		}
		if n.more.ver != nil {
			n.more.ver[len(n.inputs)] = c.n.Load()
		} else {
			n.ver[2] = c.n.Load()
		}
		n.inplace = true
		n.more.prev = prev
		t.node = n
		t.requiresGrad = true
	}
	return t
}

// scatter writes the contiguous src into dst at the strided positions of a
// tensor of shape with the given strides and offset.
func scatter[E float32 | float64](dst []E, offset int, shape, strides []int, src []E) {
	if len(src) == 0 {
		return
	}
	if contiguousIn(shape, strides) {
		copy(dst[offset:offset+len(src)], src)
		return
	}
	idx := make([]int, len(shape))
	off := offset
	for k := range src {
		dst[off] = src[k]
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d]++
			off += strides[d]
			if idx[d] < shape[d] {
				break
			}
			off -= idx[d] * strides[d]
			idx[d] = 0
		}
	}
}

func contiguousIn(shape, strides []int) bool {
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] != 1 && strides[i] != s {
			return false
		}
		s *= shape[i]
	}
	return true
}

// old returns a tensor that stands for t's current value and graph, the
// input of an in-place op about to change t: t itself when the op is not
// recorded, otherwise a new tensor holding t's node (t is about to get
// another). keep asks for a copy of the values, for ops whose gradient
// reads the values from before the write.
func (t *Tensor) old(tracked, keep bool) *Tensor {
	if !tracked {
		return t
	}
	o := t.view(t.shape, t.strides, t.offset)
	o.node, o.requiresGrad = t.node, t.requiresGrad
	if keep {
		return o.Clone()
	}
	return o
}

// matchShape panics unless r, computed from t and other operands, has t's
// shape: an in-place op cannot change its tensor's shape.
func (t *Tensor) matchShape(op string, r *Tensor, u *Tensor) {
	if !sameShape(r.shape, t.shape) {
		panicShape(op, "the result of shape "+shapeString(r.shape)+" does not fit in the tensor written in place", t.shape, u.shape)
	}
}

// AddInPlace adds u (broadcast to t's shape) to t in place, as PyTorch's
// add_, and returns t. t may be a view; if it is in a graph, or u requires
// grad, the addition is recorded and t's gradient flows through it. It
// panics with a *GradError if t is a leaf that requires grad (outside
// NoGrad) and with a *ShapeError if u does not broadcast to t.
func (t *Tensor) AddInPlace(u *Tensor) *Tensor {
	tracked := t.checkWritable("AddInPlace", u)
	r := t.old(tracked, false).Add(u)
	t.matchShape("AddInPlace", r, u)
	return t.writeBack(r, tracked)
}

// MulInPlace multiplies t by u (broadcast to t's shape) in place, as mul_,
// and returns t; see AddInPlace. When u requires grad its gradient needs
// t's old values, which are copied first.
func (t *Tensor) MulInPlace(u *Tensor) *Tensor {
	tracked := t.checkWritable("MulInPlace", u)
	r := t.old(tracked, u.requiresGrad).Mul(u)
	t.matchShape("MulInPlace", r, u)
	return t.writeBack(r, tracked)
}

// MulScalarInPlace multiplies t by c in place and returns t.
func (t *Tensor) MulScalarInPlace(c float64) *Tensor {
	tracked := t.checkWritable("MulScalarInPlace")
	return t.writeBack(t.old(tracked, false).MulScalar(c), tracked)
}

// CopyFrom copies src (broadcast to t's shape, converted to t's dtype) into
// t in place, as copy_, and returns t. If src requires grad, t's gradient
// flows to it; t's old value gets none.
func (t *Tensor) CopyFrom(src *Tensor) *Tensor {
	tracked := t.checkWritable("CopyFrom", src)
	if !broadcastsTo(src.shape, t.shape) {
		panicShape("CopyFrom", "source does not broadcast to the tensor", src.shape, t.shape)
	}
	// Through Clone, so that the node's output is not src's storage.
	r := src.To(t.dtype).BroadcastTo(t.shape...).Clone()
	if !src.requiresGrad {
		r = t.filled(r, tracked)
	}
	return t.writeBack(r, tracked)
}

// Fill sets every element of t to v in place, as fill_, and returns t. A
// tensor in a graph stays in it, with a zero gradient to its old value.
func (t *Tensor) Fill(v float64) *Tensor {
	tracked := t.checkWritable("Fill")
	return t.writeBack(t.filled(FullOf(t.dtype, v, t.shape...), tracked), tracked)
}

// filled records, when tracked, that the constant r replaces t's value:
// t stays in the graph, with a zero gradient to its old value.
func (t *Tensor) filled(r *Tensor, tracked bool) *Tensor {
	if !tracked {
		return r
	}
	return record("Fill", r.Detach(), func(_, _ *Tensor, _ []*Tensor) []*Tensor { return []*Tensor{nil} }, t.old(true, false))
}

// Zero sets every element of t to 0 in place, as zero_, and returns t.
func (t *Tensor) Zero() *Tensor { return t.Fill(0) }

// ClampInPlace limits t to [lo, hi] in place, as clamp_, and returns t; the
// gradient is Clamp's, computed from a copy of the old values.
func (t *Tensor) ClampInPlace(lo, hi float64) *Tensor {
	tracked := t.checkWritable("ClampInPlace")
	return t.writeBack(t.old(tracked, true).Clamp(lo, hi), tracked)
}

// ReluInPlace replaces t by max(t, 0) in place, as relu_, and returns t.
// Its gradient reads the result, not the old values (as PyTorch's
// threshold_backward on the result), so it needs no copy.
func (t *Tensor) ReluInPlace() *Tensor {
	tracked := t.checkWritable("ReluInPlace")
	o := t.old(tracked, false)
	r := mapUnary(o, loops.Relu, 0)
	if tracked {
		r = record("ReluInPlace", r, func(g, out *Tensor, _ []*Tensor) []*Tensor {
			return []*Tensor{reluGrad(g, out)}
		}, o)
	}
	return t.writeBack(r, tracked)
}

// MaskedFillInPlace sets t to v where the Bool mask (broadcast to t's
// shape) is true, in place, as masked_fill_, and returns t. It panics with
// a *ValueError if mask is not Bool, as PyTorch does.
func (t *Tensor) MaskedFillInPlace(mask *Tensor, v float64) *Tensor {
	if mask.dtype != Bool {
		panicValue("MaskedFillInPlace", "mask is %v, want bool (compare it first, e.g. mask.NotEqual(nabla.Scalar(0)))", mask.dtype)
	}
	tracked := t.checkWritable("MaskedFillInPlace")
	if !broadcastsTo(mask.shape, t.shape) {
		panicShape("MaskedFillInPlace", "mask does not broadcast to the tensor", mask.shape, t.shape)
	}
	r := Where(mask.Detach(), FullOf(t.dtype, v), t.old(tracked, false))
	t.matchShape("MaskedFillInPlace", r, mask)
	return t.writeBack(r, tracked)
}
