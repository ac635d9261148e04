package nabla

import (
	"slices"
	"sync/atomic"

	"github.com/nabla-go/nabla/internal/loops"
)

// backwardFunc is an op's vector-Jacobian product: given the upstream
// gradient g (the shape of out), the op's output and its inputs, it returns
// one downstream gradient per input, each of that input's shape. A nil
// result means zero (or an input that needs no gradient). Rules are written
// with tensor ops, so that with CreateGraph they can themselves be
// differentiated.
type backwardFunc func(g, out *Tensor, in []*Tensor) []*Tensor

// node records the op that produced a tensor.
type node struct {
	op       string
	inputs   []*Tensor  // in[:k] for up to two inputs, else its own slice
	in       [2]*Tensor // inline storage for inputs, saving an allocation
	backward backwardFunc
	released bool      // Backward ran without RetainGraph: inputs are gone
	inplace  bool      // an in-place op: the output is the old input's storage, rewritten
	site     *callSite // where the op was called, kept only in AnomalyMode

	// the versions of the inputs' and the output's storage when the op was
	// recorded (inplace.go): ver for up to two inputs (ver[2] the output),
	// more.ver for more
	ver  [3]uint64
	more *nodeMore // rarely needed state, kept out of line

	// scratch for one backward pass
	pass uint64
	grad *Tensor
}

// record attaches an autograd node to out if any input requires a gradient,
// and returns out. An input marked noGraph (a gradient flowing through a
// backward pass without CreateGraph) passes the mark on and records nothing.
func record(op string, out *Tensor, bw backwardFunc, inputs ...*Tensor) *Tensor {
	for _, in := range inputs {
		if in != nil && in.noGraph {
			out.noGraph = true
			return out
		}
	}
	for _, in := range inputs {
		if in != nil && in.requiresGrad {
			n := &node{op: op, backward: bw}
			if len(inputs) <= len(n.in) {
				// Copy rather than keep the variadic slice, so that callers'
				// argument slices stay on their stacks.
				copy(n.in[:], inputs)
				n.inputs = n.in[:len(inputs)]
			} else {
				n.inputs = append([]*Tensor(nil), inputs...)
			}
			n.noteVersions(out)
			if anomalySites.Load() != 0 {
				n.site = captureSite()
			}
			out.requiresGrad = true
			out.node = n
			return out
		}
	}
	return out
}

// RequireGrad marks t as a leaf whose gradient Backward accumulates in
// [Tensor.Grad], and returns t. It panics with a *GradError if t is the
// result of an op (use [Tensor.Detach] first to make a new leaf), or if t
// is not Float32 or Float64: integer and Bool tensors are never
// differentiated (as in PyTorch), and Float16 and BFloat16 are storage
// formats here (gradients through ops on them flow to Float32 or Float64
// leaves they were converted from, but a half leaf cannot accumulate one).
func (t *Tensor) RequireGrad() *Tensor {
	switch {
	case t.dtype.isHalf():
		panic(&GradError{Op: "RequireGrad", Reason: "a " + t.dtype.String() + " tensor cannot require grad: half-precision tensors are storage; keep a float32 leaf and convert it with To"})
	case t.dtype != Float32 && t.dtype != Float64:
		panic(&GradError{Op: "RequireGrad", Reason: "a " + t.dtype.String() + " tensor cannot require grad: integer and bool tensors are never differentiated, only floating-point tensors can"})
	}
	if t.node != nil {
		panic(&GradError{Op: "RequireGrad", Reason: "tensor is the result of " + t.node.op + ", not a leaf; Detach it first"})
	}
	t.requiresGrad = true
	return t
}

// SetRequiresGrad turns gradient tracking of the leaf t on or off.
func (t *Tensor) SetRequiresGrad(on bool) *Tensor {
	if on {
		return t.RequireGrad()
	}
	if t.node != nil {
		panic(&GradError{Op: "SetRequiresGrad", Reason: "tensor is the result of " + t.node.op + ", not a leaf"})
	}
	t.requiresGrad = false
	return t
}

// RequiresGrad reports whether t takes part in gradient computation: a leaf
// marked with RequireGrad, or the result of an op on such a tensor.
func (t *Tensor) RequiresGrad() bool { return t.requiresGrad }

// IsLeaf reports whether t was not produced by a recorded op.
func (t *Tensor) IsLeaf() bool { return t.node == nil }

