package nabla_test

import (
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/gradcheck"
)

// TestProdZerosGradcheck checks Prod's first and second derivatives where
// elements are exactly zero (none, one and two in a group), the points at
// which a gradient computed as product/x would fail. The random inputs of
// the gradient-check table are never zero.
func TestProdZerosGradcheck(t *testing.T) {
	x := nabla.FromSlice([]float64{1.5, -2, 0.5, 0.25, 0, -0.5, 0, 3, 0}, 3, 3)
	tests := []struct {
		name string
		f    func(in []*T) *T
	}{
		{"rows", func(in []*T) *T { return in[0].Prod(1).Square() }},
		{"columns", func(in []*T) *T { return in[0].ProdKeep(0) }},
		{"all", func(in []*T) *T { return in[0].Prod() }},
		{"others", func(in []*T) *T {
			y := in[0].Prod(1).Sum()
			return nabla.Gradients(y, []*T{in[0]}, nabla.CreateGraph())[0].Square()
		}},
	}
	for _, tc := range tests {
		if err := gradcheck.Check(tc.f, []*T{x}, gradcheck.Options{Order: 2}); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestCumSumProdValues(t *testing.T) {
	x := nabla.FromSlice([]float32{1, 2, 3, 4, 0, 6}, 2, 3)
	tests := []struct {
		name string
		got  *T
		want []float64
	}{
		{"CumSum(1)", x.CumSum(1), []float64{1, 3, 6, 4, 4, 10}},
		{"CumSum(0)", x.CumSum(0), []float64{1, 2, 3, 5, 2, 9}},
		{"CumSum(-1) 0-d", nabla.Scalar(2.5).CumSum(-1), []float64{2.5}},
		{"Prod()", x.Prod(), []float64{0}},
		{"Prod(1)", x.Prod(1), []float64{6, 0}},
		{"ProdKeep(0)", x.ProdKeep(0), []float64{4, 0, 18}},
		{"Prod of nothing", nabla.Zeros(2, 0).Prod(1), []float64{1, 1}},
	}
	for _, tc := range tests {
		got := tc.got.Float64s()
		if len(got) != len(tc.want) {
			t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
				break
			}
		}
	}
	if s := x.ProdKeep(0).Shape(); len(s) != 2 || s[0] != 1 || s[1] != 3 {
		t.Errorf("ProdKeep(0) shape %v", s)
	}
	if x.CumSum(0).DType() != nabla.Float32 {
		t.Error("CumSum changed the dtype")
	}
}
