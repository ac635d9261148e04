package nabla_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nabla-go/nabla"
)

// TestAttentionMatchesComposed compares the fused attention, forward and
// backward, with the same function composed of MatMul and Softmax, on
// sizes that take several query and key blocks, with masks, causality,
// dropout, broadcast batches and views, in both dtypes.
func TestAttentionMatchesComposed(t *testing.T) {
	inf := math.Inf(-1)
	cases := []struct {
		name      string
		q, k, v   []int
		causal    bool
		mask      []int // shape of a random additive mask with some -Inf
		dropout   float64
		transpose bool // hand q, k, v as transposed views
	}{
		{name: "small", q: []int{2, 3, 5, 4}, k: []int{2, 3, 7, 4}, v: []int{2, 3, 7, 6}},
		{name: "blocks", q: []int{3, 150, 16}, k: []int{3, 300, 16}, v: []int{3, 300, 8}},
		{name: "causal", q: []int{2, 2, 130, 8}, k: []int{2, 2, 130, 8}, v: []int{2, 2, 130, 8}, causal: true},
		{name: "causal/L<S", q: []int{2, 70, 8}, k: []int{2, 200, 8}, v: []int{2, 200, 4}, causal: true},
		{name: "mask", q: []int{2, 2, 65, 8}, k: []int{2, 2, 140, 8}, v: []int{2, 2, 140, 8}, mask: []int{2, 1, 65, 140}},
		{name: "maskrow", q: []int{2, 40, 8}, k: []int{2, 40, 8}, v: []int{2, 40, 8}, mask: []int{40}, causal: true},
		{name: "dropout", q: []int{2, 70, 8}, k: []int{2, 150, 8}, v: []int{2, 150, 8}, dropout: 0.25, causal: true},
		{name: "broadcast", q: []int{3, 2, 20, 8}, k: []int{1, 2, 30, 8}, v: []int{3, 1, 30, 5}},
		{name: "transposed", q: []int{2, 70, 8}, k: []int{2, 140, 8}, v: []int{2, 140, 8}, transpose: true},
	}
	for _, c := range cases {
		for _, dt := range []nabla.DType{nabla.Float64, nabla.Float32} {
			t.Run(c.name+"/"+dt.String(), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(5, 6))
				mk := func(shape []int) *T {
					if !c.transpose {
						return nabla.RandN(rng, shape...).To(dt).Contiguous()
					}
					r := len(shape)
					s := append(append([]int(nil), shape[:r-2]...), shape[r-1], shape[r-2])
					return nabla.RandN(rng, s...).To(dt).Contiguous().Transpose(-2, -1)
				}
				q, k, v := mk(c.q), mk(c.k), mk(c.v)
				var mask *T
				if c.mask != nil {
					mask = nabla.RandN(rng, c.mask...).To(dt)
					d := mask.Float64s()
					for i := range d {
						if i%7 == 3 {
							d[i] = inf
						}
					}
					mask = nabla.FromSlice(d, c.mask...).To(dt)
				}
				outShape := append(append([]int(nil), c.q[:len(c.q)-1]...), c.v[len(c.v)-1])
				g := nabla.RandN(rng, outShape...).To(dt)
				run := func(f func(q, k, v *T, o nabla.AttentionOptions) *T) (*T, []*T) {
					lq, lk, lv := q.Detach().RequireGrad(), k.Detach().RequireGrad(), v.Detach().RequireGrad()
					o := nabla.AttentionOptions{Mask: mask, Causal: c.causal, Dropout: c.dropout, Rng: rand.New(rand.NewPCG(9, 9))}
					y := f(lq, lk, lv, o)
					return y, nabla.Gradients(y, []*T{lq, lk, lv}, nabla.WithUpstream(g))
				}
				y1, g1 := run(nabla.ScaledDotProductAttention)
				y2, g2 := run(nabla.AttentionComposed)
				tol := 1e-10
				if dt == nabla.Float32 {
					tol = 2e-4
				}
				if y1.Op() != "ScaledDotProductAttention" {
					t.Fatalf("output made by %q, not the fused op", y1.Op())
				}
				if d := maxRelDiff(y1, y2); d > tol {
					t.Errorf("output differs by %g", d)
				}
				for i, name := range []string{"q", "k", "v"} {
					if d := maxRelDiff(g1[i], g2[i]); d > tol {
						t.Errorf("d%s differs by %g", name, d)
					}
				}
			})
		}
	}
}

