// Package gradcheck checks the gradients that nabla computes against
// central finite differences, to first and second order.
//
// The seed of nabla put it this way: numerical validation "could validate
// almost any function". Check perturbs every element of every input by ±Eps,
// builds the numerical Jacobian of each output with respect to each input,
// and compares it with the analytical Jacobian that backpropagation gives,
// row by row. Order 2 applies the same check to the function that returns
// the gradient of ⟨f(x), v⟩ for a fixed random v, as PyTorch's
// gradgradcheck does.
//
// Inputs must be float64: in float32 the rounding error of a central
// difference swamps the tolerance. Inputs may be non-contiguous views
// (transposed, sliced), but not expanded views that alias one element many
// times, because perturbing one element would move all its aliases.
package gradcheck

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/nabla-go/nabla"
)

// Options sets the finite-difference step, the tolerances and the order.
// The zero value uses the defaults, chosen for float64 as PyTorch's are.
type Options struct {
	Order int     // 1 (the default) checks gradients; 2 also checks gradients of gradients
	Eps   float64 // perturbation; default 1e-6
	Atol  float64 // absolute tolerance; default 1e-5
	Rtol  float64 // relative tolerance; default 1e-3
}

func (o Options) withDefaults() Options {
	if o.Order == 0 {
		o.Order = 1
	}
	if o.Eps == 0 {
		o.Eps = 1e-6
	}
	if o.Atol == 0 {
		o.Atol = 1e-5
	}
	if o.Rtol == 0 {
		o.Rtol = 1e-3
	}
	return o
}

// Func is a function of several tensors, the thing gradcheck differentiates.
type Func func(in []*nabla.Tensor) *nabla.Tensor

// MismatchError reports the worst disagreement between the analytical and
// numerical Jacobians of one output with respect to one input.
type MismatchError struct {
	Order       int   // 1 for gradients, 2 for gradients of gradients
	Input       int   // which input
	InputIndex  []int // the element of the input that was perturbed
	OutputIndex []int // the element of the output
	Analytical  float64
	Numerical   float64
}

// Error names the order, the input, the element and both values.
func (e *MismatchError) Error() string {
	return fmt.Sprintf("gradcheck: order %d: Jacobian mismatch for output with respect to input %d: at input index %v, output index %v: analytical %.8g, numerical %.8g (difference %.3g)",
		e.Order, e.Input, e.InputIndex, e.OutputIndex, e.Analytical, e.Numerical, math.Abs(e.Analytical-e.Numerical))
}

// Check compares the gradients of f at inputs with central differences and
// returns nil if they agree within the tolerances, or a *MismatchError for
// the worst element of the first input whose Jacobian disagrees. Every input is
// differentiated; pass constants by closing over them. With Order 2 it then
// checks the second derivatives the same way.
func Check(f Func, inputs []*nabla.Tensor, opts Options) error {
	opts = opts.withDefaults()
	for i, x := range inputs {
		if x.DType() != nabla.Float64 {
			return fmt.Errorf("gradcheck: input %d is %v; gradient checks need float64", i, x.DType())
		}
	}
	if err := checkFirst(f, inputs, opts, 1); err != nil {
		return err
	}
	if opts.Order >= 2 {
		return checkFirst(gradOf(f, inputs), inputs, opts, 2)
	}
	return nil
}

// gradOf returns the function xs -> concat(flatten(∂⟨f(xs), v⟩/∂xs)) for a
// fixed random v of f's output shape.
func gradOf(f Func, inputs []*nabla.Tensor) Func {
	leaves := leavesOf(inputs)
	y0 := f(leaves)
	rng := rand.New(rand.NewPCG(7, 11))
	vals := make([]float64, y0.Len())
	for i := range vals {
		vals[i] = rng.Float64()*2 - 1
	}
	v := nabla.FromSlice(vals, y0.Shape()...)
	return func(in []*nabla.Tensor) *nabla.Tensor {
		y := f(in)
		if !y.RequiresGrad() {
			return nabla.Zeros(totalLen(in)).To(nabla.Float64)
		}
		gs := nabla.Gradients(y.Mul(v).Sum(), in, nabla.CreateGraph())
		flat := make([]*nabla.Tensor, len(gs))
		for i, g := range gs {
			flat[i] = g.Reshape(-1)
		}
		return nabla.Concat(flat, 0)
	}
}

func totalLen(in []*nabla.Tensor) int {
	n := 0
	for _, x := range in {
		n += x.Len()
	}
	return n
}

