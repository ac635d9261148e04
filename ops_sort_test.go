package nabla_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/nabla-go/nabla"
)

// The sort, scan and select cases of testdata/intops_reference.json,
// written by bench/reference/make_intops_reference.py with PyTorch 1.13.

// sortRef is a tensor of the reference: data holds JSON numbers, or the
// strings "nan", "inf" and "-inf".
type sortRef struct {
	DType string
	Shape []int
	Data  []any
}

// tensor decodes r exactly: integers through int64, floats through
// float64 (every reference float is exact in its dtype).
func (r *sortRef) tensor(t *testing.T) *nabla.Tensor {
	t.Helper()
	dt, ok := dtypeByName[r.DType]
	if !ok {
		t.Fatalf("unknown dtype %q", r.DType)
	}
	f := make([]float64, len(r.Data))
	n := make([]int64, len(r.Data))
	for i, v := range r.Data {
		switch v := v.(type) {
		case json.Number:
			if dt.IsFloat() {
				f[i], _ = v.Float64()
			} else if x, err := v.Int64(); err == nil {
				n[i] = x
			} else {
				t.Fatalf("%s value %v: %v", r.DType, v, err)
			}
		case string:
			switch v {
			case "nan":
				f[i] = math.NaN()
			case "inf":
				f[i] = math.Inf(1)
			case "-inf":
				f[i] = math.Inf(-1)
			default:
				t.Fatalf("bad value %q", v)
			}
		default:
			t.Fatalf("bad value %v", v)
		}
	}
	if dt.IsFloat() {
		return nabla.FromSlice(f, r.Shape...).To(dt)
	}
	return nabla.FromSlice(n, r.Shape...).To(dt)
}

type sortCase struct {
	Op    string
	Input sortRef
	Args  struct {
		Axis       int
		Axes       []int // null: all
		Descending bool
		K          int
		Largest    bool
		Minlength  int
	}
	Weights, Mask  *sortRef
	Outputs        map[string]sortRef
	Emulated       bool
	Upstream, Grad *sortRef
}

func loadSortCases(t *testing.T) []sortCase {
	b, err := os.ReadFile("testdata/intops_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct{ Cases []json.RawMessage }
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	var cases []sortCase
	for _, raw := range ref.Cases {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		var c sortCase
		if err := d.Decode(&c); err != nil {
			t.Fatal(err)
		}
		if c.Op != "matmul" { // those are TestMatMulIntReference's
			cases = append(cases, c)
		}
	}
	return cases
}

// sameTensor returns "" if got has want's dtype, shape and values exactly
// (NaN equal to NaN, and zeros of the same sign), or what differs.
func sameTensor(got, want *nabla.Tensor) string {
	if got.DType() != want.DType() || !slicesEqual(got.Shape(), want.Shape()) {
		return fmt.Sprintf("got %v %v, want %v %v", got.DType(), got.Shape(), want.DType(), want.Shape())
	}
	if !got.DType().IsFloat() {
		g, w := got.Int64s(), want.Int64s()
		for i := range g {
			if g[i] != w[i] {
				return fmt.Sprintf("got %v, want %v", g, w)
			}
		}
		return ""
	}
	g, w := got.Float64s(), want.Float64s()
	for i := range g {
		if !(g[i] == w[i] && math.Signbit(g[i]) == math.Signbit(w[i]) || math.IsNaN(g[i]) && math.IsNaN(w[i])) {
			return fmt.Sprintf("got %v, want %v", g, w)
		}
	}
	return ""
}

// closeGrad reports whether the gradients agree to within rounding.
func closeGrad(got, want []float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > 1e-12*max(1, math.Abs(want[i])) {
			return false
		}
	}
	return true
}

// lines calls f with the flat positions of each line of shape along axis.
func lines(shape []int, axis int, f func(pos []int)) {
	if axis < 0 {
		axis += len(shape)
	}
	outer, inner := 1, 1
	for _, d := range shape[:axis] {
		outer *= d
	}
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	n := shape[axis]
	for o := range outer {
		for in := range inner {
			pos := make([]int, n)
			for i := range pos {
				pos[i] = (o*n+i)*inner + in
			}
			f(pos)
		}
	}
}

