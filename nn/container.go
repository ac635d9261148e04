package nn

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nabla-go/nabla"
)

// Sequential applies its layers in order, each to the output of the one
// before, as torch.nn.Sequential. Its children are named "0", "1", ... by
// position, so its parameters are called "0.weight", "2.bias" and so on,
// exactly as in a PyTorch state_dict.
type Sequential struct {
	Layers []Module
}

// NewSequential returns a Sequential of the given layers.
func NewSequential(layers ...Module) *Sequential {
	return &Sequential{Layers: layers}
}

// Forward passes x through every layer in turn. A layer that does not accept
// its input panics with that layer's own error.
func (s *Sequential) Forward(x *nabla.Tensor) *nabla.Tensor {
	for _, l := range s.Layers {
		x = l.Forward(x)
	}
	return x
}

// Children returns the layers named by their positions "0", "1", ...
func (s *Sequential) Children() []Child {
	cs := make([]Child, len(s.Layers))
	for i, l := range s.Layers {
		cs[i] = Child{Name: strconv.Itoa(i), Module: l}
	}
	return cs
}

// Params lists the parameters of every layer, prefixed by its position.
func (s *Sequential) Params() []Param { return Collect(s.Children()...) }

// Buffers lists the buffers of every layer, prefixed by its position.
func (s *Sequential) Buffers() []Param { return collectBuffers(s.Children()) }

// SetTraining switches every layer to training (true) or evaluation mode.
func (s *Sequential) SetTraining(on bool) {
	for _, l := range s.Layers {
		SetTraining(l, on)
	}
}

// String lists the layers one per line, as PyTorch prints a Sequential.
func (s *Sequential) String() string {
	var b strings.Builder
	b.WriteString("Sequential(\n")
	for i, l := range s.Layers {
		inner := strings.ReplaceAll(fmt.Sprint(l), "\n", "\n  ")
		fmt.Fprintf(&b, "  (%d): %s\n", i, inner)
	}
	b.WriteString(")")
	return b.String()
}

// Named returns m's parameters with prefix and a dot before each name:
// Named("fc1", linear) gives "fc1.weight" and "fc1.bias". An empty prefix
// leaves the names as they are.
func Named(prefix string, m Module) []Param {
	return prefixed(prefix, m.Params())
}

// Collect returns the parameters of every child, each prefixed by the
// child's name. It is the usual body of a model struct's Params method:
//
//	func (m *MLP) Params() []nn.Param { return nn.Collect(m.Children()...) }
func Collect(children ...Child) []Param {
	var ps []Param
	for _, c := range children {
		ps = append(ps, Named(c.Name, c.Module)...)
	}
	return ps
}

func prefixed(prefix string, ps []Param) []Param {
	out := make([]Param, len(ps))
	for i, p := range ps {
		out[i] = p
		if prefix != "" {
			out[i].Name = prefix + "." + p.Name
		}
	}
	return out
}

// Buffers returns the buffers of m (state saved in checkpoints but not
// trained, such as BatchNorm's running statistics): m's own if it is
// [Buffered], otherwise those of its children if it is a [Parent], each
// prefixed by the child's name.
func Buffers(m Module) []Param {
	if b, ok := m.(Buffered); ok {
		return b.Buffers()
	}
	if p, ok := m.(Parent); ok {
		return collectBuffers(p.Children())
	}
	return nil
}

func collectBuffers(children []Child) []Param {
	var ps []Param
	for _, c := range children {
		ps = append(ps, prefixed(c.Name, Buffers(c.Module))...)
	}
	return ps
}

// SetTraining switches m to training (on) or evaluation mode: it calls
// m.SetTraining if m is [Trainable], and otherwise recurses into the
// children of a [Parent]. Modules that behave the same in both modes are
// left alone. Layers start in training mode, as in PyTorch.
func SetTraining(m Module, on bool) {
	if t, ok := m.(Trainable); ok {
		t.SetTraining(on)
		return
	}
	if p, ok := m.(Parent); ok {
		for _, c := range p.Children() {
			SetTraining(c.Module, on)
		}
	}
}

// NumParams returns the number of scalar values in m's parameters.
func NumParams(m Module) int {
	n := 0
	for _, p := range m.Params() {
		n += p.Tensor.Len()
	}
	return n
}

// ZeroGrad resets the gradients accumulated in m's parameters with
// [nabla.Tensor.ZeroGrad], before the next Backward.
func ZeroGrad(m Module) {
	for _, p := range m.Params() {
		p.Tensor.ZeroGrad()
	}
}