// leavesOf returns fresh leaves that share the inputs' memory and geometry
// and require gradients.
func leavesOf(inputs []*nabla.Tensor) []*nabla.Tensor {
	out := make([]*nabla.Tensor, len(inputs))
	for i, x := range inputs {
		out[i] = x.Detach().RequireGrad()
	}
	return out
}

func checkFirst(f Func, inputs []*nabla.Tensor, opts Options, order int) error {
	leaves := leavesOf(inputs)
	y := f(leaves)
	if y.DType() != nabla.Float64 {
		return fmt.Errorf("gradcheck: output is %v; gradient checks need float64", y.DType())
	}
	ny := y.Len()
	yShape := y.Shape()

	// Analytical Jacobian, one row (output element) at a time.
	ana := make([][][]float64, len(inputs)) // [input][out][in]
	for i, x := range inputs {
		ana[i] = make([][]float64, ny)
		for k := range ana[i] {
			ana[i][k] = make([]float64, x.Len())
		}
	}
	if y.RequiresGrad() {
		for k := 0; k < ny; k++ {
			up := make([]float64, ny)
			up[k] = 1
			gs := nabla.Gradients(y, leaves, nabla.WithUpstream(nabla.FromSlice(up, yShape...)), nabla.RetainGraph())
			for i, g := range gs {
				copy(ana[i][k], g.Float64s())
			}
		}
	}

	// Numerical Jacobian by central differences, one input element at a time.
	for i, x := range inputs {
		shape := x.Shape()
		idx := make([]int, len(shape))
		var worst *MismatchError
		worstExcess := 0.0
		for j := 0; j < x.Len(); j++ {
			orig := x.At(idx...)
			x.Set(orig+opts.Eps, idx...)
			yp := f(leavesOf(inputs)).Float64s()
			x.Set(orig-opts.Eps, idx...)
			ym := f(leavesOf(inputs)).Float64s()
			x.Set(orig, idx...)
			for k := 0; k < ny; k++ {
				num := (yp[k] - ym[k]) / (2 * opts.Eps)
				a := ana[i][k][j]
				excess := math.Abs(a-num) - (opts.Atol + opts.Rtol*math.Abs(num))
				if math.IsNaN(a) != math.IsNaN(num) {
					excess = math.Inf(1)
				}
				if excess > worstExcess {
					worstExcess = excess
					worst = &MismatchError{Order: order, Input: i, InputIndex: append([]int{}, idx...),
						OutputIndex: unravel(k, yShape), Analytical: a, Numerical: num}
				}
			}
			next(idx, shape)
		}
		if worst != nil {
			return worst
		}
	}
	return nil
}

func unravel(k int, shape []int) []int {
	idx := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		if shape[d] > 0 {
			idx[d] = k % shape[d]
			k /= shape[d]
		}
	}
	return idx
}

func next(idx, shape []int) {
	for d := len(idx) - 1; d >= 0; d-- {
		idx[d]++
		if idx[d] < shape[d] {
			return
		}
		idx[d] = 0
	}
}

// Describe returns a one-line summary of the shapes of inputs, for test names.
func Describe(inputs []*nabla.Tensor) string {
	parts := make([]string, len(inputs))
	for i, x := range inputs {
		parts[i] = fmt.Sprint(x.Shape())
	}
	return strings.Join(parts, ",")
}

// NumericalJacobian returns the Jacobian of f with respect to inputs[i] by
// central differences with step eps (1e-6 when 0), the numerical half of
// Check, as a float64 tensor of f's output shape followed by inputs[i]'s
// shape. It perturbs inputs[i] in place with Set and restores it, so the
// inputs must be float64 and not expanded views.
func NumericalJacobian(f Func, inputs []*nabla.Tensor, i int, eps float64) *nabla.Tensor {
	if eps == 0 {
		eps = 1e-6
	}
	x := inputs[i]
	yShape := f(inputs).Shape()
	ny := 1
	for _, d := range yShape {
		ny *= d
	}
	nx := x.Len()
	jac := make([]float64, ny*nx)
	shape := x.Shape()
	idx := make([]int, len(shape))
	for j := 0; j < nx; j++ {
		orig := x.At(idx...)
		x.Set(orig+eps, idx...)
		yp := f(inputs).Float64s()
		x.Set(orig-eps, idx...)
		ym := f(inputs).Float64s()
		x.Set(orig, idx...)
		for k := 0; k < ny; k++ {
			jac[k*nx+j] = (yp[k] - ym[k]) / (2 * eps)
		}
		next(idx, shape)
	}
	return nabla.FromSlice(jac, append(yShape, shape...)...)
}
