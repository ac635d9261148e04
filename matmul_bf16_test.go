package nabla

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMatMulBFloat16Weights checks the float32 × bfloat16 path (the weight
// is read as stored) against the product with the weight widened first,
// for both layouts of the weight, batched and 1-d left operands, and the
// gradient that reaches the float32 operand.
func TestMatMulBFloat16Weights(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	w := RandN(rng, 48, 40).To(BFloat16) // (out, in)
	wide := w.To(Float32)
	cases := []struct {
		name string
		x    *Tensor
		f    func(x, w *Tensor) *Tensor
	}{
		{"x·wᵀ one row", RandN(rng, 1, 40), func(x, w *Tensor) *Tensor { return x.MatMul(w.T()) }},
		{"x·wᵀ few rows", RandN(rng, 5, 40), func(x, w *Tensor) *Tensor { return x.MatMul(w.T()) }},
		{"x·wᵀ many rows", RandN(rng, 70, 40), func(x, w *Tensor) *Tensor { return x.MatMul(w.T()) }},
		{"x·wᵀ batched", RandN(rng, 3, 4, 40), func(x, w *Tensor) *Tensor { return x.MatMul(w.T()) }},
		{"x·w", RandN(rng, 6, 48), func(x, w *Tensor) *Tensor { return x.MatMul(w) }},
		{"x·w one row", RandN(rng, 1, 48), func(x, w *Tensor) *Tensor { return x.MatMul(w) }},
		{"vector·wᵀ", RandN(rng, 40), func(x, w *Tensor) *Tensor { return x.MatMul(w.T()) }},
		{"transposed x", RandN(rng, 40, 7).T(), func(x, w *Tensor) *Tensor { return x.MatMul(w.T()) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x1 := c.x.Detach().Contiguous().RequireGrad()
			x2 := c.x.Detach().Contiguous().RequireGrad()
			got := c.f(x1, w)
			want := c.f(x2, wide)
			if got.DType() != Float32 {
				t.Fatalf("dtype %v; want float32", got.DType())
			}
			if !slices.Equal(got.Shape(), want.Shape()) {
				t.Fatalf("shape %v; want %v", got.Shape(), want.Shape())
			}
			if d := maxAbsDiff(got, want); d > 1e-4 {
				t.Errorf("product differs by %g from the widened weight's", d)
			}
			up := RandN(rng, got.Shape()...)
			got.Backward(WithUpstream(up))
			want.Backward(WithUpstream(up))
			if d := maxAbsDiff(x1.Grad(), x2.Grad()); d > 1e-4 {
				t.Errorf("gradient differs by %g", d)
			}
		})
	}
	if w.RequiresGrad() || w.Grad() != nil {
		t.Error("the bfloat16 weight took part in gradient computation")
	}
}

func maxAbsDiff(a, b *Tensor) float64 {
	return a.Sub(b).Abs().Max().Item()
}
