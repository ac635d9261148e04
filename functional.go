package nabla

import "strconv"

// This file holds the functional interface to differentiation, in the
// spirit of the seed library's grad and value_and_grad and of JAX: functions
// in, functions out, composable to any order.

// Grad returns the function that computes the gradient of f, which must
// return a scalar (a tensor of one element). Grad(Grad(f)) is the second
// derivative, and so on: when the argument is itself part of a graph (as
// inside an outer Grad), the gradient is recorded so that it can be
// differentiated again.
//
// f is called once per call of the returned function. It may close over
// other tensors: when any of them requires grad (the weights of a model),
// the gradient is recorded and stays differentiable with respect to them,
// as with torch.func.grad and jax.grad, so that a loss built from it (a
// physics-informed residual, a gradient penalty) trains those weights.
// When nothing f depends on requires grad, nothing is recorded.
func Grad(f func(*Tensor) *Tensor) func(*Tensor) *Tensor {
	gf := GradN(func(xs ...*Tensor) *Tensor { return f(xs[0]) }, 0)
	return func(x *Tensor) *Tensor { return gf(x)[0] }
}

// GradN returns the function that computes the gradients of the scalar
// function f with respect to the arguments numbered wrt (all of them when
// wrt is empty), in that order.
func GradN(f func(...*Tensor) *Tensor, wrt ...int) func(...*Tensor) []*Tensor {
	vg := ValueAndGrad(f, wrt...)
	return func(xs ...*Tensor) []*Tensor {
		_, g := vg(xs...)
		return g
	}
}

// ValueAndGrad returns the function that computes both f and its gradients
// with respect to the arguments numbered wrt (all when wrt is empty), with
// one forward pass. f must return a scalar. It panics with a *GradError
// naming the problem if f's result is not a scalar or wrt names an argument
// that f was not given.
func ValueAndGrad(f func(...*Tensor) *Tensor, wrt ...int) func(...*Tensor) (*Tensor, []*Tensor) {
	return func(xs ...*Tensor) (*Tensor, []*Tensor) {
		which := wrt
		if len(which) == 0 {
			which = make([]int, len(xs))
			for i := range which {
				which[i] = i
			}
		}
		args := append([]*Tensor(nil), xs...)
		nested := false
		targets := make([]*Tensor, len(which))
		for j, i := range which {
			if i < 0 || i >= len(xs) {
				panic(&GradError{Op: "ValueAndGrad", Reason: "argument number out of range"})
			}
			x := xs[i]
			if x.requiresGrad {
				// x belongs to an outer graph: differentiate through an
				// identity so that the result stays connected to it.
				nested = true
				args[i] = x.identity()
			} else {
				args[i] = x.Detach().RequireGrad()
			}
			targets[j] = args[i]
		}
		y := f(args...)
		if y.Len() != 1 {
			panic(&GradError{Op: "Grad", Reason: "function returned shape " + shapeString(y.shape) + ", not a scalar"})
		}
		if !y.requiresGrad {
			// y does not depend on the arguments: every gradient is zero.
			gs := make([]*Tensor, len(targets))
			for j, t := range targets {
				gs[j] = ZerosLike(t)
			}
			return y, gs
		}
		// Record the backward pass when the result must stay differentiable:
		// inside an outer Grad (nested), or when f closes over a tensor
		// that requires grad (graphIfOuter finds it while sorting the
		// graph). Otherwise nothing is recorded, as cheap as Backward.
		cfg := backwardConfig{graphIfOuter: true}
		if nested {
			cfg.createGraph, cfg.retainGraph = true, true
		}
		gs, kept := gradients(y, targets, cfg)
		if !kept {
			y = y.Detach()
		}
		return y, gs
	}
}

// identity returns a recorded copy-free alias of t, a new node in the graph.
func (t *Tensor) identity() *Tensor {
	return record("Identity", t.view(t.shape, t.strides, t.offset), func(g, _ *Tensor, _ []*Tensor) []*Tensor {
		return []*Tensor{g}
	}, t)
}

// HVP returns the product of the Hessian of the scalar function f at x with
// the vector v (of x's shape), computed by differentiating the gradient
// twice (reverse over reverse) without forming the Hessian. HVPN does the
// same for a function of several tensors.
func HVP(f func(*Tensor) *Tensor, x, v *Tensor) *Tensor {
	return Grad(func(z *Tensor) *Tensor {
		return Grad(f)(z).Mul(v).Sum()
	})(x)
}

// HVPN is HVP for a function of several tensors: given one vector per
// argument (vs[i] of xs[i]'s shape), it returns (H v)_i = Σ_j ∂²f/∂x_i∂x_j
// v_j for each argument i, the Hessian of f at xs times the concatenated
// vector, without forming the Hessian. It panics with a *ShapeError if vs
// does not match xs.
func HVPN(f func(...*Tensor) *Tensor, xs, vs []*Tensor) []*Tensor {
	if len(vs) != len(xs) {
		panicShape("HVPN", strconv.Itoa(len(vs))+" vectors for "+strconv.Itoa(len(xs))+" arguments")
	}
	for i := range xs {
		if !sameShape(xs[i].shape, vs[i].shape) {
			panicShape("HVPN", "vector "+strconv.Itoa(i)+" does not match its argument", vs[i].shape, xs[i].shape)
		}
	}
	gf := GradN(f)
	return GradN(func(zs ...*Tensor) *Tensor {
		gs := gf(zs...)
		s := gs[0].Mul(vs[0]).Sum()
		for i := 1; i < len(gs); i++ {
			s = s.Add(gs[i].Mul(vs[i]).Sum())
		}
		return s
	})(xs...)
}

// Jacobian returns the Jacobian of f at x, of shape f(x).Shape() followed by
// x.Shape(): element [i..., j...] is ∂f(x)[i...]/∂x[j...]. It takes one
// backward pass per element of f(x), so it is meant for small outputs
// (checking, small second-order methods); for products with a vector use
// Gradients with WithUpstream, or HVP. Like Grad it composes: inside an
// outer Grad, or when f closes over tensors that require grad, the result
// is differentiable.
func Jacobian(f func(*Tensor) *Tensor, x *Tensor) *Tensor {
	nested := x.requiresGrad
	var z *Tensor
	if nested {
		z = x.identity()
	} else {
		z = x.Detach().RequireGrad()
	}
	y := f(z)
	shape := append(append([]int(nil), y.shape...), x.shape...)
	if !y.requiresGrad || y.Len() == 0 {
		return FullOf(x.dtype, 0, shape...)
	}
	rows := make([]*Tensor, y.Len())
	for k := range rows {
		up := FullOf(y.dtype, 0, y.Len())
		up.Set(1, k)
		cfg := backwardConfig{upstream: up.Reshape(y.shape...), retainGraph: true, createGraph: nested, graphIfOuter: true}
		gs, _ := gradients(y, []*Tensor{z}, cfg)
		rows[k] = gs[0]
	}
	return Stack(rows, 0).Reshape(shape...)
}

// Hessian returns the Hessian of the scalar function f at x, of shape
// x.Shape() twice: the Jacobian of Grad(f). Like Jacobian it is meant for
// small inputs.
func Hessian(f func(*Tensor) *Tensor, x *Tensor) *Tensor {
	return Jacobian(Grad(f), x)
}