// maxRelDiff returns max |a-b| / (1 + max |b|) over the elements.
func maxRelDiff(a, b *T) float64 {
	x, y := a.Float64s(), b.Float64s()
	if len(x) != len(y) {
		return math.Inf(1)
	}
	var scale, d float64
	for i := range y {
		scale = max(scale, math.Abs(y[i]))
		if math.IsNaN(x[i]) != math.IsNaN(y[i]) {
			return math.Inf(1)
		}
		if !math.IsNaN(x[i]) {
			d = max(d, math.Abs(x[i]-y[i]))
		}
	}
	return d / (1 + scale)
}

// TestAttentionRecordedBackward checks that a recorded backward pass
// (CreateGraph) gives the fused pass's gradients.
func TestAttentionRecordedBackward(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	q := nabla.RandN(rng, 2, 9, 4).To(nabla.Float64).RequireGrad()
	k := nabla.RandN(rng, 2, 11, 4).To(nabla.Float64).RequireGrad()
	v := nabla.RandN(rng, 2, 11, 3).To(nabla.Float64).RequireGrad()
	f := func() *T {
		return nabla.ScaledDotProductAttention(q, k, v, nabla.AttentionOptions{Causal: true}).Square().Sum()
	}
	fused := nabla.Gradients(f(), []*T{q, k, v})
	ops := nabla.Gradients(f(), []*T{q, k, v}, nabla.CreateGraph())
	for i := range fused {
		if !ops[i].RequiresGrad() {
			t.Errorf("gradient %d of a recorded pass is not differentiable", i)
		}
		if d := maxRelDiff(fused[i], ops[i]); d > 1e-12 {
			t.Errorf("gradient %d: fused and op-built differ by %g", i, d)
		}
	}
}

// TestAttentionFullyMaskedRow: a query that sees no key gives NaN, as
// softmax over -Inf scores does in PyTorch, and the other rows are
// unaffected.
func TestAttentionFullyMaskedRow(t *testing.T) {
	inf := float32(math.Inf(-1))
	q := nabla.Ones(2, 2)
	k := nabla.Ones(3, 2)
	v := nabla.FromSlice([]float32{1, 2, 3}, 3, 1)
	m := nabla.FromSlice([]float32{inf, inf, inf, 0, 0, inf}, 2, 3)
	y := nabla.ScaledDotProductAttention(q, k, v, nabla.AttentionOptions{Mask: m}).Float64s()
	if !math.IsNaN(y[0]) || math.Abs(y[1]-1.5) > 1e-6 {
		t.Errorf("got %v, want [NaN 1.5]", y)
	}
}

func TestAttentionBadInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	q, k, v := nabla.RandN(rng, 2, 3, 4), nabla.RandN(rng, 2, 5, 4), nabla.RandN(rng, 2, 5, 6)
	cases := []struct {
		name    string
		f       func()
		wantErr string
	}{
		{"rank", func() { nabla.ScaledDotProductAttention(nabla.Ones(4), k, v, nabla.AttentionOptions{}) }, "same rank"},
		{"width", func() { nabla.ScaledDotProductAttention(nabla.Ones(2, 3, 3), k, v, nabla.AttentionOptions{}) }, "last dimension"},
		{"rows", func() { nabla.ScaledDotProductAttention(q, k, nabla.Ones(2, 4, 6), nabla.AttentionOptions{}) }, "v's rows"},
		{"batch", func() { nabla.ScaledDotProductAttention(q, nabla.Ones(3, 5, 4), v, nabla.AttentionOptions{}) }, "broadcast"},
		{"mask", func() { nabla.ScaledDotProductAttention(q, k, v, nabla.AttentionOptions{Mask: nabla.Ones(3, 4)}) }, "mask does not broadcast"},
		{"dropout", func() { nabla.ScaledDotProductAttention(q, k, v, nabla.AttentionOptions{Dropout: 1}) }, "outside [0, 1)"},
		{"rng", func() { nabla.ScaledDotProductAttention(q, k, v, nabla.AttentionOptions{Dropout: 0.1}) }, "needs an Rng"},
	}
	for _, c := range cases {
		err := nabla.Maybe(c.f)
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.wantErr)
		}
	}
}