// SetParam replaces the parameter or buffer of m called name (as [Module]'s
// Params or [Buffers] name it) with t. A dotted name such as "0.weight"
// goes to the child of a [Parent] called "0"; a name that no child claims
// goes to m's own SetParam if m is a [ParamSetter]. It panics with a
// *nabla.ValueError if no module owns the name and with a *nabla.ShapeError
// if t's shape differs from the old tensor's.
func SetParam(m Module, name string, t *nabla.Tensor) {
	if p, ok := m.(Parent); ok {
		for _, c := range p.Children() {
			if rest, ok := strings.CutPrefix(name, c.Name+"."); ok {
				SetParam(c.Module, rest, t)
				return
			}
		}
	}
	if s, ok := m.(ParamSetter); ok {
		s.SetParam(name, t)
		return
	}
	panic(&nabla.ValueError{Op: "nn.SetParam", Reason: fmt.Sprintf("%s has no parameter or buffer %q", describe(m), name)})
}

// To converts every parameter and buffer of m to dtype dt, replacing each
// tensor by a converted copy through [SetParam]. Converted parameters are
// new leaves that require gradients; their old gradients are dropped, so
// an optimizer built on the old tensors must be rebuilt. Gradient checks
// use To(m, nabla.Float64).
//
// To converts all or nothing: it first converts every tensor and checks
// that a module can take each one back (a nil tensor, or one that a module
// lists but cannot replace because it is not a [ParamSetter], panics with
// a *nabla.ValueError before anything changes); if a SetParam still
// panics, the tensors already replaced are put back before the panic goes
// on.
func To(m Module, dt nabla.DType) {
	type change struct {
		name     string
		old, new *nabla.Tensor
	}
	var changes []change
	add := func(ps []Param, grad bool) {
		for _, p := range ps {
			if p.Tensor == nil {
				panic(&nabla.ValueError{Op: "nn.To", Reason: fmt.Sprintf("%s lists %q with a nil tensor", describe(m), p.Name)})
			}
			if p.Tensor.DType() == dt {
				continue
			}
			t := p.Tensor.Detach().To(dt).Contiguous()
			if grad {
				t = t.RequireGrad()
			}
			changes = append(changes, change{p.Name, p.Tensor, t})
		}
	}
	add(m.Params(), true)
	add(Buffers(m), false)
	for _, c := range changes {
		if owner := setterOf(m, c.name); owner == nil {
			panic(&nabla.ValueError{Op: "nn.To", Reason: fmt.Sprintf("no module of %s can replace %q (its owner is not a ParamSetter); nothing was converted", describe(m), c.name)})
		}
	}
	done := 0
	defer func() {
		if r := recover(); r != nil {
			for _, c := range changes[:done] {
				SetParam(m, c.name, c.old)
			}
			panic(r)
		}
	}()
	for _, c := range changes {
		SetParam(m, c.name, c.new)
		done++
	}
}

// setterOf returns the module that SetParam(m, name, t) hands the tensor
// to, or nil if none would take it.
func setterOf(m Module, name string) ParamSetter {
	if p, ok := m.(Parent); ok {
		for _, c := range p.Children() {
			if rest, ok := strings.CutPrefix(name, c.Name+"."); ok {
				return setterOf(c.Module, rest)
			}
		}
	}
	if s, ok := m.(ParamSetter); ok {
		return s
	}
	return nil
}

// describe names a module for error messages: its String if it has one,
// otherwise its Go type.
func describe(m Module) string {
	if s, ok := m.(fmt.Stringer); ok {
		return strings.SplitN(s.String(), "\n", 2)[0]
	}
	return fmt.Sprintf("%T", m)
}

// replace is the body of every layer's SetParam: it checks that t has the
// shape of *slot and stores it there.
func replace(layer, name string, slot **nabla.Tensor, t *nabla.Tensor) {
	if *slot == nil {
		panic(&nabla.ValueError{Op: layer, Reason: fmt.Sprintf("has no parameter %q (it was built without one)", name)})
	}
	if !slices.Equal((*slot).Shape(), t.Shape()) {
		panic(&nabla.ShapeError{Op: layer, Shapes: [][]int{(*slot).Shape(), t.Shape()},
			Reason: fmt.Sprintf("%s must keep shape %v", name, (*slot).Shape())})
	}
	*slot = t
}

func unknownParam(layer, name string) {
	panic(&nabla.ValueError{Op: layer, Reason: fmt.Sprintf("has no parameter or buffer %q", name)})
}

// params returns ps without the entries whose tensor is nil (an absent
// bias), so layers can list their optional tensors unconditionally.
func params(ps ...Param) []Param {
	out := ps[:0:0]
	for _, p := range ps {
		if p.Tensor != nil {
			out = append(out, p)
		}
	}
	return out
}

// Leaves returns the tensors of m's parameters, in Params order.
func Leaves(m Module) []*nabla.Tensor {
	ps := m.Params()
	out := make([]*nabla.Tensor, len(ps))
	for i, p := range ps {
		out[i] = p.Tensor
	}
	return out
}

// NoGrad calls f with gradient tracking switched off for m's parameters, so
// that forward passes inside f record no graph (evaluation, inference).
// It affects only m: other goroutines training other models are not
// disturbed, but m must not be trained concurrently. See [nabla.NoGrad].
func NoGrad(m Module, f func()) {
	nabla.NoGrad(f, Leaves(m)...)
}
