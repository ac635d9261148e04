package optim

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
)

// Optimizer updates a fixed list of parameters from their gradients.
//
// Every optimizer in this package is built over a []nn.Param, whose names
// key the optimizer's state (see the package documentation), allocates all
// of its state when it is made, and updates the parameters' storage in
// place without recording graph ops. Step skips parameters whose Grad is
// nil. An optimizer is not safe for concurrent use.
type Optimizer interface {
	// Step applies one update to every parameter that has a gradient.
	Step()
	// ZeroGrad zeroes every parameter's gradient in place (see
	// nabla.Tensor.ZeroGrad), ready for the next Backward to add into
	// without allocating.
	ZeroGrad()
	// LR returns the current learning rate.
	LR() float64
	// SetLR sets the learning rate used by the next Step; schedulers call it.
	SetLR(lr float64)
	// Params returns the parameters the optimizer updates, in its order.
	Params() []nn.Param
	// State returns a copy of the optimizer's state (learning rate, step
	// counts, moment buffers) as named tensors, ready to be saved in a
	// checkpoint.
	State() []nn.Param
	// LoadState replaces the optimizer's state with one returned by State,
	// for example read back from a checkpoint. It checks every name and
	// shape first and, if any differ, returns one error listing them all
	// and changes nothing.
	LoadState(state []nn.Param) error
}

// slot is one parameter with its optimizer state. Exactly one of s32 and
// s64 is used, by the parameter's dtype; each holds one buffer per name in
// the optimizer's buffer list, of the parameter's length.
type slot struct {
	name string
	t    *nabla.Tensor
	step int64 // number of updates this parameter has received
	s32  [][]float32
	s64  [][]float64
}

// base holds what every optimizer shares: the parameters, their state and
// the learning rate.
type base struct {
	op    string // constructor name, for panics
	slots []slot
	bufs  []string // state buffer names, e.g. "exp_avg"
	lr    float64
}

// newBase checks params and allocates one zeroed state buffer per name in
// bufs for each. It panics with a *nabla.ValueError on an empty or
// duplicate name, a nil tensor or a non-contiguous one.
func newBase(op string, params []nn.Param, lr float64, bufs ...string) base {
	if lr < 0 || math.IsNaN(lr) {
		panicValue(op, "learning rate %v is negative", lr)
	}
	b := base{op: op, lr: lr, bufs: bufs, slots: make([]slot, len(params))}
	seen := make(map[string]bool, len(params))
	for i, p := range params {
		switch {
		case p.Name == "":
			panicValue(op, "parameter %d has no name", i)
		case seen[p.Name]:
			panicValue(op, "parameter name %q appears twice", p.Name)
		case p.Tensor == nil:
			panicValue(op, "parameter %q has a nil tensor", p.Name)
		case !p.Tensor.IsContiguous():
			panicValue(op, "parameter %q is not contiguous", p.Name)
		}
		seen[p.Name] = true
		s := slot{name: p.Name, t: p.Tensor}
		n := p.Tensor.Len()
		if p.Tensor.DType() == nabla.Float64 {
			s.s64 = make([][]float64, len(bufs))
			for j := range bufs {
				s.s64[j] = make([]float64, n)
			}
		} else {
			s.s32 = make([][]float32, len(bufs))
			for j := range bufs {
				s.s32[j] = make([]float32, n)
			}
		}
		b.slots[i] = s
	}
	return b
}

func panicValue(op, format string, args ...any) {
	panic(&nabla.ValueError{Op: op, Reason: fmt.Sprintf(format, args...)})
}

// fill sets buffer j of every slot to v.
func (b *base) fill(j int, v float64) {
	for i := range b.slots {
		s := &b.slots[i]
		if s.s64 != nil {
			for k := range s.s64[j] {
				s.s64[j][k] = v
			}
		} else {
			for k := range s.s32[j] {
				s.s32[j][k] = float32(v)
			}
		}
	}
}

// LR returns the current learning rate.
func (b *base) LR() float64 { return b.lr }

// SetLR sets the learning rate used by the next Step. It panics with a
// *nabla.ValueError if lr is negative or NaN.
func (b *base) SetLR(lr float64) {
	if lr < 0 || math.IsNaN(lr) {
		panicValue("SetLR", "learning rate %v is negative", lr)
	}
	b.lr = lr
}

// ZeroGrad zeroes the gradient of every parameter in place.
func (b *base) ZeroGrad() {
	for i := range b.slots {
		b.slots[i].t.ZeroGrad()
	}
}

// Params returns the parameters, in the order the optimizer was given them.
func (b *base) Params() []nn.Param {
	out := make([]nn.Param, len(b.slots))
	for i, s := range b.slots {
		out[i] = nn.Param{Name: s.name, Tensor: s.t}
	}
	return out
}

// Steps returns the number of updates the named parameter has received,
// or -1 if the optimizer does not hold it.
func (b *base) Steps(name string) int64 {
	for _, s := range b.slots {
		if s.name == name {
			return s.step
		}
	}
	return -1
}

