package nabla

// OnGradReady calls f with each leaf of the graph as soon as Backward has
// finished accumulating its gradient: once every op between the output and
// that leaf has run its backward rule, so that [Tensor.Grad] holds this
// pass's final value while the rest of the pass goes on. Data-parallel
// training uses it to start averaging a layer's gradients across
// processes while the layers before it are still being differentiated.
//
// f runs on the goroutine that called Backward, once per leaf that
// requires a gradient and is reached from the output, in an order where
// leaves nearer the output come first; leaves the output does not depend
// on are not reported. f must not start another backward pass through
// the same graph. Gradients ignores the option.
func OnGradReady(f func(leaf *Tensor)) BackwardOption {
	return func(c *backwardConfig) { c.onGradReady = f }
}

// leafTracker counts, for each leaf, the recorded ops still to run that
// take it as an input; the leaf's gradient is final when its count drops
// to zero. A nil tracker (no OnGradReady) does nothing.
type leafTracker struct {
	f       func(*Tensor)
	pending map[*Tensor]int
}

// newLeafTracker returns the tracker of a pass over order (the topological
// order of the graph behind y), or nil without a callback. y itself, when
// it is a leaf, is final at once.
func newLeafTracker(f func(*Tensor), y *Tensor, order []*Tensor, wrt []*Tensor) *leafTracker {
	if f == nil || wrt != nil {
		return nil
	}
	if y.node == nil {
		f(y)
		return nil
	}
	lt := &leafTracker{f: f, pending: map[*Tensor]int{}}
	for _, t := range order {
		for _, x := range t.node.inputs {
			if x != nil && x.requiresGrad && x.node == nil {
				lt.pending[x]++
			}
		}
	}
	return lt
}

// ran records that the op with these inputs has run its backward rule.
func (lt *leafTracker) ran(inputs []*Tensor) {
	if lt == nil {
		return
	}
	for _, x := range inputs {
		if x == nil || !x.requiresGrad || x.node != nil {
			continue
		}
		lt.pending[x]--
		if lt.pending[x] == 0 {
			lt.f(x)
		}
	}
}
