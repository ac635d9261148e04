package nabla

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestOnGradReady checks that every leaf reached from the output is
// reported once, after its gradient is final, nearer leaves first, and
// that a leaf the output does not depend on is not reported.
func TestOnGradReady(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := RandN(rng, 4, 3)
	w1 := RandN(rng, 3, 5).RequireGrad()
	b1 := RandN(rng, 5).RequireGrad()
	w2 := RandN(rng, 5, 2).RequireGrad()
	unused := RandN(rng, 2).RequireGrad()
	_ = unused.MulScalar(2)
	h := x.MatMul(w1).Add(b1).Tanh()
	// w1 feeds the output through two paths: h and the extra term.
	y := h.MatMul(w2).Sum().Add(x.MatMul(w1).Square().Sum())

	var order []*Tensor
	snap := map[*Tensor][]float32{}
	y.Backward(OnGradReady(func(l *Tensor) {
		order = append(order, l)
		snap[l] = slices.Clone(l.Grad().Float32s())
	}))
	names := map[*Tensor]string{w1: "w1", b1: "b1", w2: "w2", unused: "unused"}
	var got []string
	for _, l := range order {
		got = append(got, names[l])
	}
	slices.Sort(got)
	if want := []string{"b1", "w1", "w2"}; !slices.Equal(got, want) {
		t.Fatalf("reported %v, want each of %v once", got, want)
	}
	for _, l := range order {
		if !slices.Equal(snap[l], l.Grad().Float32s()) {
			t.Errorf("%s: gradient changed after it was reported", names[l])
		}
	}
	if slices.Index(order, w2) > slices.Index(order, w1) {
		t.Errorf("w2, next to the output, was reported after w1")
	}
}

// TestOnGradReadyLeafOutput reports an output that is itself a leaf.
func TestOnGradReadyLeafOutput(t *testing.T) {
	x := Scalar(3).RequireGrad()
	n := 0
	x.Backward(OnGradReady(func(l *Tensor) {
		if l != x || l.Grad().Item() != 1 {
			t.Errorf("reported %v with gradient %v, want x with 1", l, l.Grad())
		}
		n++
	}))
	if n != 1 {
		t.Fatalf("reported %d times, want 1", n)
	}
}
