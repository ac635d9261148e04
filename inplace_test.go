package nabla_test

import (
	"testing"

	"github.com/nabla-go/nabla"
)

func f64(v ...float64) *nabla.Tensor { return nabla.FromSlice(v) }

func TestInPlaceValuesOnViews(t *testing.T) {
	buf := nabla.FromSlice([]float64{1, 2, 3, 4, 5, 6}, 2, 3)
	col := buf.Slice(1, 1, 2, 1) // column 1: a strided view
	col.AddInPlace(f64(10))
	wantValues(t, "after AddInPlace on a column", buf, 1, 12, 3, 4, 15, 6)
	buf.T().Slice(0, 2, 3, 1).MulInPlace(f64(-1)) // column 2 through a transpose
	wantValues(t, "after MulInPlace through a transpose", buf, 1, 12, -3, 4, 15, -6)
	buf.Slice(0, 0, 1, 1).Fill(7)
	wantValues(t, "after Fill of row 0", buf, 7, 7, 7, 4, 15, -6)
	buf.ClampInPlace(0, 10)
	wantValues(t, "after ClampInPlace", buf, 7, 7, 7, 4, 10, 0)
	buf.MaskedFillInPlace(nabla.FromSlice([]bool{true, false, true}), -1)
	wantValues(t, "after MaskedFillInPlace", buf, -1, 7, -1, -1, 10, -1)
	buf.Slice(0, 1, 2, 1).CopyFrom(f64(1, 2, 3))
	wantValues(t, "after CopyFrom into row 1", buf, -1, 7, -1, 1, 2, 3)
	buf.ReluInPlace()
	wantValues(t, "after ReluInPlace", buf, 0, 7, 0, 1, 2, 3)
	buf.MulScalarInPlace(2).Zero()
	wantValues(t, "after Zero", buf, 0, 0, 0, 0, 0, 0)
	// Views share the version: 9 writes so far, seen from every view.
	if v, cv := buf.Version(), col.Version(); v != 9 || cv != 9 {
		t.Errorf("versions %d and %d; want 9 for both", v, cv)
	}
	buf.Set(1, 0, 0)
	if col.Version() != 10 {
		t.Errorf("Set did not bump the version: %d", col.Version())
	}

	wantPanic[*nabla.ShapeError](t, func() { nabla.Zeros(3).AddInPlace(nabla.Zeros(2, 3)) }, "AddInPlace")
	wantPanic[*nabla.ShapeError](t, func() { nabla.Zeros(1).Expand(3).Fill(1) }, "expanded")
}

// The classic mistakes, each caught instead of giving a wrong gradient.
func TestInPlaceMistakes(t *testing.T) {
	t.Run("in place on a leaf that requires grad", func(t *testing.T) {
		w := f64(1, 2).RequireGrad()
		wantPanic[*nabla.GradError](t, func() { w.AddInPlace(f64(1)) }, "leaf that requires grad", "AddInPlace")
		wantPanic[*nabla.GradError](t, func() { w.Slice(0, 0, 1, 1).Fill(0) }, "view")
	})
	t.Run("weight changed between forward and backward", func(t *testing.T) {
		w := f64(1, 2).RequireGrad()
		loss := w.Square().Sum()
		nabla.NoGrad(func() { w.AddInPlace(f64(0.5)) }, w) // as under torch.no_grad
		wantPanic[*nabla.GradError](t, func() { loss.Backward() }, "PowScalar", "modified by an in-place operation", "leaf that requires grad", "version 1", "version 0")

		w2 := f64(1, 2).RequireGrad()
		x := f64(3, 4).RequireGrad()
		loss = x.Mul(w2).Sum()
		w2.Set(5, 0)
		wantPanic[*nabla.GradError](t, func() { loss.Backward() }, "Mul", "its input 1")
	})
	t.Run("ReLU in place on Sigmoid's output", func(t *testing.T) {
		x := f64(-1, 2).RequireGrad()
		s := x.Sigmoid()
		s.ReluInPlace()
		wantPanic[*nabla.GradError](t, func() { s.Sum().Backward() }, "Sigmoid", "its output")
	})
	t.Run("in place on Exp's output, through a Detach", func(t *testing.T) {
		x := f64(-1, 2).RequireGrad()
		y := x.Exp()
		y.Detach().Fill(0)
		wantPanic[*nabla.GradError](t, func() { y.Sum().Backward() }, "Exp")
	})
	t.Run("a view used after its base was changed", func(t *testing.T) {
		x := f64(1, 2, 3).RequireGrad()
		y := x.MulScalar(2)
		v := y.Slice(0, 0, 2, 1)
		y.MulScalarInPlace(3)
		wantPanic[*nabla.GradError](t, func() { v.Sum().Backward() }, "Slice")
	})
	t.Run("in place on a view of a graph tensor", func(t *testing.T) {
		y := f64(1, 2, 3).RequireGrad().MulScalar(2)
		wantPanic[*nabla.GradError](t, func() { y.Slice(0, 0, 2, 1).MulScalarInPlace(3) }, "view", "Slice")
	})
	t.Run("a shared buffer given a graph", func(t *testing.T) {
		buf := nabla.FullOf(nabla.Float64, 0, 3)
		_ = buf.Reshape(3, 1)
		wantPanic[*nabla.GradError](t, func() { buf.AddInPlace(f64(1).RequireGrad()) }, "shared")
	})
}

// Legal in-place programs give PyTorch's gradients.
func TestInPlaceLegalGradients(t *testing.T) {
	// ReLU in place after an op that does not need its output.
	x := f64(-1, 2).RequireGrad()
	y := x.MulScalar(2)
	y.ReluInPlace()
	y.Square().Sum().Backward()
	wantValues(t, "d/dx Σ relu(2x)²", x.Grad(), 0, 16)

	// A consumer of y before the write keeps y's old graph: z = 2x + 1 uses
	// the old y, the loss adds the new y = 2x + x.
	x = f64(1, 2).RequireGrad()
	y = x.MulScalar(2)
	z := y.AddScalar(1)
	y.AddInPlace(x)
	z.Sum().Add(y.Sum()).Backward()
	wantValues(t, "d/dx (Σz + Σy)", x.Grad(), 5, 5)
	wantValues(t, "y", y, 3, 6)

	// Two in-place ops in a row, then a use: y = (2x + x)·x.
	x = f64(1, 2).RequireGrad()
	y = x.MulScalar(2)
	y.AddInPlace(x).MulInPlace(x)
	y.Sum().Backward()
	wantValues(t, "d/dx 3x²", x.Grad(), 6, 12)

	// A buffer that does not require grad takes a graph from what is
	// written into it, as PyTorch's out-of-graph buffer after add_.
	x = f64(1, 2).RequireGrad()
	buf := nabla.FullOf(nabla.Float64, 1, 2)
	buf.MulInPlace(x)
	if !buf.RequiresGrad() {
		t.Fatal("buffer does not require grad after MulInPlace with x")
	}
	buf.Square().Sum().Backward()
	wantValues(t, "d/dx Σx²", x.Grad(), 2, 4)

	// Without anything requiring grad nothing is recorded.
	c := f64(1, 2)
	c.AddInPlace(f64(1))
	if c.RequiresGrad() || !c.IsLeaf() {
		t.Error("in-place op on constants recorded a graph")
	}
}
