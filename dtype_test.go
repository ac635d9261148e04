package nabla_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nabla-go/nabla"
)

func TestFromSliceInfersDType(t *testing.T) {
	cases := []struct {
		name string
		x    *nabla.Tensor
		dt   nabla.DType
		want []int64
	}{
		{"float32", nabla.FromSlice([]float32{1, -2}), nabla.Float32, []int64{1, -2}},
		{"float64", nabla.FromSlice([]float64{1, -2}), nabla.Float64, []int64{1, -2}},
		{"int64", nabla.FromSlice([]int64{1 << 60, -2}), nabla.Int64, []int64{1 << 60, -2}},
		{"int64", nabla.FromSlice([]int{5, 1, 7}), nabla.Int64, []int64{5, 1, 7}}, // Go int is Int64
		{"int32", nabla.FromSlice([]int32{-3, 4}), nabla.Int32, []int64{-3, 4}},
		{"uint8", nabla.FromSlice([]uint8{255, 0}), nabla.Uint8, []int64{255, 0}},
		{"bool", nabla.FromSlice([]bool{true, false}), nabla.Bool, []int64{1, 0}},
		{"float16", nabla.FromHalfBits(nabla.Float16, []uint16{0x3c00, 0xc000}), nabla.Float16, []int64{1, -2}},
		{"bfloat16", nabla.FromHalfBits(nabla.BFloat16, []uint16{0x3f80, 0xc000}), nabla.BFloat16, []int64{1, -2}},
	}
	for _, c := range cases {
		if c.x.DType() != c.dt {
			t.Errorf("%s: dtype %v, want %v", c.name, c.x.DType(), c.dt)
		}
		if got := c.x.Int64s(); !slices.Equal(got, c.want) {
			t.Errorf("%s: Int64s = %v, want %v", c.name, got, c.want)
		}
		if c.x.DType().Size()*8 == 0 || c.x.DType().String() != c.name {
			t.Errorf("%s: String %q Size %d", c.name, c.x.DType(), c.x.DType().Size())
		}
	}
}

func TestDTypeSizes(t *testing.T) {
	want := map[nabla.DType]int{nabla.Float32: 4, nabla.Float64: 8, nabla.Int64: 8, nabla.Int32: 4,
		nabla.Uint8: 1, nabla.Bool: 1, nabla.Float16: 2, nabla.BFloat16: 2}
	for dt, n := range want {
		if dt.Size() != n {
			t.Errorf("%v.Size() = %d, want %d", dt, dt.Size(), n)
		}
	}
	if nabla.Float32 != 0 || nabla.Float64 != 1 {
		t.Error("Float32 and Float64 must keep the values 0 and 1")
	}
}

