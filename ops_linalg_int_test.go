package nabla_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/nabla-go/nabla"
)

// refTensor is a tensor of bench/reference/make_intops_reference.py.
type refTensor struct {
	DType string
	Shape []int
	Data  []json.Number
}

// tensor decodes r exactly: integers through int64, floats through float64
// (the matmul cases hold only finite values).
func (r refTensor) tensor(t *testing.T) *nabla.Tensor {
	t.Helper()
	dt, ok := dtypeByName[r.DType]
	if !ok {
		t.Fatalf("unknown dtype %q", r.DType)
	}
	if dt.IsFloat() {
		f := make([]float64, len(r.Data))
		for i, v := range r.Data {
			var err error
			if f[i], err = v.Float64(); err != nil {
				t.Fatal(err)
			}
		}
		return nabla.FromSlice(f, r.Shape...).To(dt)
	}
	n := make([]int64, len(r.Data))
	for i, v := range r.Data {
		var err error
		if n[i], err = v.Int64(); err != nil {
			t.Fatal(err)
		}
	}
	return nabla.FromSlice(n, r.Shape...).To(dt)
}

type matmulCase struct {
	Op           string
	Input, Other refTensor
	Args         struct {
		TOther bool `json:"t_other"`
	}
	Promoted       bool
	Error          string
	Outputs        struct{ Out refTensor }
	Upstream, Grad *refTensor
}

func loadMatMulCases(t *testing.T) []matmulCase {
	b, err := os.ReadFile("testdata/intops_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct{ Cases []json.RawMessage }
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	var cases []matmulCase
	for _, raw := range ref.Cases {
		var op struct{ Op string }
		if err := json.Unmarshal(raw, &op); err != nil {
			t.Fatal(err)
		}
		if op.Op != "matmul" {
			continue // the sort, scan and select cases
		}
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		var c matmulCase
		if err := d.Decode(&c); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, c)
	}
	if len(cases) < 50 {
		t.Fatalf("only %d matmul cases in the reference", len(cases))
	}
	return cases
}

// sameValues compares got with want exactly for integer dtypes and to
// within the rounding of a half-precision result otherwise.
func sameValues(got, want *nabla.Tensor) bool {
	if got.DType().IsInt() {
		g, w := got.Int64s(), want.Int64s()
		for i := range g {
			if g[i] != w[i] {
				return false
			}
		}
		return len(g) == len(w)
	}
	tol := 1e-12
	switch got.DType() {
	case nabla.Float32:
		tol = 1e-6
	case nabla.Float16:
		tol = 1e-3
	case nabla.BFloat16:
		tol = 8e-3
	}
	g, w := got.Float64s(), want.Float64s()
	for i := range g {
		if math.Abs(g[i]-w[i]) > tol*max(1, math.Abs(w[i])) {
			return false
		}
	}
	return len(g) == len(w)
}

// TestMatMulIntReference checks MatMul on integer dtypes, on operands of
// different dtypes (promoted) and its refusal of Bool against PyTorch 1.13:
// the values, the shape and the dtype, and the gradient of a float64
// operand of a mixed product.
func TestMatMulIntReference(t *testing.T) {
	for i, c := range loadMatMulCases(t) {
		x, y := c.Input.tensor(t), c.Other.tensor(t)
		if c.Grad != nil {
			if x.DType() == nabla.Float64 {
				x.RequireGrad()
			} else {
				y.RequireGrad()
			}
		}
		yy := y
		if c.Args.TOther {
			yy = y.T()
		}
		name := c.Input.DType + c.Other.DType
		var got *nabla.Tensor
		err := nabla.Maybe(func() { got = x.MatMul(yy) })
		if c.Error != "" {
			var ve *nabla.ValueError
			if !errors.As(err, &ve) || ve.Op != "MatMul" || !strings.Contains(err.Error(), "bool") {
				t.Errorf("case %d: %s %v @ %v: %v, want a *ValueError from MatMul naming bool (PyTorch: %s)",
					i, name, x.Shape(), yy.Shape(), err, c.Error)
			}
			continue
		}
		if err != nil {
			t.Errorf("case %d: %s %v @ %v: %v", i, name, x.Shape(), yy.Shape(), err)
			continue
		}
		want := c.Outputs.Out.tensor(t)
		if got.DType() != want.DType() || !slicesEqual(got.Shape(), want.Shape()) || !sameValues(got, want) {
			t.Errorf("case %d: %s %v @ %v = %v %v %v, want %v %v %v", i, name, x.Shape(), yy.Shape(),
				got.DType(), got.Shape(), got.Float64s(), want.DType(), want.Shape(), want.Float64s())
			continue
		}
		if !got.DType().IsFloat() && got.RequiresGrad() {
			t.Errorf("case %d: an integer result requires grad", i)
		}
		if c.Grad == nil {
			continue
		}
		got.Mul(c.Upstream.tensor(t)).Sum().Backward()
		g := x.Grad()
		if y.RequiresGrad() {
			g = y.Grad()
		}
		if g == nil || !sameValues(g, c.Grad.tensor(t)) {
			t.Errorf("case %d: %s gradient %v, want %v", i, name, g, c.Grad.tensor(t).Float64s())
		}
	}
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