// valueKey names a value for grouping ties, every NaN the same.
func valueKey(v float64) string {
	if math.IsNaN(v) {
		return "nan"
	}
	return fmt.Sprint(v)
}

// TestSortReference checks every sort, topk, unique, bincount, cumsum,
// prod, masked_select and nonzero case of the reference against PyTorch
// 1.13: the dtype, shape and values of every output exactly, and the
// gradient of a float64 input where the reference has one.
func TestSortReference(t *testing.T) {
	cases := loadSortCases(t)
	count := map[string]int{}
	for i, c := range cases {
		count[c.Op]++
		x := c.Input.tensor(t)
		if c.Grad != nil {
			x.RequireGrad()
		}
		name := fmt.Sprintf("case %d: %s %s %v %+v", i, c.Op, c.Input.DType, c.Input.Shape, c.Args)
		want := map[string]*nabla.Tensor{}
		for k, v := range c.Outputs {
			want[k] = v.tensor(t)
		}
		check := func(what string, got *nabla.Tensor) {
			t.Helper()
			if d := sameTensor(got, want[what]); d != "" {
				t.Errorf("%s: %s: %s", name, what, d)
			}
			if !got.DType().IsFloat() && got.RequiresGrad() {
				t.Errorf("%s: %s is %v and requires grad", name, what, got.DType())
			}
		}
		var out *nabla.Tensor // the differentiable output
		exactGrad := true     // whether the gradient must match element by element
		switch c.Op {
		case "sort":
			v, idx := x.Sort(c.Args.Axis, c.Args.Descending)
			check("values", v)
			check("indices", idx)
			check("indices", x.ArgSort(c.Args.Axis, c.Args.Descending))
			out = v
		case "topk":
			v, idx := x.TopK(c.Args.K, c.Args.Axis, c.Args.Largest, true)
			check("values", v)
			exactGrad = checkTopKIndices(t, name, x, v, idx, want["indices"], c.Args.Axis, c.Args.K, c.Args.Largest)
			out = v
		case "unique":
			v, inv, cnt := x.UniqueCounts()
			check("values", v)
			check("inverse", inv)
			check("counts", cnt)
			check("values", x.Unique())
		case "bincount":
			var w *nabla.Tensor
			if c.Weights != nil {
				w = c.Weights.tensor(t)
			}
			check("out", x.BinCount(w, c.Args.Minlength))
		case "cumsum":
			out = x.CumSum(c.Args.Axis)
			check("out", out)
		case "prod":
			out = x.Prod(c.Args.Axes...)
			check("out", out)
		case "masked_select":
			out = x.MaskedSelect(c.Mask.tensor(t))
			check("out", out)
		case "nonzero":
			check("out", x.Nonzero())
		default:
			t.Errorf("%s: unknown op", name)
		}
		if c.Grad == nil {
			continue
		}
		out.Mul(c.Upstream.tensor(t)).Sum().Backward()
		if x.Grad() == nil {
			t.Errorf("%s: no gradient", name)
			continue
		}
		got, wantG := x.Grad().Float64s(), c.Grad.tensor(t).Float64s()
		if exactGrad {
			if !closeGrad(got, wantG) {
				t.Errorf("%s: gradient %v, want %v", name, got, wantG)
			}
			continue
		}
		// Tied elements took the upstream of each other's positions: the
		// gradient summed over each group of equal elements of a line
		// agrees.
		xv := x.Float64s()
		lines(x.Shape(), c.Args.Axis, func(pos []int) {
			gs, ws := map[string]float64{}, map[string]float64{}
			for _, p := range pos {
				gs[valueKey(xv[p])] += got[p]
				ws[valueKey(xv[p])] += wantG[p]
			}
			for k := range ws {
				if math.Abs(gs[k]-ws[k]) > 1e-12 {
					t.Errorf("%s: gradient of the elements equal to %s sums to %v, want %v", name, k, gs[k], ws[k])
				}
			}
		})
	}
	for op, n := range map[string]int{"sort": 32, "topk": 64, "unique": 24, "bincount": 30, "cumsum": 25, "prod": 29, "masked_select": 24, "nonzero": 40} {
		if count[op] < n {
			t.Errorf("%d %s cases in the reference, want at least %d", count[op], op, n)
		}
	}
	if len(count) != 8 {
		t.Errorf("reference ops %v, want the eight of TestSortReference", count)
	}
}