// BenchmarkAttention times forward and backward of (32, 4, 128, 32)
// float32 attention (the W6 GPT's shape: batch 32, 4 heads, context 128,
// head width 32), causal, fused against composed of ops.
func BenchmarkAttention(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	q := nabla.RandN(rng, 32, 4, 128, 32).RequireGrad()
	k := nabla.RandN(rng, 32, 4, 128, 32).RequireGrad()
	v := nabla.RandN(rng, 32, 4, 128, 32).RequireGrad()
	for _, impl := range []struct {
		name string
		f    func(q, k, v *T, o nabla.AttentionOptions) *T
	}{{"fused", nabla.ScaledDotProductAttention}, {"composed", nabla.AttentionComposed}} {
		for _, causal := range []bool{false, true} {
			name := impl.name
			if causal {
				name += "/causal"
			}
			b.Run(name+"/forward", func(b *testing.B) {
				for range b.N {
					nabla.NoGrad(func() { impl.f(q, k, v, nabla.AttentionOptions{Causal: causal}) }, q, k, v)
				}
			})
			b.Run(name+"/forward+backward", func(b *testing.B) {
				for range b.N {
					impl.f(q, k, v, nabla.AttentionOptions{Causal: causal}).Sum().Backward()
					q.ZeroGrad()
					k.ZeroGrad()
					v.ZeroGrad()
				}
			})
		}
	}
}

// TestAttentionNoKeys: with no keys the output is zeros and so are the
// gradients, as PyTorch's softmax over an empty axis times an empty v.
func TestAttentionNoKeys(t *testing.T) {
	q := nabla.Ones(2, 3, 4).RequireGrad()
	k := nabla.Zeros(2, 0, 4).RequireGrad()
	v := nabla.Zeros(2, 0, 5).RequireGrad()
	y := nabla.ScaledDotProductAttention(q, k, v, nabla.AttentionOptions{})
	if !slices.Equal(y.Shape(), []int{2, 3, 5}) {
		t.Fatalf("shape %v", y.Shape())
	}
	for _, x := range y.Float64s() {
		if x != 0 {
			t.Fatalf("output %v, want zeros", y.Float64s())
		}
	}
	y.Sum().Backward()
	for _, x := range q.Grad().Float64s() {
		if x != 0 {
			t.Fatalf("dq %v, want zeros", q.Grad().Float64s())
		}
	}
}