// TestToRules checks the documented conversion rules between dtypes.
func TestToRules(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	f := nabla.FromSlice([]float64{2.7, -2.7, 0, nan, inf, -inf, 1e30, 300})
	cases := []struct {
		dt   nabla.DType
		want []int64
	}{
		{nabla.Int64, []int64{2, -2, 0, math.MinInt64, math.MinInt64, math.MinInt64, math.MinInt64, 300}},
		{nabla.Int32, []int64{2, -2, 0, math.MinInt32, math.MinInt32, math.MinInt32, math.MinInt32, 300}},
		{nabla.Uint8, []int64{2, 254, 0, 0, 0, 0, 0, 44}},
		{nabla.Bool, []int64{1, 1, 0, 1, 1, 1, 1, 1}},
	}
	for _, c := range cases {
		got := f.To(c.dt)
		if got.DType() != c.dt {
			t.Fatalf("To(%v) gave %v", c.dt, got.DType())
		}
		if v := got.Int64s(); !slices.Equal(v, c.want) {
			t.Errorf("To(%v) = %v, want %v", c.dt, v, c.want)
		}
	}
	// Integers narrow by keeping their low bits.
	i := nabla.FromSlice([]int64{1<<32 + 5, -1, 256 + 7})
	if v := i.To(nabla.Int32).Int64s(); !slices.Equal(v, []int64{5, -1, 263}) {
		t.Errorf("Int64 -> Int32 = %v", v)
	}
	if v := i.To(nabla.Uint8).Int64s(); !slices.Equal(v, []int64{5, 255, 7}) {
		t.Errorf("Int64 -> Uint8 = %v", v)
	}
	// Large int64 to float32 rounds once (not through float64 and float32).
	big := nabla.FromSlice([]int64{1<<53 + 1, 16777217})
	if v := big.To(nabla.Float32).Float32s(); v[0] != float32(int64(1<<53+1)) || v[1] != 16777216 {
		t.Errorf("Int64 -> Float32 = %v", v)
	}
	// Float to half rounds to nearest even, and back is exact.
	h := nabla.FromSlice([]float32{1, 0.1, 65520, 1 + 1.0/2048})
	if v := h.To(nabla.Float16).DataHalf(); !slices.Equal(v, []uint16{0x3c00, 0x2e66, 0x7c00, 0x3c00}) {
		t.Errorf("Float16 bits = %#04x", v)
	}
	if v := h.To(nabla.BFloat16).DataHalf(); !slices.Equal(v, []uint16{0x3f80, 0x3dcd, 0x4780, 0x3f80}) {
		t.Errorf("BFloat16 bits = %#04x", v)
	}
	if v := h.To(nabla.BFloat16).To(nabla.Float32).Float32s(); v[0] != 1 || v[1] != 0.10009765625 {
		t.Errorf("BFloat16 -> Float32 = %v", v)
	}
	// Every dtype to every other and back keeps small whole values.
	all := []nabla.DType{nabla.Float32, nabla.Float64, nabla.Int64, nabla.Int32, nabla.Uint8, nabla.Float16, nabla.BFloat16}
	src := []float64{0, 1, 2, 7, 100}
	for _, a := range all {
		for _, b := range all {
			x := nabla.FromSlice(src).To(a).To(b)
			if x.DType() != b || !slices.Equal(x.Float64s(), src) {
				t.Errorf("%v -> %v: %v %v", a, b, x.DType(), x.Float64s())
			}
		}
	}
}

// TestShapeOpsEveryDType runs the view and copy ops on every dtype.
func TestShapeOpsEveryDType(t *testing.T) {
	for _, dt := range []nabla.DType{nabla.Float32, nabla.Float64, nabla.Int64, nabla.Int32, nabla.Uint8, nabla.Bool, nabla.Float16, nabla.BFloat16} {
		x := nabla.ArangeOf(nabla.Int64, 0, 6, 1).Reshape(2, 3).To(dt)
		want := []int64{0, 1, 2, 3, 4, 5}
		if dt == nabla.Bool {
			want = []int64{0, 1, 1, 1, 1, 1}
		}
		tr := x.Transpose(0, 1).Contiguous()
		if got := tr.Int64s(); !slices.Equal(got, []int64{want[0], want[3], want[1], want[4], want[2], want[5]}) {
			t.Errorf("%v: transpose = %v", dt, got)
		}
		if got := x.Slice(1, 1, 3, 1).Int64s(); !slices.Equal(got, []int64{want[1], want[2], want[4], want[5]}) {
			t.Errorf("%v: slice = %v", dt, got)
		}
		if got := x.Index(0, 1).Unsqueeze(0).Expand(2, 3).Int64s(); !slices.Equal(got, []int64{want[3], want[4], want[5], want[3], want[4], want[5]}) {
			t.Errorf("%v: expand = %v", dt, got)
		}
		c := nabla.Concat([]*nabla.Tensor{x, x}, 0)
		if c.DType() != dt || !slices.Equal(c.Int64s(), append(slices.Clone(want), want...)) {
			t.Errorf("%v: concat = %v %v", dt, c.DType(), c.Int64s())
		}
		s := nabla.Stack([]*nabla.Tensor{x, x}, 0)
		if !slices.Equal(s.Shape(), []int{2, 2, 3}) || s.DType() != dt {
			t.Errorf("%v: stack shape %v dtype %v", dt, s.Shape(), s.DType())
		}
		parts := c.Split(0, 2, 2)
		if len(parts) != 2 || !slices.Equal(parts[1].Int64s(), want) {
			t.Errorf("%v: split", dt)
		}
		ar := nabla.NewArena()
		in := x.InArena(ar).Transpose(0, 1).Reshape(6).Slice(0, 5, 6, 1).Add(x.Reshape(6).Slice(0, 0, 1, 1))
		if got := in.Int64s(); got[0] != want[5] {
			t.Errorf("%v: in arena flip = %v", dt, got)
		}
		ar.Reset()
	}
}

