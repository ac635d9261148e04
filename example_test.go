package nabla_test

import (
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/nabla-go/nabla"
)

// The seed's first worked example: the derivative of the sigmoid
// 1/(1+e^-z) at z = 0, by automatic differentiation and by the forward
// difference (f(z+ε)-f(z))/ε with ε = 0.01.
func ExampleGrad() {
	sigmoid := func(z *nabla.Tensor) *nabla.Tensor {
		return nabla.Ones().Div(nabla.Ones().Add(z.Neg().Exp()))
	}
	z := nabla.Scalar(0)
	auto := nabla.Grad(sigmoid)(z).Item()

	eps := 0.01
	numeric := (sigmoid(nabla.Scalar(eps)).Item() - sigmoid(z).Item()) / eps

	fmt.Printf("autodiff:  %.4f\n", auto)
	fmt.Printf("numerical: %.4f\n", numeric)
	// Output:
	// autodiff:  0.2500
	// numerical: 0.2500
}

// The seed's second worked example: f(x) = w1·x + w2·x gives x two
// upstreams, and the multivariate chain rule adds them: f'(0) = w1 + w2 = 5.
func ExampleTensor_Backward_multivariate() {
	w1, w2 := nabla.Scalar(2), nabla.Scalar(3)
	f := func(x *nabla.Tensor) *nabla.Tensor { return w1.Mul(x).Add(w2.Mul(x)) }

	x := nabla.Scalar(0).RequireGrad()
	f(x).Backward()

	eps := 0.01
	numeric := (f(nabla.Scalar(eps)).Item() - f(nabla.Scalar(0)).Item()) / eps
	fmt.Printf("autodiff:  %.4g\n", x.Grad().Item())
	fmt.Printf("numerical: %.4g\n", numeric)
	// Output:
	// autodiff:  5
	// numerical: 5
}

func ExampleTensor_Backward() {
	rng := rand.New(rand.NewPCG(1, 2))
	x := nabla.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3).RequireGrad()
	w := nabla.RandN(rng, 3, 4).RequireGrad()
	loss := x.MatMul(w).Tanh().Sum()
	loss.Backward()
	fmt.Println(x.Grad().Shape(), w.Grad().Shape())
	// Output:
	// [2 3] [3 4]
}

// Derivatives of any order compose: the second derivative of the sigmoid
// at 0 is 0, and the third is -1/8.
func ExampleGrad_higherOrder() {
	sigmoid := func(z *nabla.Tensor) *nabla.Tensor { return z.Sigmoid() }
	d1 := nabla.Grad(sigmoid)
	d2 := nabla.Grad(d1)
	d3 := nabla.Grad(d2)
	z := nabla.Scalar(0)
	fmt.Printf("%.4f %.4f %.4f\n", d1(z).Item(), d2(z).Item(), d3(z).Item())
	// Output:
	// 0.2500 0.0000 -0.1250
}

func ExampleValueAndGrad() {
	// f(a, b) = sum(a*b) + sum(b²); differentiate with respect to b only.
	f := func(in ...*nabla.Tensor) *nabla.Tensor {
		a, b := in[0], in[1]
		return a.Mul(b).Sum().Add(b.Square().Sum())
	}
	a := nabla.FromSlice([]float32{1, 2})
	b := nabla.FromSlice([]float32{3, 4})
	v, g := nabla.ValueAndGrad(f, 1)(a, b)
	fmt.Println(v.Item(), g[0].Float32s())
	// Output:
	// 36 [7 10]
}

func ExampleHVP() {
	// f(x) = sum(x³) has Hessian diag(6x).
	f := func(x *nabla.Tensor) *nabla.Tensor { return x.PowScalar(3).Sum() }
	x := nabla.FromSlice([]float64{1, 2, 3})
	v := nabla.FromSlice([]float64{1, 1, 0})
	fmt.Println(nabla.HVP(f, x, v).Float64s())
	// Output:
	// [6 12 0]
}

func ExampleMaybe() {
	a, b := nabla.Ones(2, 3), nabla.Ones(4, 5)
	err := nabla.Maybe(func() { a.MatMul(b) })
	fmt.Println(err)
	// Output:
	// nabla: MatMul: shapes [2 3] and [4 5]: inner dimensions differ (3 != 4)
}

func ExampleTensor_String() {
	x := nabla.Arange(0, 6, 1).Reshape(2, 3)
	fmt.Println(x)
	fmt.Println(x.T())
	// Output:
	// [[0 1 2] [3 4 5]] shape=[2 3] float32
	// [[0 3] [1 4] [2 5]] shape=[3 2] float32
}

func ExampleWriteDOT() {
	x := nabla.Scalar(0).RequireGrad()
	y := nabla.Ones().Div(nabla.Ones().Add(x.Neg().Exp()))
	nabla.WriteDOT(os.Stdout, y)
	// Output:
	// digraph nabla {
	// 	rankdir=BT;
	// 	node [fontname="Helvetica" fontsize=10];
	// 	t0 [shape=box label="Div\n[]"];
	// 	t1 [shape=ellipse label="const []"];
	// 	t1 -> t0;
	// 	t2 [shape=box label="Add\n[]"];
	// 	t2 -> t0;
	// 	t3 [shape=ellipse label="const []"];
	// 	t3 -> t2;
	// 	t4 [shape=box label="Exp\n[]"];
	// 	t4 -> t2;
	// 	t5 [shape=box label="Neg\n[]"];
	// 	t5 -> t4;
	// 	t6 [shape=ellipse style=filled fillcolor=lightblue label="leaf []\nrequires grad"];
	// 	t6 -> t5;
	// }
}

func ExampleTensor_Format() {
	x := nabla.FromSlice([]float32{1.23456, -0.5, 2})
	fmt.Printf("%.2v\n", x)
	// Output:
	// [1.23 -0.5 2] shape=[3] float32
}
