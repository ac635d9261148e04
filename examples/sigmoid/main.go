// Command sigmoid walks through the seed's first worked example: the
// derivative of y = 1/(1+e^-z) at z = 0, node by node. For each op it prints
// the upstream gradient, the local gradient and the downstream gradient
// (upstream × local), then checks the result numerically with ε = 0.01.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/nabla-go/nabla"
)

func main() {
	if err := run(os.Stdout, 0); err != nil {
		fmt.Fprintln(os.Stderr, "sigmoid:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, z0 float64) error {
	z := nabla.Scalar(z0).RequireGrad()
	a := z.Neg()        // a = -z
	b := a.Exp()        // b = e^a
	c := b.AddScalar(1) // c = 1 + b
	y := c.Reciprocal() // y = 1/c

	// Each node's local gradient, computed by nabla itself on the node alone.
	local := func(f func(*nabla.Tensor) *nabla.Tensor, at *nabla.Tensor) float64 {
		return nabla.Grad(f)(at.Detach()).Item()
	}
	steps := []struct {
		name, formula string
		f             func(*nabla.Tensor) *nabla.Tensor
		in            *nabla.Tensor
	}{
		{"reciprocal", "y = 1/c", (*nabla.Tensor).Reciprocal, c},
		{"add", "c = 1 + b", func(t *nabla.Tensor) *nabla.Tensor { return t.AddScalar(1) }, b},
		{"exp", "b = e^a", (*nabla.Tensor).Exp, a},
		{"negative", "a = -z", (*nabla.Tensor).Neg, z},
	}
	fmt.Fprintf(w, "y = 1/(1+e^-z) at z = %g: y = %.4f\n\n", z0, y.Item())
	fmt.Fprintf(w, "%-11s %-10s %9s %9s %11s\n", "op", "node", "upstream", "local", "downstream")
	upstream := 1.0 // the tensor of ones shaped like the output
	for _, s := range steps {
		l := local(s.f, s.in)
		fmt.Fprintf(w, "%-11s %-10s %9.4f %9.4f %11.4f\n", s.name, s.formula, upstream, l, upstream*l)
		upstream *= l
	}

	y.Backward()
	eps := 0.01
	sig := func(v float64) float64 { return nabla.Scalar(v).Sigmoid().Item() }
	numeric := (sig(z0+eps) - sig(z0)) / eps
	fmt.Fprintf(w, "\nautodiff   dy/dz = %.4f (Backward through the whole graph)\n", z.Grad().Item())
	fmt.Fprintf(w, "chain rule dy/dz = %.4f (product of the local gradients above)\n", upstream)
	fmt.Fprintf(w, "numerical  dy/dz = %.4f ((f(z+0.01) - f(z)) / 0.01)\n", numeric)
	return nil
}