func TestItemAtSet(t *testing.T) {
	x := nabla.FromSlice([]int64{1 << 62, 3}, 2)
	if got := x.Slice(0, 0, 1, 1).ItemInt(); got != 1<<62 {
		t.Errorf("ItemInt = %d", got)
	}
	x.Set(-7.9, 1)
	if got := x.At(1); got != -7 {
		t.Errorf("Set(-7.9) then At = %v, want -7 (truncated)", got)
	}
	b := nabla.FromSlice([]bool{false, true})
	if b.At(1) != 1 || b.At(0) != 0 {
		t.Error("Bool At")
	}
	d := b.DataBool()
	d[0] = true
	if !b.Bools()[0] {
		t.Error("DataBool does not share memory")
	}
	i := nabla.FromSlice([]int32{1, 2})
	i.DataInt32()[1] = 9
	if i.Ints()[1] != 9 {
		t.Error("DataInt32 does not share memory")
	}
	if err := nabla.Maybe(func() { x.Data32() }); err == nil {
		t.Error("Data32 on Int64 did not fail")
	}
	if got := nabla.FromSlice([]float32{2.5}).ItemInt(); got != 2 {
		t.Errorf("ItemInt(2.5) = %d", got)
	}
}

func TestFormatDTypes(t *testing.T) {
	cases := []struct {
		x    *nabla.Tensor
		want string
	}{
		{nabla.FromSlice([]int64{1, -20, 3}), "[1 -20 3] shape=[3] int64"},
		{nabla.FromSlice([]bool{true, false}), "[true false] shape=[2] bool"},
		{nabla.FromSlice([]uint8{7}, 1, 1), "[[7]] shape=[1 1] uint8"},
		{nabla.ScalarInt(5), "5 shape=[] int64"},
		{nabla.FromSlice([]float32{1.5}).To(nabla.BFloat16), "[1.5] shape=[1] bfloat16"},
	}
	for _, c := range cases {
		if got := c.x.String(); got != c.want {
			t.Errorf("String = %q, want %q", got, c.want)
		}
	}
}

func TestCreationDTypes(t *testing.T) {
	if z := nabla.ZerosOf(nabla.Int32, 2, 2); z.DType() != nabla.Int32 || !slices.Equal(z.Int64s(), []int64{0, 0, 0, 0}) {
		t.Errorf("ZerosOf = %v", z)
	}
	if f := nabla.FullOf(nabla.Int64, 3.9, 2); !slices.Equal(f.Int64s(), []int64{3, 3}) {
		t.Errorf("FullOf(Int64, 3.9) = %v", f)
	}
	if f := nabla.FullOf(nabla.Bool, 2, 1); !f.Bools()[0] {
		t.Error("FullOf(Bool, 2)")
	}
	if a := nabla.ArangeOf(nabla.Int64, 5, -1, -2); a.DType() != nabla.Int64 || !slices.Equal(a.Int64s(), []int64{5, 3, 1}) {
		t.Errorf("ArangeOf = %v", a)
	}
	if a := nabla.ArangeOf(nabla.Float64, 0, 1, 0.25); !slices.Equal(a.Float64s(), []float64{0, 0.25, 0.5, 0.75}) {
		t.Errorf("ArangeOf(Float64) = %v", a)
	}
	r := nabla.RandInt(rand.New(rand.NewPCG(1, 2)), -3, 4, 1000)
	seen := map[int64]bool{}
	for _, v := range r.Int64s() {
		if v < -3 || v >= 4 {
			t.Fatalf("RandInt value %d out of [-3, 4)", v)
		}
		seen[v] = true
	}
	if r.DType() != nabla.Int64 || len(seen) != 7 {
		t.Errorf("RandInt: dtype %v, %d distinct values", r.DType(), len(seen))
	}
	if err := nabla.Maybe(func() { nabla.RandInt(rand.New(rand.NewPCG(1, 2)), 3, 3) }); err == nil {
		t.Error("RandInt on an empty range did not fail")
	}
}

