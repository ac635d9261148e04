package nabla_test

import (
	"math"
	"slices"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
)

// TestPoolBadOptions checks that MaxPool2d and AvgPool2d reject what
// PyTorch rejects, with an error naming the op and the values at fault:
// a *ShapeError for the geometry, a *ValueError for an option the op does
// not take.
func TestPoolBadOptions(t *testing.T) {
	x := nabla.Zeros(1, 2, 5, 5)
	small := nabla.Zeros(1, 1, 2, 2)
	k2, k3 := [2]int{2, 2}, [2]int{3, 3}
	type O = nabla.PoolOptions
	for _, tt := range []struct {
		name  string
		f     func()
		shape bool // *ShapeError, else *ValueError
		want  []string
	}{
		{"max rank", func() { nabla.MaxPool2d(nabla.Zeros(4, 4), k2, O{}) }, true, []string{"MaxPool2d", "[4 4]", "4-d"}},
		{"max kernel 0", func() { nabla.MaxPool2d(x, [2]int{0, 2}, O{}) }, true, []string{"MaxPool2d", "kernel [0 2]", "positive"}},
		{"max negative stride", func() { nabla.MaxPool2d(x, k2, O{Stride: [2]int{-1, 2}}) }, true, []string{"MaxPool2d", "stride [-1 2]", "positive"}},
		{"max one zero stride", func() { nabla.MaxPool2d(x, k2, O{Stride: [2]int{2, 0}}) }, true, []string{"MaxPool2d", "stride [2 0]"}},
		{"max dilation 0", func() { nabla.MaxPool2d(x, k2, O{Dilation: [2]int{0, 1}}) }, true, []string{"MaxPool2d", "dilation [0 1]", "positive"}},
		{"max negative dilation", func() { nabla.MaxPool2d(x, k2, O{Dilation: [2]int{2, -2}}) }, true, []string{"MaxPool2d", "dilation [2 -2]"}},
		{"max negative padding", func() { nabla.MaxPool2d(x, k2, O{Padding: [2]int{-1, 0}}) }, true, []string{"MaxPool2d", "padding [-1 0]", "negative"}},
		{"max padding too large", func() { nabla.MaxPool2d(x, [2]int{2, 3}, O{Padding: [2]int{1, 2}}) }, true,
			[]string{"MaxPool2d", "padding [1 2]", "half the kernel [2 3]"}},
		// PyTorch compares the padding with the kernel size, not with
		// its dilated span.
		{"max padding too large dilated", func() { nabla.MaxPool2d(x, k2, O{Padding: [2]int{2, 2}, Dilation: [2]int{3, 3}}) }, true,
			[]string{"MaxPool2d", "padding [2 2]", "half the kernel [2 2]"}},
		{"max output 0", func() { nabla.MaxPool2d(small, k3, O{Stride: [2]int{1, 1}}) }, true,
			[]string{"MaxPool2d", "[1 1 2 2]", "kernel [3 3]", "stride [1 1]", "output of 0x0", "too small"}},
		{"max output 0 dilated", func() { nabla.MaxPool2d(x, k3, O{Dilation: [2]int{1, 3}}) }, true,
			[]string{"MaxPool2d", "dilation [1 3]", "output of 1x0"}},
		// Ceil mode keeps a window that starts in the input, but not
		// one too wide to fit even when rounding up.
		{"max output 0 ceil", func() { nabla.MaxPool2d(small, k3, O{Stride: [2]int{1, 1}, CeilMode: true}) }, true,
			[]string{"MaxPool2d", "ceil mode true", "output of 0x0"}},
		{"max exclude pad", func() { nabla.MaxPool2d(x, k2, O{ExcludePad: true}) }, false, []string{"MaxPool2d", "ExcludePad", "average pooling"}},
		{"max divisor", func() { nabla.MaxPool2d(x, k2, O{DivisorOverride: 3}) }, false, []string{"MaxPool2d", "DivisorOverride (3)"}},
		{"avg rank", func() { nabla.AvgPool2d(nabla.Zeros(2, 5, 5), k2, O{}) }, true, []string{"AvgPool2d", "[2 5 5]", "4-d"}},
		{"avg negative stride", func() { nabla.AvgPool2d(x, k2, O{Stride: [2]int{1, -1}}) }, true, []string{"AvgPool2d", "stride [1 -1]"}},
		{"avg negative padding", func() { nabla.AvgPool2d(x, k2, O{Padding: [2]int{0, -1}}) }, true, []string{"AvgPool2d", "padding [0 -1]"}},
		{"avg padding too large", func() { nabla.AvgPool2d(x, k3, O{Padding: [2]int{2, 1}}) }, true,
			[]string{"AvgPool2d", "padding [2 1]", "half the kernel [3 3]"}},
		{"avg output 0", func() { nabla.AvgPool2d(small, [2]int{2, 4}, O{}) }, true, []string{"AvgPool2d", "kernel [2 4]", "output of 1x0"}},
		{"avg dilation", func() { nabla.AvgPool2d(x, k2, O{Dilation: [2]int{2, 2}}) }, false, []string{"AvgPool2d", "dilation [2 2]"}},
		{"layer too small", func() { (&nn.MaxPool2d{Kernel: k3, Options: O{Dilation: [2]int{3, 3}}}).Forward(x) }, true,
			[]string{"MaxPool2d(kernel [3 3], stride [3 3], padding [0 0], dilation [3 3])", "height 5", "span 7"}},
		{"layer bad stride", func() { (&nn.AvgPool2d{Kernel: k2, Options: O{Stride: [2]int{0, -1}}}).Forward(x) }, true,
			[]string{"AvgPool2d", "stride [0 -1]"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.shape {
				wantPanic[*nabla.ShapeError](t, tt.f, tt.want...)
			} else {
				wantPanic[*nabla.ValueError](t, tt.f, tt.want...)
			}
		})
	}
}

