package nabla_test

import (
	"encoding/json"
	"math"
	"os"
	"strconv"
	"testing"

	"github.com/nabla-go/nabla"
)

// The dtype reference is written by bench/reference/make_dtype_reference.py
// with PyTorch 1.13.

type dtypeReference struct {
	Promotion []struct {
		A               string
		Int, Float      string
		Bool            string
		Tensor, Zerodim map[string]string
	}
	Ops []struct {
		Op, DType string
		A, B, Out []any
		OutDType  string `json:"out_dtype"`
		Lo, Hi    float64
	}
}

var dtypeByName = map[string]nabla.DType{}

func init() {
	for dt := nabla.Float32; dt <= nabla.BFloat16; dt++ {
		dtypeByName[dt.String()] = dt
	}
}

func loadDTypeReference(t *testing.T) *dtypeReference {
	b, err := os.ReadFile("testdata/dtype_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref dtypeReference
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Promotion) != 8 || len(ref.Ops) == 0 {
		t.Fatalf("reference has %d promotion rows and %d ops", len(ref.Promotion), len(ref.Ops))
	}
	return &ref
}

// TestPromotionReference checks the dtype of Add for every pair of dtypes
// and every kind of second operand against torch.result_type.
func TestPromotionReference(t *testing.T) {
	ref := loadDTypeReference(t)
	n := 0
	for _, row := range ref.Promotion {
		a := nabla.FullOf(dtypeByName[row.A], 1, 1)
		check := func(kind string, b *nabla.Tensor, want string) {
			t.Helper()
			n++
			if got := a.Add(b).DType().String(); got != want {
				t.Errorf("%s + %s %v: %s, want %s", row.A, kind, b.DType(), got, want)
			}
		}
		check("int", nabla.ScalarInt(1), row.Int)
		check("float", nabla.Scalar(1.5), row.Float)
		check("bool", nabla.ScalarBool(true), row.Bool)
		for bn, want := range row.Tensor {
			check("tensor", nabla.FullOf(dtypeByName[bn], 1, 1), want)
			// Promotion of two dimensioned tensors is symmetric.
			if got := nabla.FullOf(dtypeByName[bn], 1, 1).Add(a).DType().String(); got != want {
				t.Errorf("%s + %s: %s, want %s", bn, row.A, got, want)
			}
		}
		for bn, want := range row.Zerodim {
			check("0-d", nabla.FullOf(dtypeByName[bn], 1), want)
		}
	}
	if n != 8*19 {
		t.Errorf("checked %d entries, want %d", n, 8*19)
	}
}

func refValues(t *testing.T, v []any, dt nabla.DType) *nabla.Tensor {
	f := make([]float64, len(v))
	for i, x := range v {
		switch x := x.(type) {
		case float64:
			f[i] = x
		case bool:
			if x {
				f[i] = 1
			}
		case string:
			p, err := strconv.ParseFloat(x, 64)
			if err != nil {
				t.Fatal(err)
			}
			f[i] = p
		}
	}
	if dt == nabla.Bool {
		return nabla.FromSlice(f).NotEqual(nabla.Scalar(0))
	}
	return nabla.FromSlice(f).To(dt)
}