// TestAttentionBoolMask: a Bool mask (true where a query may see a key,
// as PyTorch 2's) gives what the float mask of 0 and -Inf gives, through
// the fused op and the composed one; half-precision inputs compute in
// float32.
func TestAttentionBoolMask(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	q, k, v := nabla.RandN(rng, 2, 2, 5, 4), nabla.RandN(rng, 2, 2, 6, 4), nabla.RandN(rng, 2, 2, 6, 3)
	keep := make([]bool, 5*6)
	fm := make([]float32, 5*6)
	for i := range keep {
		keep[i] = i%4 != 1
		if !keep[i] {
			fm[i] = float32(math.Inf(-1))
		}
	}
	bm := nabla.FromSlice(keep, 5, 6)
	want := nabla.ScaledDotProductAttention(q, k, v, nabla.AttentionOptions{Mask: nabla.FromSlice(fm, 5, 6)})
	for name, got := range map[string]*T{
		"fused":    nabla.ScaledDotProductAttention(q, k, v, nabla.AttentionOptions{Mask: bm}),
		"composed": nabla.AttentionComposed(q, k, v, nabla.AttentionOptions{Mask: bm}),
	} {
		if d := maxRelDiff(got, want); d > 1e-6 {
			t.Errorf("%s: Bool mask differs from the float one by %g", name, d)
		}
	}
	half := nabla.ScaledDotProductAttention(q.To(nabla.Float16), k.To(nabla.Float16), v.To(nabla.Float16), nabla.AttentionOptions{})
	if half.DType() != nabla.Float16 {
		t.Errorf("Float16 inputs gave %v", half.DType())
	}
	if d := maxRelDiff(half.To(nabla.Float32), nabla.ScaledDotProductAttention(q, k, v, nabla.AttentionOptions{})); d > 2e-3 {
		t.Errorf("Float16 result differs by %g", d)
	}
	for name, f := range map[string]func(){
		"int mask": func() {
			nabla.ScaledDotProductAttention(q, k, v, nabla.AttentionOptions{Mask: nabla.FromSlice([]int64{0, 1, 0, 1, 0, 1}, 6)})
		},
		"int inputs": func() {
			nabla.ScaledDotProductAttention(q.To(nabla.Int64), k.To(nabla.Int64), v.To(nabla.Int64), nabla.AttentionOptions{})
		},
	} {
		if err := nabla.Maybe(f); err == nil || !strings.Contains(err.Error(), "want") && !strings.Contains(err.Error(), "needs floats") {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

// TestSelfAttentionPackedMatchesSplit compares SelfAttentionPacked,
// forward and backward, with ScaledDotProductAttention on the heads split
// from qkv by views and joined back, on sizes that take several query and
// key blocks, with causality, dropout and masks, in both dtypes, and
// through a recorded backward pass.
func TestSelfAttentionPackedMatchesSplit(t *testing.T) {
	cases := []struct {
		name          string
		n, l, heads   int
		d             int
		causal        bool
		dropout       float64
		mask          []int
		recorded, odd bool
	}{
		{name: "gpt", n: 2, l: 130, heads: 4, d: 8, causal: true},
		{name: "plain", n: 3, l: 20, heads: 2, d: 5},
		{name: "dropout", n: 2, l: 70, heads: 2, d: 4, causal: true, dropout: 0.2},
		{name: "mask", n: 2, l: 33, heads: 3, d: 4, mask: []int{2, 1, 1, 33}},
		{name: "recorded", n: 2, l: 9, heads: 2, d: 3, causal: true, recorded: true},
		{name: "view", n: 2, l: 17, heads: 2, d: 4, odd: true},
	}
	for _, c := range cases {
		for _, dt := range []nabla.DType{nabla.Float64, nabla.Float32} {
			t.Run(c.name+"/"+dt.String(), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(7, 8))
				E := c.heads * c.d
				qkv := nabla.RandN(rng, c.n, c.l, 3*E).To(dt)
				if c.odd { // a non-contiguous qkv: the transpose of a (3E, L) layout
					qkv = nabla.RandN(rng, c.n, 3*E, c.l).To(dt).Contiguous().Transpose(1, 2)
				}
				var mask *T
				if c.mask != nil {
					d := nabla.RandN(rng, c.mask...).Float64s()
					for i := range d {
						if i%5 == 2 {
							d[i] = math.Inf(-1)
						}
					}
					mask = nabla.FromSlice(d, c.mask...).To(dt)
				}
				g := nabla.RandN(rng, c.n, c.l, E).To(dt)
				opts := func() nabla.AttentionOptions {
					return nabla.AttentionOptions{Mask: mask, Causal: c.causal, Dropout: c.dropout, Rng: rand.New(rand.NewPCG(9, 9))}
				}
				split := func(x *T) *T { return x.Reshape(c.n, c.l, c.heads, c.d).Permute(0, 2, 1, 3) }
				run := func(f func(x *T) *T) (*T, *T) {
					x := qkv.Detach().RequireGrad()
					y := f(x)
					var gs []*T
					if c.recorded {
						gs = nabla.Gradients(y, []*T{x}, nabla.WithUpstream(g), nabla.CreateGraph())
					} else {
						gs = nabla.Gradients(y, []*T{x}, nabla.WithUpstream(g))
					}
					return y, gs[0]
				}
				y1, g1 := run(func(x *T) *T { return nabla.SelfAttentionPacked(x, c.heads, opts()) })
				y2, g2 := run(func(x *T) *T {
					p := x.Split(2, E, E, E)
					o := nabla.ScaledDotProductAttention(split(p[0]), split(p[1]), split(p[2]), opts())
					return o.Permute(0, 2, 1, 3).Reshape(c.n, c.l, E)
				})
				tol := 1e-10
				if dt == nabla.Float32 {
					tol = 2e-5
				}
				if y1.Op() != "SelfAttentionPacked" {
					t.Fatalf("output made by %q", y1.Op())
				}
				if d := maxRelDiff(y1, y2); d > tol {
					t.Errorf("output differs by %g", d)
				}
				if d := maxRelDiff(g1, g2); d > tol {
					t.Errorf("dqkv differs by %g", d)
				}
			})
		}
	}
}

// TestSelfAttentionPackedBadInput checks the errors for bad shapes.
func TestSelfAttentionPackedBadInput(t *testing.T) {
	for _, c := range []struct {
		name string
		f    func()
		want string
	}{
		{"rank", func() { nabla.SelfAttentionPacked(nabla.Zeros(4, 12), 2, nabla.AttentionOptions{}) }, "want qkv (N, L, 3E)"},
		{"width", func() { nabla.SelfAttentionPacked(nabla.Zeros(1, 4, 10), 2, nabla.AttentionOptions{}) }, "multiple of heads"},
		{"mask", func() {
			nabla.SelfAttentionPacked(nabla.Zeros(1, 4, 12), 2, nabla.AttentionOptions{Mask: nabla.Zeros(3, 4)})
		}, "mask does not broadcast"},
		{"dropout", func() { nabla.SelfAttentionPacked(nabla.Zeros(1, 4, 12), 2, nabla.AttentionOptions{Dropout: 0.5}) }, "needs an Rng"},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatal("no panic")
				}
				if err, ok := r.(error); !ok || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("panic %v, want one containing %q", r, c.want)
				}
			}()
			c.f()
		})
	}
}