// checkTopKIndices checks TopK's indices against PyTorch's: each names an
// element of x equal to its value, and where that value occurs once in
// its line of x the index is PyTorch's. (PyTorch orders ties as its
// partial sort leaves them.) They must also be the first k of Sort's, as
// documented, and the unsorted TopK the same positions in ascending
// order. It reports whether the indices are exactly PyTorch's.
func checkTopKIndices(t *testing.T, name string, x, v, idx, want *nabla.Tensor, axis, k int, largest bool) bool {
	t.Helper()
	if idx.DType() != nabla.Int64 || !slicesEqual(idx.Shape(), want.Shape()) {
		t.Errorf("%s: indices %v %v, want int64 %v", name, idx.DType(), idx.Shape(), want.Shape())
		return false
	}
	if d := sameTensor(x.Gather(axis, idx), v); d != "" {
		t.Errorf("%s: the indices do not name the values: %s", name, d)
	}
	xv, got, w := x.Float64s(), idx.Int64s(), want.Int64s()
	// occurrences of each value in each line of x, by the line's outer and
	// inner position: the output's lines have the same ones
	dup := map[int]map[string]int{}
	ln := 0
	lines(x.Shape(), axis, func(pos []int) {
		m := map[string]int{}
		for _, p := range pos {
			m[valueKey(xv[p])]++
		}
		dup[ln] = m
		ln++
	})
	ln = 0
	vv := v.Float64s()
	lines(idx.Shape(), axis, func(pos []int) {
		for _, p := range pos {
			if dup[ln][valueKey(vv[p])] == 1 && got[p] != w[p] {
				t.Errorf("%s: index %d at %d, want %d (the value %v is not tied)", name, got[p], p, w[p], vv[p])
			}
		}
		ln++
	})
	_, all := x.Sort(axis, largest)
	if d := sameTensor(idx, all.Slice(axis, 0, k, 1)); d != "" {
		t.Errorf("%s: the indices are not the first k of Sort's: %s", name, d)
	}
	uv, ui := x.TopK(k, axis, largest, false)
	inOrder, _ := idx.Sort(axis, false)
	if d := sameTensor(ui, inOrder); d != "" {
		t.Errorf("%s: unsorted indices: %s", name, d)
	}
	if d := sameTensor(uv, x.Gather(axis, ui)); d != "" {
		t.Errorf("%s: unsorted values: %s", name, d)
	}
	for i := range got {
		if got[i] != w[i] {
			return false
		}
	}
	return true
}