// TestIntOpsReference checks the integer, bool (and, for floor division and
// remainder, float) ops against PyTorch: values and output dtype.
func TestIntOpsReference(t *testing.T) {
	ref := loadDTypeReference(t)
	binops := map[string]func(a, b *nabla.Tensor) *nabla.Tensor{
		"Add": (*nabla.Tensor).Add, "Sub": (*nabla.Tensor).Sub, "Mul": (*nabla.Tensor).Mul, "Div": (*nabla.Tensor).Div,
		"FloorDivide": (*nabla.Tensor).FloorDivide, "Remainder": (*nabla.Tensor).Remainder, "Fmod": (*nabla.Tensor).Fmod,
		"Maximum": (*nabla.Tensor).Maximum, "Minimum": (*nabla.Tensor).Minimum, "Pow": (*nabla.Tensor).Pow,
		"Equal": (*nabla.Tensor).Equal, "NotEqual": (*nabla.Tensor).NotEqual, "Less": (*nabla.Tensor).Less,
		"LessEqual": (*nabla.Tensor).LessEqual, "Greater": (*nabla.Tensor).Greater, "GreaterEqual": (*nabla.Tensor).GreaterEqual,
		"LogicalAnd": (*nabla.Tensor).LogicalAnd, "LogicalOr": (*nabla.Tensor).LogicalOr, "LogicalXor": (*nabla.Tensor).LogicalXor,
	}
	unops := map[string]func(a *nabla.Tensor) *nabla.Tensor{
		"Neg": (*nabla.Tensor).Neg, "Abs": (*nabla.Tensor).Abs, "Sign": (*nabla.Tensor).Sign, "LogicalNot": (*nabla.Tensor).LogicalNot,
		"Sum":    func(a *nabla.Tensor) *nabla.Tensor { return a.Sum() },
		"Max":    func(a *nabla.Tensor) *nabla.Tensor { return a.Max() },
		"Min":    func(a *nabla.Tensor) *nabla.Tensor { return a.Min() },
		"ArgMax": func(a *nabla.Tensor) *nabla.Tensor { return a.Reshape(-1).ArgMax(0) },
		"ArgMin": func(a *nabla.Tensor) *nabla.Tensor { return a.Reshape(-1).ArgMin(0) },
	}
	for _, c := range ref.Ops {
		dt := dtypeByName[c.DType]
		a := refValues(t, c.A, dt)
		var got *nabla.Tensor
		switch {
		case c.Op == "Clamp":
			got = a.Clamp(c.Lo, c.Hi)
		case binops[c.Op] != nil:
			got = binops[c.Op](a, refValues(t, c.B, dt))
		case unops[c.Op] != nil:
			got = unops[c.Op](a)
		default:
			t.Errorf("no op %s", c.Op)
			continue
		}
		want := refValues(t, c.Out, nabla.Float64).Float64s()
		g := got.Float64s()
		if got.DType().String() != c.OutDType {
			t.Errorf("%s(%s): dtype %v, want %s", c.Op, c.DType, got.DType(), c.OutDType)
		}
		if len(g) != len(want) {
			t.Errorf("%s(%s): %d values, want %d", c.Op, c.DType, len(g), len(want))
			continue
		}
		for i := range g {
			if !(g[i] == want[i] || math.Abs(g[i]-want[i]) <= 1e-6*math.Abs(want[i]) || math.IsNaN(g[i]) && math.IsNaN(want[i])) {
				t.Errorf("%s(%s)[%d] of %v, %v: %v, want %v", c.Op, c.DType, i, c.A[i], c.B, g[i], want[i])
				break
			}
		}
	}
}

// TestIntDivisionByZero checks that integer division by zero is a
// *ValueError naming the op, while float division gives Inf.
func TestIntDivisionByZero(t *testing.T) {
	a, z := nabla.FromSlice([]int64{1, 2}), nabla.FromSlice([]int64{1, 0})
	for name, f := range map[string]func(){
		"FloorDivide": func() { a.FloorDivide(z) },
		"Remainder":   func() { a.Remainder(z) },
		"Fmod":        func() { a.Fmod(z) },
	} {
		err := nabla.Maybe(f)
		ve, ok := err.(*nabla.ValueError)
		if !ok || ve.Op != name {
			t.Errorf("%s by zero: %v, want a *ValueError from %s", name, err, name)
		}
	}
	if v := a.Div(z).Float64s(); !math.IsInf(v[1], 1) {
		t.Errorf("int Div by zero = %v, want +Inf (true division)", v)
	}
	if err := nabla.Maybe(func() { a.Pow(nabla.FromSlice([]int64{1, -1})) }); err == nil {
		t.Error("integer to a negative integer power did not fail")
	}
}