// Op returns the name of the op that produced t, or "" for a leaf.
func (t *Tensor) Op() string {
	if t.node == nil {
		return ""
	}
	return t.node.op
}

// Grad returns the gradient accumulated in the leaf t by Backward, or nil
// if none has been.
func (t *Tensor) Grad() *Tensor { return t.grad }

// ZeroGrad sets t's accumulated gradient to zero, keeping its memory for
// the next Backward to add into (so a training loop does not allocate a
// new gradient every step). A tensor without a gradient keeps none.
func (t *Tensor) ZeroGrad() {
	switch {
	case t.grad == nil:
	case t.gradOwned:
		clear(t.grad.f32)
		clear(t.grad.f64)
	default:
		t.grad = nil
	}
}

// SetGrad replaces t's accumulated gradient, or removes it if g is nil.
// Backward will not write into g: the next accumulation copies it first.
func (t *Tensor) SetGrad(g *Tensor) {
	t.grad = g
	t.gradOwned = false
}

// addInto adds src into dst in place; dst is contiguous with src's shape.
func addInto(dst, src *Tensor) {
	if dst.Len() == 0 {
		return
	}
	src = unstrided(src)
	if dst.dtype == Float64 {
		loops.Binary(loops.Add, dst.f64[dst.offset:], dst.shape, dst.f64, dst.offset, dst.strides, src.f64, src.offset, src.strides)
	} else {
		loops.Binary(loops.Add, dst.f32[dst.offset:], dst.shape, dst.f32, dst.offset, dst.strides, src.f32, src.offset, src.strides)
	}
}

// Detach returns a view of t's data that is cut from the graph: a leaf that
// requires no gradient, sharing memory with t.
func (t *Tensor) Detach() *Tensor {
	return t.view(t.shape, t.strides, t.offset)
}

// NoGrad calls f with gradient tracking switched off for the given leaves,
// then restores it: ops that f runs on them (and on tensors made from them)
// record no graph. It is scoped to the leaves, not global, so goroutines
// that work on other tensors (another model) are not affected. It must not
// run while another goroutine uses the same leaves.
func NoGrad(f func(), leaves ...*Tensor) {
	was := make([]bool, len(leaves))
	for i, l := range leaves {
		was[i] = l.requiresGrad
		if l.node == nil {
			l.requiresGrad = false
		}
	}
	defer func() {
		for i, l := range leaves {
			if l.node == nil {
				l.requiresGrad = was[i]
			}
		}
	}()
	f()
}

// BackwardOption changes how Backward and Gradients run.
type BackwardOption func(*backwardConfig)

type backwardConfig struct {
	upstream    *Tensor
	retainGraph bool
	createGraph bool
	onGradReady func(*Tensor) // see OnGradReady
	// graphIfOuter turns createGraph on when the graph reaches a leaf that
	// requires grad and is not one of wrt (a weight that a function given
	// to Grad closes over), so that the gradients stay differentiable with
	// respect to it. Used by the functional API only.
	graphIfOuter bool
	anomaly      bool // check every gradient for NaN and Inf (DetectAnomaly)
}

// WithUpstream sets the gradient that flows into the output, of the output's
// shape: the seed's "tensor filled with 1 whose shape is the output" is the
// default for scalars, and this option is required for other outputs.
func WithUpstream(g *Tensor) BackwardOption {
	return func(c *backwardConfig) { c.upstream = g }
}

// RetainGraph keeps the graph after Backward so that it can run again.
// Without it the graph is released as it is walked.
func RetainGraph() BackwardOption {
	return func(c *backwardConfig) { c.retainGraph = true }
}

// CreateGraph records the backward pass itself, so that the gradients it
// produces can be differentiated again (higher-order derivatives). It
// implies RetainGraph.
func CreateGraph() BackwardOption {
	return func(c *backwardConfig) { c.createGraph = true; c.retainGraph = true }
}

// Backward computes the gradient of t with respect to every leaf that
// requires one and adds it to that leaf's Grad: gradients from every path
// through the graph are summed (the multivariate chain rule), and so are
// gradients from successive calls until [Tensor.ZeroGrad].
//
// t must be a scalar (one element) unless WithUpstream gives the upstream
// gradient. It panics with a *GradError if t does not require a gradient,
// if t is not a scalar and no upstream is given, or if the graph was already
// released by an earlier Backward without RetainGraph.
func (t *Tensor) Backward(opts ...BackwardOption) {
	cfg := backwardConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	backprop("Backward", t, &cfg, nil)
}