// TestSortOps checks what the reference does not: 0-d tensors, strided
// inputs, a middle axis, signed zeros, half precision and which results
// require grad.
func TestSortOps(t *testing.T) {
	x := nabla.FromSlice([]float64{3, 1, 2, 1, 0, 5, 4, 1, 0, 2, 2, 9}, 2, 3, 2)
	// Along the middle axis of a strided view: the same as on a copy.
	xt := x.Permute(2, 1, 0) // (2, 3, 2), not contiguous
	v1, i1 := xt.Sort(1, true)
	v2, i2 := xt.Contiguous().Sort(1, true)
	if sameTensor(v1, v2) != "" || sameTensor(i1, i2) != "" {
		t.Errorf("Sort of a view %v %v, of a copy %v %v", v1, i1, v2, i2)
	}
	if got, want := xt.Contiguous().Float64s(), []float64{3, 4, 2, 0, 0, 2, 1, 1, 1, 2, 5, 9}; !slicesEqualF(got, want) {
		t.Fatalf("setup: %v", got)
	}
	if got, want := i2.Int64s(), []int64{0, 0, 1, 2, 2, 1, 2, 2, 0, 1, 1, 0}; !slicesEqualI(got, want) {
		t.Errorf("Sort along axis 1 = %v, want %v", got, want)
	}
	// Signed zeros are equal: stable.
	z := nabla.FromSlice([]float32{0, float32(math.Copysign(0, -1)), 0, -1, float32(math.Copysign(0, -1))})
	if _, i := z.Sort(0, false); !slicesEqualI(i.Int64s(), []int64{3, 0, 1, 2, 4}) {
		t.Errorf("Sort of signed zeros: %v", i)
	}
	// 0-d: its own sort.
	s := nabla.Scalar(2.5)
	if v, i := s.Sort(-1, false); v.Dim() != 0 || v.Item() != 2.5 || i.Dim() != 0 || i.ItemInt() != 0 {
		t.Errorf("Sort of a 0-d tensor: %v %v", v, i)
	}
	if v, i := s.TopK(1, 0, true, true); v.Dim() != 0 || v.Item() != 2.5 || i.ItemInt() != 0 {
		t.Errorf("TopK of a 0-d tensor: %v %v", v, i)
	}
	if v, i := s.TopK(0, 0, true, true); !slicesEqual(v.Shape(), []int{0}) || !slicesEqual(i.Shape(), []int{0}) {
		t.Errorf("TopK(0) of a 0-d tensor: %v %v, want shape [0]", v, i)
	}
	// Half precision sorts its exact values, and keeps its dtype.
	h := nabla.FromSlice([]float32{1.5, -2, 65504, 0.1, float32(math.NaN())}).To(nabla.BFloat16)
	if v, i := h.Sort(0, false); v.DType() != nabla.BFloat16 || !slicesEqualI(i.Int64s(), []int64{1, 3, 0, 2, 4}) {
		t.Errorf("Sort of bfloat16: %v %v", v, i)
	}
	// A bfloat16 tensor converted from a float32 leaf: its TopK values are
	// gathered, and the gradient flows back through the gather to the leaf.
	leaf := nabla.FromSlice([]float32{2, -1, 3}).RequireGrad()
	hv, _ := leaf.To(nabla.BFloat16).TopK(2, 0, true, true)
	hv.To(nabla.Float32).Mul(nabla.FromSlice([]float32{10, 20})).Sum().Backward()
	if g := leaf.Grad().Float64s(); !slicesEqualF(g, []float64{20, 0, 10}) {
		t.Errorf("gradient through a bfloat16 TopK = %v, want [20 0 10]", g)
	}
	// Only float values require grad.
	w := x.Detach().RequireGrad()
	v, i := w.TopK(2, -1, true, true)
	u, inv, cnt := w.UniqueCounts()
	for _, r := range []struct {
		name string
		t    *nabla.Tensor
		want bool
	}{
		{"TopK values", v, true}, {"TopK indices", i, false}, {"Sort values", first(w.Sort(0, false)), true},
		{"ArgSort", w.ArgSort(0, false), false}, {"MaskedSelect", w.MaskedSelect(w.Greater(nabla.Scalar(1))), true},
		{"Unique", u, false}, {"inverse", inv, false}, {"counts", cnt, false}, {"Nonzero", w.Nonzero(), false},
		{"BinCount", nabla.FromSlice([]int64{0, 2}).BinCount(nabla.FromSlice([]float64{1, 2}).RequireGrad(), 0), false},
		{"CumSum of ints", nabla.FromSlice([]int32{1, 2}).CumSum(0), false},
	} {
		if r.t.RequiresGrad() != r.want {
			t.Errorf("%s requires grad: %v, want %v", r.name, r.t.RequiresGrad(), r.want)
		}
	}
	// MaskedSelect broadcasts the input to the mask's shape, too, and the
	// gradient sums back over the broadcast.
	row := nabla.FromSlice([]float64{1, 2, 3}).RequireGrad()
	m := nabla.FromSlice([]bool{true, false, true, true, true, false}, 2, 3)
	sel := row.MaskedSelect(m)
	if !slicesEqualF(sel.Float64s(), []float64{1, 3, 1, 2}) {
		t.Errorf("MaskedSelect of a broadcast row = %v", sel)
	}
	sel.Sum().Backward()
	if !slicesEqualF(row.Grad().Float64s(), []float64{2, 1, 1}) {
		t.Errorf("MaskedSelect gradient = %v, want [2 1 1]", row.Grad())
	}
	// CumSum and Prod of integers wrap in int64, as PyTorch's.
	big := nabla.FromSlice([]int64{math.MaxInt64, 1})
	if got := big.CumSum(0).Int64s(); got[1] != math.MinInt64 {
		t.Errorf("CumSum past MaxInt64 = %v", got)
	}
	if got := nabla.FromSlice([]uint8{200, 2}).Prod().ItemInt(); got != 400 {
		t.Errorf("Prod of uint8 = %d, want 400 (in int64)", got)
	}
	if got := nabla.FromSlice([]float32{3, 4}).To(nabla.Float16).Prod(); got.DType() != nabla.Float16 || got.Item() != 12 {
		t.Errorf("Prod of float16 = %v", got)
	}
}