func TestRequireGradNonFloat(t *testing.T) {
	for _, dt := range []nabla.DType{nabla.Int64, nabla.Int32, nabla.Uint8, nabla.Bool} {
		err := nabla.Maybe(func() { nabla.ZerosOf(dt, 2).RequireGrad() })
		var ge *nabla.GradError
		if !errors.As(err, &ge) {
			t.Errorf("%v: RequireGrad gave %v, want a *GradError", dt, err)
		}
	}
	// Half tensors cannot be leaves, but gradients flow through ops on them
	// (computed in float32) to the float32 leaf they came from.
	var ge *nabla.GradError
	if err := nabla.Maybe(func() { nabla.ZerosOf(nabla.Float16, 2).RequireGrad() }); !errors.As(err, &ge) {
		t.Errorf("RequireGrad on Float16 gave %v, want a *GradError", err)
	}
	w := nabla.FromSlice([]float32{1, 2}).RequireGrad()
	h := w.To(nabla.BFloat16)
	y := h.Mul(h).Sum()
	if y.DType() != nabla.BFloat16 || y.Item() != 5 {
		t.Fatalf("bf16 sum = %v", y)
	}
	y.Backward()
	if g := w.Grad(); g == nil || g.DType() != nabla.Float32 || !slices.Equal(g.Float64s(), []float64{2, 4}) {
		t.Errorf("grad through bf16 = %v", g)
	}
	// Ops that make integer tensors record nothing.
	x := nabla.FromSlice([]float32{1, 3, 2}).RequireGrad()
	if a := x.ArgMax(0); a.RequiresGrad() || a.DType() != nabla.Int64 || a.ItemInt() != 1 {
		t.Errorf("ArgMax = %v", a)
	}
	if c := x.Greater(nabla.Scalar(1)); c.RequiresGrad() || c.DType() != nabla.Bool {
		t.Errorf("Greater = %v", c)
	}
	if i := x.To(nabla.Int64); i.RequiresGrad() {
		t.Error("To(Int64) of a tensor requiring grad requires grad")
	}
}

// TestFloatKernelsOnOtherDTypes checks that the float-only ops compute half
// operands in float32 and refuse integers with a clear error.
func TestFloatKernelsOnOtherDTypes(t *testing.T) {
	a := nabla.FromSlice([]float32{1, 2, 3, 4}, 2, 2)
	want := a.MatMul(a).Float32s()
	for _, dt := range []nabla.DType{nabla.Float16, nabla.BFloat16} {
		h := a.To(dt)
		if got := h.MatMul(h); got.DType() != dt || !slices.Equal(got.Float32s(), want) {
			t.Errorf("%v MatMul = %v", dt, got)
		}
		if got := h.Softmax(1); got.DType() != dt || math.Abs(float64(got.Float32s()[0])-0.2689) > 2e-3 {
			t.Errorf("%v Softmax = %v", dt, got)
		}
		if got := nabla.MaxPool2d(h.Reshape(1, 1, 2, 2), [2]int{2, 2}, nabla.PoolOptions{}); got.DType() != dt || got.Item() != 4 {
			t.Errorf("%v MaxPool2d = %v", dt, got)
		}
		if got := nabla.LayerNorm(h, []int{2}, 1e-5); got.DType() != dt || math.Abs(got.Float64s()[0]+1) > 1e-2 {
			t.Errorf("%v LayerNorm = %v", dt, got)
		}
		// Mixed with float32, the half operand is promoted.
		if got := a.MatMul(h); got.DType() != nabla.Float32 {
			t.Errorf("float32 x %v MatMul dtype %v", dt, got.DType())
		}
	}
	i := a.To(nabla.Int64)
	// MatMul computes on integers (ops_linalg_int_test.go), not on Bool.
	b := a.To(nabla.Bool)
	for name, f := range map[string]func(){
		"MatMul":     func() { b.MatMul(b) },
		"Softmax":    func() { i.Softmax(1) },
		"LogSoftmax": func() { i.LogSoftmax(1) },
		"LayerNorm":  func() { nabla.LayerNorm(i, []int{2}, 1e-5) },
		"MaxPool2d":  func() { nabla.MaxPool2d(i.Reshape(1, 1, 2, 2), [2]int{2, 2}, nabla.PoolOptions{}) },
		"Conv2d":     func() { nabla.Conv2d(i.Reshape(1, 1, 2, 2), i.Reshape(1, 1, 2, 2), nil, nabla.ConvOptions{}) },
	} {
		err := nabla.Maybe(f)
		var ve *nabla.ValueError
		if !errors.As(err, &ve) || ve.Op != name {
			t.Errorf("%s on Int64: %v, want a *ValueError from %s", name, err, name)
		}
	}
	// Element-wise math on integers computes in Float32, as in PyTorch.
	if e := nabla.FromSlice([]int64{0, 1}).Exp(); e.DType() != nabla.Float32 || e.Float32s()[0] != 1 {
		t.Errorf("Exp of Int64 = %v", e)
	}
	if n := nabla.FromSlice([]int32{-3, 4}).Neg().Abs(); n.DType() != nabla.Int32 || !slices.Equal(n.Int64s(), []int64{3, 4}) {
		t.Errorf("Neg/Abs of Int32 = %v", n)
	}
	if err := nabla.Maybe(func() { nabla.Where(nabla.Ones(2), a, a) }); err == nil {
		t.Error("Where with a float condition did not fail")
	}
}