// Gradients returns the gradients of the scalar y with respect to each of
// xs, like torch.autograd.grad, without touching any tensor's Grad. A
// tensor y does not depend on gets a zero gradient. With CreateGraph the
// gradients are themselves differentiable.
func Gradients(y *Tensor, xs []*Tensor, opts ...BackwardOption) []*Tensor {
	cfg := backwardConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	grads, _ := gradients(y, xs, cfg)
	return grads
}

// gradients is Gradients with its configuration made; it also reports
// whether the backward pass was recorded (CreateGraph, asked for or turned
// on by graphIfOuter).
func gradients(y *Tensor, xs []*Tensor, cfg backwardConfig) ([]*Tensor, bool) {
	for _, x := range xs {
		if !x.requiresGrad {
			panic(&GradError{Op: "Gradients", Reason: "an input does not require grad; call RequireGrad on it"})
		}
	}
	grads := backprop("Gradients", y, &cfg, xs)
	for i, g := range grads {
		switch {
		case g == nil:
			grads[i] = ZerosLike(xs[i])
		case g.noGraph:
			grads[i] = g.Detach() // a clean view, so the mark goes no further
		}
	}
	return grads, cfg.createGraph
}

var passCounter atomic.Uint64

// backprop walks the graph behind y in reverse topological order. When wrt
// is nil it accumulates into the Grad of leaves; otherwise it returns the
// gradient reaching each tensor of wrt and leaves every Grad alone.
func backprop(op string, y *Tensor, cfg *backwardConfig, wrt []*Tensor) []*Tensor {
	if !y.requiresGrad {
		panic(&GradError{Op: op, Reason: "tensor does not require grad: no input of the graph behind it was marked with RequireGrad"})
	}
	g := cfg.upstream
	if g == nil {
		if y.Len() != 1 {
			panic(&GradError{Op: op, Reason: "output has shape " + shapeString(y.shape) + ", not a scalar: pass WithUpstream(g) with a gradient of that shape"})
		}
		g = OnesLike(y)
	} else if !sameShape(g.shape, y.shape) {
		panic(shapeErr(op, "upstream gradient does not match the output", g.shape, y.shape))
	}
	pass := passCounter.Add(1)
	order := topoSort(op, y, pass)
	if cfg.graphIfOuter && !cfg.createGraph && reachesOuterLeaf(y, order, wrt) {
		cfg.createGraph, cfg.retainGraph = true, true
	}
	if !cfg.createGraph {
		// Without CreateGraph the backward pass records nothing: the
		// upstream is marked noGraph, and every op that a backward rule
		// runs on it (every gradient is linear in it) passes the mark on
		// instead of recording.
		g = g.Detach()
		g.noGraph = true
		if g.arena == nil {
			// An upstream made outside the arena of the output it
			// flows into (OnesLike, WithUpstream of a tensor of the
			// caller's) takes that arena: the backward rules' outputs
			// follow their first operand's arena, and a gradient such
			// as g·y with both operands outside would otherwise be a
			// fresh zeroed allocation on every pass.
			g.arena = y.arena
		}
	}
	if g.dtype != y.dtype {
		g = g.To(y.dtype)
	}

	// leaf gradients (and wanted tensors) are collected here
	var wantIdx map[*Tensor]int
	var wanted []*Tensor
	if wrt != nil {
		wantIdx = make(map[*Tensor]int, len(wrt))
		wanted = make([]*Tensor, len(wrt))
		for i, x := range wrt {
			wantIdx[x] = i
		}
	}
	deliver := func(t *Tensor, g *Tensor) {
		if wrt != nil {
			if i, ok := wantIdx[t]; ok {
				wanted[i] = accumulate(wanted[i], g)
			}
			if t.node == nil {
				return
			}
		} else if t.node == nil {
			switch {
			case cfg.createGraph:
				t.grad = accumulate(t.grad, g)
				t.gradOwned = false
			case t.grad == nil || !t.gradOwned:
				// Leaf gradients are contiguous, outside any arena, and
				// own their memory, so that optimizers can update them
				// through Data32 and later passes can add into them.
				old := t.grad
				t.grad = newShared(nil, g.dtype, g.shape, contiguousStrides(g.shape))
				t.gradOwned = true
				addInto(t.grad, g)
				if old != nil {
					addInto(t.grad, old)
				}
			default:
				addInto(t.grad, g)
			}
			return
		}
		n := t.node
		n.grad = accumulate(n.grad, g)
	}
	deliver(y, g)
	leaves := newLeafTracker(cfg.onGradReady, y, order, wrt)

	for i := len(order) - 1; i >= 0; i-- {
		t := order[i]
		n := t.node
		gt := n.grad
		n.grad = nil
		if gt == nil {
			leaves.ran(n.inputs)
			continue
		}
		checkVersions(n, t)
		gs := n.backward(gt, t, n.inputs)
		for j := range n.inputs {
			x := n.input(j)
			if x == nil || !x.requiresGrad || j >= len(gs) || gs[j] == nil {
				continue
			}
			gj := gs[j]
			if !sameShape(gj.shape, x.shape) {
				panic(&GradError{Op: n.op, Reason: "backward rule returned gradient of shape " + shapeString(gj.shape) + " for input of shape " + shapeString(x.shape)})
			}
			if cfg.anomaly {
				checkAnomaly(n, j, gj)
			}
			if gj.dtype != x.dtype {
				gj = gj.To(x.dtype)
			}
			deliver(x, gj)
		}
		leaves.ran(n.inputs)
		if !cfg.retainGraph {
			n.inputs = nil
			n.in = [2]*Tensor{}
			n.backward = nil
			n.released = true
		}
	}
	return wanted
}