func first(a, _ *nabla.Tensor) *nabla.Tensor { return a }

func slicesEqualF(a, b []float64) bool {
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

func slicesEqualI(a, b []int64) bool {
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

// TestSortErrors checks that bad input panics with an error naming the op
// and what was wrong.
func TestSortErrors(t *testing.T) {
	x := nabla.FromSlice([]float32{3, 1, 2, 5, 4, 0}, 2, 3)
	ints := nabla.FromSlice([]int64{1, 0, 3})
	var shapeErr *nabla.ShapeError
	var valueErr *nabla.ValueError
	for _, tc := range []struct {
		name, op string
		target   any
		reason   string
		f        func()
	}{
		{"Sort axis", "Sort", &shapeErr, "axis 2", func() { x.Sort(2, false) }},
		{"Sort 0-d axis", "Sort", &shapeErr, "axis 1", func() { nabla.Scalar(1).Sort(1, false) }},
		{"ArgSort axis", "ArgSort", &shapeErr, "axis -3", func() { x.ArgSort(-3, false) }},
		{"TopK axis", "TopK", &shapeErr, "axis 5", func() { x.TopK(1, 5, true, true) }},
		{"TopK k too large", "TopK", &valueErr, "k = 4", func() { x.TopK(4, -1, true, true) }},
		{"TopK k negative", "TopK", &valueErr, "k = -1", func() { x.TopK(-1, -1, true, true) }},
		{"BinCount float", "BinCount", &valueErr, "float32", func() { x.Reshape(-1).BinCount(nil, 0) }},
		{"BinCount bool", "BinCount", &valueErr, "bool", func() { nabla.FromSlice([]bool{true}).BinCount(nil, 0) }},
		{"BinCount negative", "BinCount", &valueErr, "value -2 at position 1", func() { nabla.FromSlice([]int32{1, -2}).BinCount(nil, 0) }},
		{"BinCount 2-d", "BinCount", &shapeErr, "1-d", func() { ints.Reshape(1, 3).BinCount(nil, 0) }},
		{"BinCount weights", "BinCount", &shapeErr, "weights", func() { ints.BinCount(nabla.Ones(2), 0) }},
		{"BinCount minlength", "BinCount", &valueErr, "minlength -1", func() { ints.BinCount(nil, -1) }},
		{"MaskedSelect dtype", "MaskedSelect", &valueErr, "uint8", func() { x.MaskedSelect(nabla.FromSlice([]uint8{1, 0, 1})) }},
		{"MaskedSelect shape", "MaskedSelect", &shapeErr, "broadcast", func() { x.MaskedSelect(nabla.FromSlice([]bool{true, false})) }},
	} {
		err := nabla.Maybe(tc.f)
		var op string
		switch target := tc.target.(type) {
		case **nabla.ShapeError:
			if errors.As(err, target) {
				op = (*target).Op
			}
		case **nabla.ValueError:
			if errors.As(err, target) {
				op = (*target).Op
			}
		}
		if err == nil || op != tc.op || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s: %v, want a %T from %s mentioning %q", tc.name, err, tc.target, tc.op, tc.reason)
		}
	}
}

// The gradient checks of the sort and select ops, added to gradCases
// (ops_gradcheck_test.go): Sort and TopK record their own op, whose
// backward is ScatterAdd (and its backward Gather); MaskedSelect is built
// from the recorded IndexSelect. Each is squared so that second order
// sees an upstream that depends on x. makeInput's values are distinct (no
// ties).
var sortGradCases = []gradCase{
	{name: "Sort", ops: []string{"Sort", "ScatterAdd", "Gather"}, f: un(func(x *T) *T {
		v, _ := x.Sort(-1, false)
		return v.Square()
	}), shapes: append(reduceShapes, ins(sh()))},
	{name: "Sort/descending-axis0", ops: []string{"Sort", "ScatterAdd", "Gather"}, f: un(func(x *T) *T {
		v, _ := x.Sort(0, true)
		return v.Square()
	}), shapes: reduceShapes},
	{name: "TopK", ops: []string{"TopK", "ScatterAdd", "Gather"}, f: un(func(x *T) *T {
		v, _ := x.TopK(2, -1, true, true)
		return v.Square()
	}), shapes: [][]input{ins(sh(3)), ins(sh(3, 2)), ins(sh(2, 3, 4)), ins(tr(3, 2)), ins(tr(2, 3, 4))}},
	{name: "TopK/smallest-unsorted", ops: []string{"TopK", "ScatterAdd", "Gather"}, f: un(func(x *T) *T {
		v, _ := x.TopK(2, 1, false, false)
		return v.Square()
	}), shapes: [][]input{ins(sh(3, 3)), ins(sh(2, 3, 4)), ins(tr(2, 3, 4))}},
	{name: "MaskedSelect", ops: []string{"IndexSelect", "IndexAdd", "Reshape"}, f: un(func(x *T) *T {
		return x.MaskedSelect(nabla.FromSlice([]bool{true, false, true, true, true, false}, 2, 3)).Square()
	}), shapes: [][]input{ins(sh(2, 3)), ins(tr(2, 3))}},
	// x broadcast against the mask: the gradient sums over the broadcast.
	{name: "MaskedSelect/broadcast", ops: []string{"IndexSelect", "IndexAdd", "BroadcastTo"}, f: un(func(x *T) *T {
		return x.MaskedSelect(nabla.FromSlice([]bool{true, false, true, true, true, false}, 2, 3)).Square()
	}), shapes: [][]input{ins(sh(3)), ins(sh(2, 1)), ins(sh())}},
	{name: "CumSum/prod", ops: []string{"CumSum", "Prod", "ProdOthers"}, f: un(func(x *T) *T {
		return x.CumSum(0).Prod(0)
	}), shapes: reduceShapes},
}

func init() { gradCases = append(gradCases, sortGradCases...) }

// TestSortGradcheckRegistered guards the init above: the rows are in the
// table TestGradcheck and TestEveryOpHasGradcheck read.
func TestSortGradcheckRegistered(t *testing.T) {
	n := 0
	for _, c := range gradCases {
		if c.name == "Sort" || c.name == "TopK" || c.name == "MaskedSelect" {
			n++
		}
	}
	if n != 3 {
		t.Errorf("found %d of the sort rows in gradCases", n)
	}
}
