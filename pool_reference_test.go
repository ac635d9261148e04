package nabla_test

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/nabla-go/nabla"
)

// testdata/pool_reference.json comes from
// bench/reference/make_pool_reference.py, which runs PyTorch's
// max_pool2d and avg_pool2d (float64) over a table of options with a
// fixed input and upstream gradient. The tensors are stored as in
// nn/testdata: {"shape": [...], "data": [...]}.

type poolRefTensor struct {
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

func (r poolRefTensor) tensor(dt nabla.DType) *nabla.Tensor {
	return nabla.FromSlice(r.Data, r.Shape...).To(dt).Contiguous()
}

type poolRefCase struct {
	Name            string        `json:"name"`
	Op              string        `json:"op"` // "max" or "avg"
	Kernel          [2]int        `json:"kernel"`
	Stride          *[2]int       `json:"stride"` // null: PyTorch's default, the kernel size
	Padding         [2]int        `json:"padding"`
	Dilation        [2]int        `json:"dilation"`
	CeilMode        bool          `json:"ceil_mode"`
	CountIncludePad bool          `json:"count_include_pad"`
	DivisorOverride int           `json:"divisor_override"`
	Input           poolRefTensor `json:"input"`
	Upstream        poolRefTensor `json:"upstream"`
	Output          poolRefTensor `json:"output"`
	Grad            poolRefTensor `json:"grad"`
}

// options returns the case's PyTorch arguments as PoolOptions, leaving
// the defaults at their zero values.
func (c poolRefCase) options() nabla.PoolOptions {
	o := nabla.PoolOptions{Padding: c.Padding, CeilMode: c.CeilMode}
	if c.Stride != nil {
		o.Stride = *c.Stride
	}
	if c.Dilation != [2]int{1, 1} {
		o.Dilation = c.Dilation
	}
	if c.Op == "avg" {
		o.ExcludePad = !c.CountIncludePad
		o.DivisorOverride = c.DivisorOverride
	}
	return o
}

func (c poolRefCase) pool(x *nabla.Tensor) *nabla.Tensor {
	if c.Op == "max" {
		return nabla.MaxPool2d(x, c.Kernel, c.options())
	}
	return nabla.AvgPool2d(x, c.Kernel, c.options())
}

func loadPoolCases(t *testing.T) []poolRefCase {
	t.Helper()
	b, err := os.ReadFile("testdata/pool_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Torch string        `json:"torch"`
		Cases []poolRefCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("testdata/pool_reference.json: %v", err)
	}
	if len(doc.Cases) < 40 {
		t.Fatalf("testdata/pool_reference.json holds %d cases; want the full table", len(doc.Cases))
	}
	return doc.Cases
}

// closeTo compares got with want element by element, to within tol
// relative to 1 + |want|, after checking the shapes.
func closeTo(t *testing.T, what string, got *nabla.Tensor, want poolRefTensor, tol float64) {
	t.Helper()
	if !slices.Equal(got.Shape(), want.Shape) {
		t.Fatalf("%s: shape %v; PyTorch %v", what, got.Shape(), want.Shape)
	}
	g := got.Float64s()
	for i, w := range want.Data {
		if math.Abs(g[i]-w) > tol*(1+math.Abs(w)) || math.IsNaN(g[i]) {
			t.Fatalf("%s[%d] = %v; PyTorch %v", what, i, g[i], w)
		}
	}
}

// TestPoolReference checks MaxPool2d and AvgPool2d, outputs and input
// gradients, against PyTorch: in float64 to 1e-12, and in float32 in an
// arena (the fast 2×2 path's float32 loop, indices in arena memory) to
// 1e-5.
func TestPoolReference(t *testing.T) {
	for _, c := range loadPoolCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			for _, dt := range []nabla.DType{nabla.Float64, nabla.Float32} {
				tol := 1e-12
				x := c.Input.tensor(dt).RequireGrad()
				in := x
				if dt == nabla.Float32 {
					tol = 1e-5
					in = x.InArena(nabla.NewArena())
				}
				y := c.pool(in)
				closeTo(t, dt.String()+" output", y, c.Output, tol)
				y.Backward(nabla.WithUpstream(c.Upstream.tensor(dt)))
				closeTo(t, dt.String()+" input gradient", x.Grad(), c.Grad, tol)
			}
		})
	}
}
