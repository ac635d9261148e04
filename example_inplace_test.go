package nabla_test

import (
	"fmt"

	"github.com/nabla-go/nabla"
)

// An in-place op on a tensor that a backward rule still needs is caught:
// Exp's gradient is its output, which ReluInPlace overwrote.
func ExampleTensor_ReluInPlace() {
	x := nabla.FromSlice([]float64{-1, 2}).RequireGrad()
	y := x.Exp()
	y.AddInPlace(nabla.FromSlice([]float64{-2})).ReluInPlace()
	err := nabla.Maybe(func() { y.Sum().Backward() })
	fmt.Println(err != nil, y.Version())

	// Where the overwritten value is not needed, the gradient is right:
	// d/dx relu(2x) = 2 where x > 0.
	z := x.MulScalar(2)
	z.ReluInPlace()
	z.Sum().Backward()
	fmt.Println(x.Grad().Float64s())
	// Output:
	// true 2
	// [0 2]
}

// Jacobian gives the full matrix of a small function's derivatives.
func ExampleJacobian() {
	f := func(x *nabla.Tensor) *nabla.Tensor { return x.Square() }
	j := nabla.Jacobian(f, nabla.FromSlice([]float64{1, 3}))
	fmt.Println(j.Shape(), j.Float64s())
	// Output:
	// [2 2] [2 0 0 6]
}
