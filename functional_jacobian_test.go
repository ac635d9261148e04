package nabla_test

import (
	"math"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/gradcheck"
)

// closeTo reports the worst absolute-plus-relative excess of got over want.
func wantClose(t *testing.T, name string, got, want *nabla.Tensor, tol float64) {
	t.Helper()
	if g, w := got.Shape(), want.Shape(); len(g) != len(w) || got.Len() != want.Len() {
		t.Fatalf("%s: shape %v; want %v", name, g, w)
	} else {
		for i := range g {
			if g[i] != w[i] {
				t.Fatalf("%s: shape %v; want %v", name, g, w)
			}
		}
	}
	gv, wv := got.Float64s(), want.Float64s()
	for i := range wv {
		if math.Abs(gv[i]-wv[i]) > tol*(1+math.Abs(wv[i])) {
			t.Fatalf("%s: element %d = %v; want %v (all: %v vs %v)", name, i, gv[i], wv[i], gv, wv)
		}
	}
}

func TestJacobianMatchesNumerical(t *testing.T) {
	x := nabla.FromSlice([]float64{0.3, -1.2, 0.7, 2.0, -0.4, 1.1}, 2, 3)
	for _, c := range []struct {
		name string
		f    func(*nabla.Tensor) *nabla.Tensor
	}{
		{"tanh", func(x *nabla.Tensor) *nabla.Tensor { return x.Tanh() }},
		{"softmax rows", func(x *nabla.Tensor) *nabla.Tensor { return x.Softmax(1) }},
		{"matmul with transpose", func(x *nabla.Tensor) *nabla.Tensor { return x.MatMul(x.T()) }},
		{"row sums of squares", func(x *nabla.Tensor) *nabla.Tensor { return x.Square().Sum(1) }},
		{"scalar", func(x *nabla.Tensor) *nabla.Tensor { return x.Exp().Sum() }},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := nabla.Jacobian(c.f, x)
			want := gradcheck.NumericalJacobian(func(in []*nabla.Tensor) *nabla.Tensor { return c.f(in[0]) }, []*nabla.Tensor{x}, 0, 0)
			wantClose(t, "Jacobian", got, want, 1e-6)
		})
	}
}

func TestHessianMatchesNumerical(t *testing.T) {
	x := nabla.FromSlice([]float64{0.3, -1.2, 0.7})
	f := func(x *nabla.Tensor) *nabla.Tensor {
		// a function with cross terms: Σ x_i³ + (x·a)² + sin(x_0 x_2)
		a := nabla.FromSlice([]float64{1, 2, -1})
		return x.PowScalar(3).Sum().Add(x.Mul(a).Sum().Square()).Add(x.Index(0, 0).Mul(x.Index(0, 2)).Sin())
	}
	got := nabla.Hessian(f, x)
	// The Hessian is the Jacobian of the gradient.
	grad := func(in []*nabla.Tensor) *nabla.Tensor { return nabla.Grad(f)(in[0]) }
	want := gradcheck.NumericalJacobian(grad, []*nabla.Tensor{x}, 0, 0)
	wantClose(t, "Hessian", got, want, 1e-6)
	// symmetric
	for i := range 3 {
		for j := range 3 {
			if math.Abs(got.At(i, j)-got.At(j, i)) > 1e-12 {
				t.Errorf("Hessian not symmetric at (%d, %d): %v vs %v", i, j, got.At(i, j), got.At(j, i))
			}
		}
	}
}

func TestHVPNMatchesHessian(t *testing.T) {
	// f(a, b) = Σ a² b + Σ sin(a) b³ over two inputs of different shapes
	// (b broadcasts): the HVP over both must equal the full Hessian of the
	// flattened inputs times the flattened vector.
	a := nabla.FromSlice([]float64{0.5, -1, 2}, 3)
	b := nabla.FromSlice([]float64{0.7}, 1)
	va := nabla.FromSlice([]float64{1, -2, 0.5}, 3)
	vb := nabla.FromSlice([]float64{3}, 1)
	f := func(in ...*nabla.Tensor) *nabla.Tensor {
		a, b := in[0], in[1]
		return a.Square().Mul(b).Sum().Add(a.Sin().Mul(b.PowScalar(3)).Sum())
	}
	hv := nabla.HVPN(f, []*nabla.Tensor{a, b}, []*nabla.Tensor{va, vb})
	flat := func(z *nabla.Tensor) *nabla.Tensor {
		return f(z.Slice(0, 0, 3, 1), z.Slice(0, 3, 4, 1))
	}
	z := nabla.Concat([]*nabla.Tensor{a, b}, 0)
	v := nabla.Concat([]*nabla.Tensor{va, vb}, 0)
	want := nabla.Hessian(flat, z).MatMul(v.Reshape(4, 1)).Reshape(4)
	wantClose(t, "HVPN", nabla.Concat(hv, 0), want, 1e-12)
	// and the single-input HVP agrees with HVPN on the flattened function
	wantClose(t, "HVP", nabla.HVP(flat, z, v), want, 1e-12)

	if err := nabla.Maybe(func() { nabla.HVPN(f, []*nabla.Tensor{a, b}, []*nabla.Tensor{va}) }); err == nil {
		t.Error("HVPN with one vector for two arguments did not panic")
	}
	if err := nabla.Maybe(func() { nabla.HVPN(f, []*nabla.Tensor{a, b}, []*nabla.Tensor{vb, va}) }); err == nil {
		t.Error("HVPN with vectors of the wrong shapes did not panic")
	}
}

// Jacobian composes with an outer Grad: d/dx Σ J(x) for f = x² is 2.
func TestJacobianNested(t *testing.T) {
	g := nabla.Grad(func(x *nabla.Tensor) *nabla.Tensor {
		return nabla.Jacobian(func(x *nabla.Tensor) *nabla.Tensor { return x.Square() }, x).Sum()
	})(nabla.FromSlice([]float64{1, 3}))
	wantValues(t, "d/dx ΣJ", g, 2, 2)
}