// grad32 returns the gradient of a float32 parameter as a contiguous slice
// (a copy only if the gradient is a non-contiguous view), or nil if there is
// none. It panics if the gradient's length differs from the parameter's.
func grad32(s *slot) []float32 {
	g := s.t.Grad()
	if g == nil {
		return nil
	}
	if !g.IsContiguous() || g.DType() != nabla.Float32 {
		return g.Float32s()
	}
	d := g.Data32()
	if len(d) != s.t.Len() {
		panicValue("Step", "gradient of %q has %d elements, parameter has %d", s.name, len(d), s.t.Len())
	}
	return d
}

// grad64 is grad32 for float64 parameters.
func grad64(s *slot) []float64 {
	g := s.t.Grad()
	if g == nil {
		return nil
	}
	if !g.IsContiguous() || g.DType() != nabla.Float64 {
		return g.Float64s()
	}
	d := g.Data64()
	if len(d) != s.t.Len() {
		panicValue("Step", "gradient of %q has %d elements, parameter has %d", s.name, len(d), s.t.Len())
	}
	return d
}

// State names. See the package documentation.
const (
	lrName    = "lr"
	stepName  = "step"
	statePref = "state."
)

// State returns the learning rate, and for each parameter its step count
// and state buffers, as copies.
func (b *base) State() []nn.Param {
	out := make([]nn.Param, 0, 1+len(b.slots)*(1+len(b.bufs)))
	out = append(out, nn.Param{Name: lrName, Tensor: nabla.FullOf(nabla.Float64, b.lr)})
	for _, s := range b.slots {
		shape := s.t.Shape()
		out = append(out, nn.Param{Name: statePref + s.name + "." + stepName, Tensor: nabla.FullOf(nabla.Float64, float64(s.step))})
		for j, bn := range b.bufs {
			var t *nabla.Tensor
			if s.s64 != nil {
				t = nabla.FromSlice(s.s64[j], shape...)
			} else {
				t = nabla.FromSlice(s.s32[j], shape...)
			}
			out = append(out, nn.Param{Name: statePref + s.name + "." + bn, Tensor: t})
		}
	}
	return out
}

// LoadState checks state against the optimizer's own (names and shapes)
// and copies it in. Values are converted to the parameter's dtype.
func (b *base) LoadState(state []nn.Param) error {
	want := b.State() // names and shapes expected, in order
	got := make(map[string]*nabla.Tensor, len(state))
	var problems []string
	for _, p := range state {
		if _, dup := got[p.Name]; dup {
			problems = append(problems, fmt.Sprintf("%q appears twice", p.Name))
		}
		if p.Tensor == nil {
			problems = append(problems, fmt.Sprintf("%q has a nil tensor", p.Name))
			continue
		}
		got[p.Name] = p.Tensor
	}
	wanted := make(map[string]bool, len(want))
	var missing []string
	for _, w := range want {
		wanted[w.Name] = true
		g, ok := got[w.Name]
		if !ok {
			missing = append(missing, w.Name)
			continue
		}
		if !slices.Equal(g.Shape(), w.Tensor.Shape()) && !(g.Len() == 1 && w.Tensor.Len() == 1 && w.Tensor.Dim() == 0) {
			problems = append(problems, fmt.Sprintf("%q: shape %v, want %v", w.Name, g.Shape(), w.Tensor.Shape()))
			continue
		}
		if w.Tensor.Dim() == 0 {
			v := g.Item()
			isStep := strings.HasSuffix(w.Name, "."+stepName)
			if isStep && (v < 0 || v != math.Trunc(v) || v > 1<<53) {
				problems = append(problems, fmt.Sprintf("%q: %v is not a step count", w.Name, v))
			}
			if !isStep && (v < 0 || math.IsNaN(v)) {
				problems = append(problems, fmt.Sprintf("%q: learning rate %v is negative", w.Name, v))
			}
		}
	}
	var unexpected []string
	for _, p := range state {
		if !wanted[p.Name] {
			unexpected = append(unexpected, p.Name)
		}
	}
	if len(missing) > 0 {
		problems = append(problems, "missing "+quoteAll(missing))
	}
	if len(unexpected) > 0 {
		problems = append(problems, "unexpected "+quoteAll(unexpected))
	}
	if len(problems) > 0 {
		return errors.New("optim: LoadState: " + strings.Join(problems, "; "))
	}

	b.lr = got[lrName].Item()
	for i := range b.slots {
		s := &b.slots[i]
		s.step = int64(got[statePref+s.name+"."+stepName].Item())
		for j, bn := range b.bufs {
			t := got[statePref+s.name+"."+bn]
			if s.s64 != nil {
				copy(s.s64[j], t.Float64s())
			} else {
				copy(s.s32[j], t.Float32s())
			}
		}
	}
	return nil
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
