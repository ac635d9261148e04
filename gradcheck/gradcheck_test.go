package gradcheck_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/gradcheck"
)

// cube is x³ with a backward rule supplied by the test.
func cube(rule func(g, x *nabla.Tensor) *nabla.Tensor) gradcheck.Func {
	return func(in []*nabla.Tensor) *nabla.Tensor {
		return nabla.CustomOp("Cube",
			func(in []*nabla.Tensor) *nabla.Tensor { return in[0].Mul(in[0]).Mul(in[0]) },
			func(g, _ *nabla.Tensor, in []*nabla.Tensor) []*nabla.Tensor { return []*nabla.Tensor{rule(g, in[0])} },
			in[0])
	}
}

func TestCheck(t *testing.T) {
	x := nabla.FromSlice([]float64{0.5, -1, 2}, 3)
	for _, tt := range []struct {
		name    string
		rule    func(g, x *nabla.Tensor) *nabla.Tensor
		order   int
		wantErr string
	}{
		{"right", func(g, x *nabla.Tensor) *nabla.Tensor { return g.Mul(x.Square()).MulScalar(3) }, 2, ""},
		{"wrong first", func(g, x *nabla.Tensor) *nabla.Tensor { return g.Mul(x.Square()).MulScalar(2) }, 1, "order 1"},
		// Right values, but computed on detached data: first order passes,
		// second order sees no dependence on x and must fail.
		{"not differentiable", func(g, x *nabla.Tensor) *nabla.Tensor {
			return g.Mul(nabla.FromSlice(x.Float64s(), x.Shape()...).Square()).MulScalar(3)
		}, 2, "order 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := gradcheck.Check(cube(tt.rule), []*nabla.Tensor{x}, gradcheck.Options{Order: tt.order})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Check = %v; want nil", err)
				}
				return
			}
			var me *gradcheck.MismatchError
			if !errors.As(err, &me) {
				t.Fatalf("Check = %v; want a *MismatchError", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Check = %v; want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestCheckReportsWorstElement(t *testing.T) {
	// The rule is wrong only at the last element, by the most.
	x := nabla.FromSlice([]float64{1, 2, 3}, 3)
	bad := func(g, x *nabla.Tensor) *nabla.Tensor {
		return g.Mul(x.Square().MulScalar(3).Add(nabla.FromSlice([]float64{0, 0.1, 5}, 3)))
	}
	err := gradcheck.Check(cube(bad), []*nabla.Tensor{x}, gradcheck.Options{})
	var me *gradcheck.MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("Check = %v; want a *MismatchError", err)
	}
	if me.InputIndex[0] != 2 || me.OutputIndex[0] != 2 {
		t.Errorf("worst element at input %v output %v; want [2] and [2]", me.InputIndex, me.OutputIndex)
	}
	if got, want := me.Analytical, 27.0+5; got != want {
		t.Errorf("analytical = %v; want %v", got, want)
	}
	if got, want := me.Numerical, 27.0; got < want-1e-3 || got > want+1e-3 {
		t.Errorf("numerical = %v; want about %v", got, want)
	}
}

func TestCheckRejectsFloat32(t *testing.T) {
	err := gradcheck.Check(func(in []*nabla.Tensor) *nabla.Tensor { return in[0] }, []*nabla.Tensor{nabla.Ones(2)}, gradcheck.Options{})
	if err == nil || !strings.Contains(err.Error(), "float64") {
		t.Errorf("Check on float32 = %v; want an error asking for float64", err)
	}
}