// TestMaxPoolHoles checks dilated windows whose taps all miss the input,
// as a 2-high input with a 2-tap kernel of dilation 3 and padding 1 gives
// (taps at rows -1 and 2): the output is -Inf, as in PyTorch, and no
// gradient flows, to first or second order.
func TestMaxPoolHoles(t *testing.T) {
	opt := nabla.PoolOptions{Stride: [2]int{1, 1}, Padding: [2]int{1, 1}, Dilation: [2]int{3, 3}}
	for _, dt := range []nabla.DType{nabla.Float64, nabla.Float32} {
		x := nabla.Arange(0, 12, 1).Reshape(2, 1, 2, 3).To(dt).Detach().RequireGrad()
		y := nabla.MaxPool2d(x, [2]int{2, 2}, opt)
		if got := y.Shape(); !slices.Equal(got, []int{2, 1, 1, 2}) {
			t.Fatalf("%v: shape %v; want [2 1 1 2]", dt, got)
		}
		for i, v := range y.Float64s() {
			if !math.IsInf(v, -1) {
				t.Fatalf("%v: out[%d] = %v; want -Inf", dt, i, v)
			}
		}
		u := nabla.Ones(2, 1, 1, 2).To(dt).RequireGrad()
		g := nabla.Gradients(y.Mul(u).Sum(), []*nabla.Tensor{x}, nabla.CreateGraph())[0]
		wantValues(t, dt.String()+" gradient", g, make([]float64, 12)...)
		// The gradient's gradient with respect to the upstream runs the
		// gather by the indices, which skips the holes.
		gu := nabla.Gradients(g.Mul(x).Sum(), []*nabla.Tensor{u})[0]
		wantValues(t, dt.String()+" second order", gu, 0, 0, 0, 0)
	}
}

// TestPoolLayers checks that the nn layers pass their options on, and
// that their descriptions name the non-default options as PyTorch does.
func TestPoolLayers(t *testing.T) {
	x := nabla.Arange(0, 2*5*7, 1).Reshape(1, 2, 5, 7)
	tiny := x.Slice(2, 0, 2, 1).Slice(3, 0, 2, 1) // 2×2
	type O = nabla.PoolOptions
	for _, tt := range []struct {
		m interface {
			Forward(*nabla.Tensor) *nabla.Tensor
		}
		max    bool
		x      *nabla.Tensor
		kernel [2]int
		opt    O
		want   string
	}{
		{nn.NewMaxPool2d([2]int{2, 2}, [2]int{}, [2]int{}), true, x, [2]int{2, 2}, O{},
			"MaxPool2d(kernel [2 2], stride [2 2], padding [0 0])"},
		{&nn.MaxPool2d{Kernel: [2]int{3, 2}, Options: O{Stride: [2]int{2, 1}, Padding: [2]int{1, 1}, Dilation: [2]int{1, 2}, CeilMode: true}},
			true, x, [2]int{3, 2}, O{Stride: [2]int{2, 1}, Padding: [2]int{1, 1}, Dilation: [2]int{1, 2}, CeilMode: true},
			"MaxPool2d(kernel [3 2], stride [2 1], padding [1 1], dilation [1 2], ceil_mode true)"},
		{nn.NewAvgPool2d([2]int{3, 3}, [2]int{2, 2}, [2]int{1, 1}), false, x, [2]int{3, 3}, O{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}},
			"AvgPool2d(kernel [3 3], stride [2 2], padding [1 1])"},
		{&nn.AvgPool2d{Kernel: [2]int{3, 3}, Options: O{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, CeilMode: true, ExcludePad: true, DivisorOverride: 3}},
			false, x, [2]int{3, 3}, O{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, CeilMode: true, ExcludePad: true, DivisorOverride: 3},
			"AvgPool2d(kernel [3 3], stride [2 2], padding [1 1], ceil_mode true, count_include_pad false, divisor_override 3)"},
		// Ceil mode: one window from a kernel larger than the input,
		// which the layer's own checks must let through.
		{&nn.AvgPool2d{Kernel: [2]int{3, 3}, Options: O{Stride: [2]int{2, 2}, CeilMode: true}}, false, tiny, [2]int{3, 3}, O{Stride: [2]int{2, 2}, CeilMode: true},
			"AvgPool2d(kernel [3 3], stride [2 2], padding [0 0], ceil_mode true)"},
	} {
		if got := tt.m.(interface{ String() string }).String(); got != tt.want {
			t.Errorf("String() = %q; want %q", got, tt.want)
		}
		want := nabla.AvgPool2d
		if tt.max {
			want = nabla.MaxPool2d
		}
		wantValues(t, tt.want, tt.m.Forward(tt.x), want(tt.x, tt.kernel, tt.opt).Float64s()...)
	}
}