// TestLinearMatchesMatMul compares Linear with x.MatMul(w.T()).Add(b),
// forward and backward, on a batch of sequences, with and without bias.
func TestLinearMatchesMatMul(t *testing.T) {
	for _, dt := range []nabla.DType{nabla.Float64, nabla.Float32} {
		for _, bias := range []bool{true, false} {
			rng := rand.New(rand.NewPCG(1, 3))
			x0, w0, b0 := nabla.RandN(rng, 3, 70, 33).To(dt), nabla.RandN(rng, 50, 33).To(dt), nabla.RandN(rng, 50).To(dt)
			g := nabla.RandN(rng, 3, 70, 50).To(dt)
			run := func(f func(x, w, b *T) *T) (*T, []*T) {
				x, w := x0.Detach().RequireGrad(), w0.Detach().RequireGrad()
				var b *T
				ps := []*T{x, w}
				if bias {
					b = b0.Detach().RequireGrad()
					ps = append(ps, b)
				}
				y := f(x, w, b)
				return y, nabla.Gradients(y, ps, nabla.WithUpstream(g))
			}
			y1, g1 := run(nabla.Linear)
			y2, g2 := run(func(x, w, b *T) *T {
				y := x.MatMul(w.T())
				if b != nil {
					y = y.Add(b)
				}
				return y
			})
			tol := 1e-12
			if dt == nabla.Float32 {
				tol = 1e-5
			}
			if d := maxRelDiff(y1, y2); d > tol {
				t.Errorf("%v bias=%v: output differs by %g", dt, bias, d)
			}
			for i := range g1 {
				if d := maxRelDiff(g1[i], g2[i]); d > tol {
					t.Errorf("%v bias=%v: gradient %d differs by %g", dt, bias, i, d)
				}
			}
		}
	}
}