// TestScatterMaskedFillValues checks Scatter, ScatterAdd, MaskedFill and
// Gather against values from PyTorch 1.13 (torch.scatter, scatter_add,
// masked_fill, gather on arange(9).reshape(3, 3)), on Float32 and Int64.
func TestScatterMaskedFillValues(t *testing.T) {
	for _, dt := range []nabla.DType{nabla.Float32, nabla.Int64, nabla.Float64} {
		x := nabla.ArangeOf(dt, 0, 9, 1).Reshape(3, 3)
		src := nabla.FromSlice([]float64{10, 20, 30, 40, 50, 60}, 3, 2)
		got := x.Scatter(1, nabla.FromSlice([]int64{2, 0, 1, 2, 0, 1}, 3, 2), src)
		if got.DType() != dt || !slices.Equal(got.Float64s(), []float64{20, 1, 10, 3, 30, 40, 50, 60, 8}) {
			t.Errorf("%v Scatter = %v", dt, got)
		}
		got = x.ScatterAdd(1, nabla.FromSlice([]int32{2, 2, 1, 1, 0, 2}, 3, 2), src)
		if got.DType() != dt || !slices.Equal(got.Float64s(), []float64{0, 1, 32, 3, 74, 5, 56, 7, 68}) {
			t.Errorf("%v ScatterAdd = %v", dt, got)
		}
		m := nabla.FromSlice([]bool{true, false, false, true, true, false, false, false, true}, 3, 3)
		got = x.MaskedFill(m, nabla.Scalar(-1))
		if got.DType() != dt || !slices.Equal(got.Float64s(), []float64{-1, 1, 2, -1, -1, 5, 6, 7, -1}) {
			t.Errorf("%v MaskedFill = %v", dt, got)
		}
		got = x.Gather(0, nabla.FromSlice([]int64{2, 0, 1}, 1, 3))
		if got.DType() != dt || !slices.Equal(got.Float64s(), []float64{6, 1, 5}) {
			t.Errorf("%v Gather = %v", dt, got)
		}
	}
	if oh := nabla.OneHot(nabla.FromSlice([]int64{2, 0}), 3); oh.DType() != nabla.Int64 {
		t.Errorf("OneHot dtype %v, want int64 as torch", oh.DType())
	}
	x := nabla.Zeros(3, 3)
	for name, f := range map[string]func(){
		"Scatter":    func() { x.Scatter(1, nabla.FromSlice([]int64{3}, 1, 1).Expand(3, 1), nabla.Zeros(3, 1)) },
		"ScatterAdd": func() { x.ScatterAdd(1, nabla.Zeros(3, 1), nabla.Zeros(3, 1)) },
		"MaskedFill": func() { x.MaskedFill(nabla.Zeros(3, 3), nabla.Scalar(1)) },
	} {
		var ve *nabla.ValueError
		if err := nabla.Maybe(f); !errors.As(err, &ve) || ve.Op != name {
			t.Errorf("%s bad input: %v, want a *ValueError from %s", name, err, name)
		}
	}
}