// reachesOuterLeaf reports whether the graph behind y (its non-leaf tensors
// in order) reaches a leaf that requires grad and is not one of wrt. It
// looks at each edge once, and only runs for the functional API.
func reachesOuterLeaf(y *Tensor, order []*Tensor, wrt []*Tensor) bool {
	outer := func(x *Tensor) bool {
		if x == nil || !x.requiresGrad || x.node != nil {
			return false
		}
		return !slices.Contains(wrt, x)
	}
	if outer(y) {
		return true
	}
	for _, t := range order {
		for _, x := range t.node.inputs {
			if outer(x) {
				return true
			}
		}
	}
	return false
}

// accumulate returns acc+g, treating a nil acc as zero.
func accumulate(acc, g *Tensor) *Tensor {
	if acc == nil {
		return g
	}
	return acc.Add(g)
}

// wantsGrad reports whether a backward rule must compute the gradient of
// its input x.
func wantsGrad(x *Tensor) bool { return x.requiresGrad }

func detachAll(ts []*Tensor) []*Tensor {
	out := make([]*Tensor, len(ts))
	for i, t := range ts {
		if t != nil {
			out[i] = t.Detach()
		}
	}
	return out
}

// topoSort returns the non-leaf tensors that y depends on through tensors
// requiring grad, each after all of its inputs. It walks iteratively so
// that deep graphs cannot overflow the stack.
func topoSort(op string, y *Tensor, pass uint64) []*Tensor {
	if y.node == nil {
		return nil
	}
	type frame struct {
		t    *Tensor
		next int
	}
	var order []*Tensor
	stack := []frame{{t: y}}
	y.node.pass = pass
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		n := f.t.node
		if n.released {
			panic(&GradError{Op: op, Reason: "the graph through " + n.op + " was released by an earlier Backward; pass RetainGraph() to the first call to run backward twice"})
		}
		if f.next < len(n.inputs) {
			x := n.input(f.next)
			f.next++
			if x != nil && x.requiresGrad && x.node != nil && x.node.pass != pass {
				x.node.pass = pass
				stack = append(stack, frame{t: x})
			}
			continue
		}
		order = append(order, f.t)
		stack = stack[:len(stack)-1]
	}
	return order
}

// CustomOp runs a user-defined op and records it in the graph under name.
// forward computes the result from its inputs; it runs with the inputs cut
// from the graph, so whatever ops it uses are not recorded. backward is the
// op's vector-Jacobian product: given the upstream gradient g (of the
// output's shape), the output and the inputs, it returns one gradient per
// input, of that input's shape (nil for zero). Write backward with tensor
// ops and the op supports higher-order derivatives too. Check both with
// package gradcheck.
func CustomOp(name string, forward func(in []*Tensor) *Tensor, backward func(g, out *Tensor, in []*Tensor) []*Tensor, inputs ...*Tensor) *Tensor {
	out := forward(detachAll(inputs))
	if out.node != nil || out.requiresGrad {
		out = out.Detach()
	}
	return record(name, out, backward, inputs...)
}
