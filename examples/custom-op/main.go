// Command custom-op shows how to add an op with its own backward rule to
// nabla with nabla.CustomOp, and how to verify it with package gradcheck,
// to first and second order.
//
// It defines two ops:
//
//   - Softplus(x) = log(1 + eˣ), computed stably as max(x, 0) + log(1 + e^-|x|)
//     (the naive formula overflows to +Inf for x > 88 in float32), with the
//     backward rule g·σ(x);
//   - Swish(x) = x·σ(x) (also called SiLU), whose backward rule
//     g·(σ(x) + y·(1 - σ(x))) reuses the op's output y.
//
// Both backward rules are written with tensor ops, so nabla can
// differentiate them again: gradcheck's Order 2 checks the gradients of the
// gradients. A deliberately wrong rule shows what a failed check reports.
//
//	go run ./examples/custom-op
package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/gradcheck"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "custom-op:", err)
		os.Exit(1)
	}
}

// Softplus returns log(1 + eˣ) element-wise without overflow.
func Softplus(x *nabla.Tensor) *nabla.Tensor {
	return nabla.CustomOp("Softplus",
		func(in []*nabla.Tensor) *nabla.Tensor {
			x := in[0]
			return x.Relu().Add(x.Abs().Neg().Exp().AddScalar(1).Log())
		},
		func(g, out *nabla.Tensor, in []*nabla.Tensor) []*nabla.Tensor {
			return []*nabla.Tensor{g.Mul(in[0].Sigmoid())} // d softplus/dx = σ(x)
		},
		x)
}

// Swish returns x·σ(x) element-wise.
func Swish(x *nabla.Tensor) *nabla.Tensor {
	return nabla.CustomOp("Swish",
		func(in []*nabla.Tensor) *nabla.Tensor { return in[0].Mul(in[0].Sigmoid()) },
		func(g, out *nabla.Tensor, in []*nabla.Tensor) []*nabla.Tensor {
			s := in[0].Sigmoid()
			// d(xσ)/dx = σ + xσ(1-σ) = σ + y(1-σ), with y the output.
			return []*nabla.Tensor{g.Mul(s.Add(out.Mul(s.Neg().AddScalar(1))))}
		},
		x)
}

// badSwish forgets the second term of the derivative.
func badSwish(x *nabla.Tensor) *nabla.Tensor {
	return nabla.CustomOp("BadSwish",
		func(in []*nabla.Tensor) *nabla.Tensor { return in[0].Mul(in[0].Sigmoid()) },
		func(g, out *nabla.Tensor, in []*nabla.Tensor) []*nabla.Tensor {
			return []*nabla.Tensor{g.Mul(in[0].Sigmoid())}
		},
		x)
}

// values formats a tensor's values with 4 significant digits.
func values(t *nabla.Tensor) string {
	s := "["
	for i, v := range t.Float64s() {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%.4g", v)
	}
	return s + "]"
}

func run(w io.Writer) error {
	// The stable forward pass: the naive formula overflows, this one does not.
	big := nabla.FromSlice([]float32{-100, -1, 0, 1, 100})
	naive := big.Exp().AddScalar(1).Log()
	fmt.Fprintf(w, "x                    %s\n", values(big))
	fmt.Fprintf(w, "naive log(1+eˣ)      %s\n", values(naive))
	fmt.Fprintf(w, "Softplus(x)          %s\n", values(Softplus(big)))
	x := big.Detach().RequireGrad()
	Softplus(x).Sum().Backward()
	fmt.Fprintf(w, "d Softplus/dx = σ(x) %s\n\n", values(x.Grad()))

	// gradcheck works in float64, on a scalar, a vector, a matrix and a
	// transposed (non-contiguous) view.
	rng := rand.New(rand.NewPCG(1, 2))
	inputs := map[string]*nabla.Tensor{
		"scalar":     nabla.FromSlice([]float64{0.7}).Reshape(),
		"vector":     nabla.Normal(rng, 0, 3, 5).To(nabla.Float64),
		"matrix":     nabla.Normal(rng, 0, 3, 3, 2).To(nabla.Float64),
		"transposed": nabla.Normal(rng, 0, 3, 2, 3).To(nabla.Float64).T(),
	}
	ops := []struct {
		name string
		f    func(*nabla.Tensor) *nabla.Tensor
	}{{"Softplus", Softplus}, {"Swish", Swish}}
	for _, op := range ops {
		for _, shape := range []string{"scalar", "vector", "matrix", "transposed"} {
			in := inputs[shape]
			err := gradcheck.Check(func(in []*nabla.Tensor) *nabla.Tensor { return op.f(in[0]) },
				[]*nabla.Tensor{in}, gradcheck.Options{Order: 2})
			if err != nil {
				return fmt.Errorf("%s on a %s: %v", op.name, shape, err)
			}
			fmt.Fprintf(w, "gradcheck %-8s %-10s %-6v ok: first and second derivatives match central differences\n", op.name, shape, in.Shape())
		}
	}

	// Second derivative by nabla.Grad(nabla.Grad(...)), against the formula
	// swish″(x) = σ(x)(1-σ(x))(2 + x(1-2σ(x))).
	d2 := nabla.Grad(nabla.Grad(func(x *nabla.Tensor) *nabla.Tensor { return Swish(x) }))
	at := nabla.FromSlice([]float64{1.5}).Reshape()
	s := at.Sigmoid().Item()
	fmt.Fprintf(w, "\nSwish″(1.5) = %.6f by Grad(Grad(Swish)), %.6f by the formula\n", d2(at).Item(), s*(1-s)*(2+1.5*(1-2*s)))

	err := gradcheck.Check(func(in []*nabla.Tensor) *nabla.Tensor { return badSwish(in[0]) },
		[]*nabla.Tensor{inputs["vector"]}, gradcheck.Options{})
	if err == nil {
		return fmt.Errorf("gradcheck passed a wrong backward rule")
	}
	fmt.Fprintf(w, "\nA wrong backward rule (g·σ(x) for Swish) is caught:\n  %v\n", err)
	return nil
}
