package nn_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
)

// block is a user-written module: a struct of layers that lists them once
// in Children and gets Params, buffers, modes and dtype changes from nn.
type block struct {
	Conv *nn.Conv2d
	Norm *nn.BatchNorm2d
	Drop *nn.Dropout
	Head *nn.Sequential
}

func (b *block) Children() []nn.Child {
	return []nn.Child{{Name: "conv", Module: b.Conv}, {Name: "bn", Module: b.Norm}, {Name: "drop", Module: b.Drop}, {Name: "head", Module: b.Head}}
}

func (b *block) Params() []nn.Param { return nn.Collect(b.Children()...) }

func (b *block) Forward(x *T) *T {
	x = b.Drop.Forward(b.Norm.Forward(b.Conv.Forward(x)).Relu())
	return b.Head.Forward(x)
}

func newBlock(rng *rand.Rand) *block {
	return &block{
		Conv: nn.NewConv2d(rng, 1, 2, [2]int{3, 3}, nabla.ConvOptions{Padding: [2]int{1, 1}}),
		Norm: nn.NewBatchNorm2d(2),
		Drop: nn.NewDropout(rng, 0.5),
		Head: nn.NewSequential(nn.NewFlatten(), nn.NewLinear(rng, 2*4*4, 3), nn.NewBatchNorm1d(3)),
	}
}

func names(ps []nn.Param) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

func TestNames(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	seq := nn.NewSequential(nn.NewLinear(rng, 4, 8), nn.ReLU{}, nn.NewLinear(rng, 8, 2))
	b := newBlock(rng)
	for _, tt := range []struct {
		name string
		got  []string
		want []string
	}{
		{"Sequential params", names(seq.Params()), []string{"0.weight", "0.bias", "2.weight", "2.bias"}},
		{"Sequential buffers", names(nn.Buffers(seq)), []string{}},
		{"Named", names(nn.Named("encoder", seq)), []string{"encoder.0.weight", "encoder.0.bias", "encoder.2.weight", "encoder.2.bias"}},
		{"struct params", names(b.Params()), []string{"conv.weight", "conv.bias", "bn.weight", "bn.bias", "head.1.weight", "head.1.bias", "head.2.weight", "head.2.bias"}},
		{"struct buffers", names(nn.Buffers(b)), []string{
			"bn.running_mean", "bn.running_var", "bn.num_batches_tracked",
			"head.2.running_mean", "head.2.running_var", "head.2.num_batches_tracked"}},
	} {
		if !slices.Equal(tt.got, tt.want) && !(len(tt.got) == 0 && len(tt.want) == 0) {
			t.Errorf("%s: got %q; want %q", tt.name, tt.got, tt.want)
		}
	}
	if got, want := nn.NumParams(seq), 4*8+8+8*2+2; got != want {
		t.Errorf("NumParams: got %d; want %d", got, want)
	}
	if got, want := nn.NumParams(b), 2*9+2+2+2+32*3+3+3+3; got != want {
		t.Errorf("NumParams(struct): got %d; want %d", got, want)
	}
}

func TestSetTrainingRecurses(t *testing.T) {
	b := newBlock(rand.New(rand.NewPCG(1, 2)))
	bn1 := b.Head.Layers[2].(*nn.BatchNorm1d)
	for _, on := range []bool{false, true, false} {
		nn.SetTraining(b, on)
		if b.Norm.Training != on || b.Drop.Training != on || bn1.Training != on {
			t.Errorf("SetTraining(%v): got BatchNorm2d %v, Dropout %v, nested BatchNorm1d %v; want all %v",
				on, b.Norm.Training, b.Drop.Training, bn1.Training, on)
		}
	}
	// In evaluation mode the output is deterministic and the buffers stay put.
	x := nabla.RandN(rand.New(rand.NewPCG(3, 3)), 2, 1, 4, 4)
	y1, y2 := b.Forward(x).Float32s(), b.Forward(x).Float32s()
	if !slices.Equal(y1, y2) {
		t.Errorf("eval mode: got %v then %v; want equal outputs", y1, y2)
	}
	if got := b.Norm.NumBatchesTracked.Item(); got != 0 {
		t.Errorf("eval mode: num_batches_tracked got %v; want 0", got)
	}
	nn.SetTraining(b, true)
	b.Forward(x)
	b.Forward(x)
	if got := b.Norm.NumBatchesTracked.Item(); got != 2 {
		t.Errorf("train mode: num_batches_tracked got %v; want 2", got)
	}
}

func TestToAndSetParam(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	b := newBlock(rng)
	before := b.Head.Layers[1].(*nn.Linear).Weight.Float64s()
	nn.To(b, nabla.Float64)
	for _, p := range append(b.Params(), nn.Buffers(b)...) {
		if p.Tensor.DType() != nabla.Float64 {
			t.Errorf("%s: got %v; want float64", p.Name, p.Tensor.DType())
		}
	}
	for _, p := range b.Params() {
		if !p.Tensor.RequiresGrad() {
			t.Errorf("%s: converted parameter does not require gradients", p.Name)
		}
	}
	if got := b.Head.Layers[1].(*nn.Linear).Weight.Float64s(); !slices.Equal(got, before) {
		t.Errorf("To changed the values: got %v; want %v", got[:3], before[:3])
	}
	nn.SetTraining(b, false)
	y := b.Forward(nabla.Ones(1, 1, 4, 4).To(nabla.Float64))
	if y.DType() != nabla.Float64 {
		t.Errorf("forward in float64: got %v", y.DType())
	}

	w := nabla.Full(0.5, 3).RequireGrad()
	nn.SetParam(b, "head.2.bias", w)
	if got := b.Head.Layers[2].(*nn.BatchNorm1d).Bias; got != w {
		t.Errorf("SetParam(head.2.bias): got %v; want the new tensor", got)
	}
}

func TestZeroGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	seq := nn.NewSequential(nn.NewLinear(rng, 3, 2), nn.Tanh{})
	seq.Forward(nabla.Ones(4, 3)).Sum().Backward()
	for _, p := range seq.Params() {
		if p.Tensor.Grad() == nil {
			t.Fatalf("%s: no gradient after Backward", p.Name)
		}
	}
	nn.ZeroGrad(seq)
	for _, p := range seq.Params() {
		if g := p.Tensor.Grad(); g != nil && slices.ContainsFunc(g.Float64s(), func(v float64) bool { return v != 0 }) {
			t.Errorf("%s: got gradient %v after ZeroGrad; want none or zeros", p.Name, g)
		}
	}
}

func TestDropoutTraining(t *testing.T) {
	d := nn.NewDropout(rand.New(rand.NewPCG(4, 4)), 0.25)
	x := nabla.Ones(200, 100)
	y := d.Forward(x).Float32s()
	zeros := 0
	for _, v := range y {
		switch v {
		case 0:
			zeros++
		case 1 / 0.75:
		default:
			t.Fatalf("got element %v; want 0 or %v", v, 1/0.75)
		}
	}
	if frac := float64(zeros) / float64(len(y)); frac < 0.24 || frac > 0.26 {
		t.Errorf("got %.3f of elements zeroed; want about 0.25", frac)
	}
	d.SetTraining(false)
	if got := d.Forward(x); got != x {
		t.Error("eval mode: got a new tensor; want the input itself")
	}
	d.SetTraining(true)
	d.P = 1
	for _, v := range d.Forward(x).Float32s() {
		if v != 0 {
			t.Fatalf("p=1: got %v; want all zeros", v)
		}
	}
}

func TestAccuracy(t *testing.T) {
	logits := nabla.FromSlice([]float32{0.1, 0.9, 0, 2, -1, 0.5, 0.3, 0.2, 0.1, 0, 0, 1}, 4, 3)
	for _, tt := range []struct {
		name   string
		labels *T
		want   float64
	}{
		{"indices", nabla.FromSlice([]int64{1, 0, 0, 1}), 0.75},
		{"one-hot", nabla.OneHot(nabla.FromSlice([]int64{1, 0, 2, 2}), 3), 0.75},
		{"none right", nabla.FromSlice([]int64{0, 1, 1, 0}), 0},
	} {
		if got := nn.Accuracy(logits, tt.labels); got != tt.want {
			t.Errorf("%s: got %v; want %v", tt.name, got, tt.want)
		}
	}
}

// Every layer satisfies the interfaces its behaviour calls for.
var (
	_ nn.Module    = (*nn.Linear)(nil)
	_ nn.Module    = (*nn.Conv2d)(nil)
	_ nn.Module    = (*nn.MaxPool2d)(nil)
	_ nn.Module    = (*nn.AvgPool2d)(nil)
	_ nn.Module    = (*nn.AdaptiveAvgPool2d)(nil)
	_ nn.Module    = (*nn.Flatten)(nil)
	_ nn.Module    = nn.ReLU{}
	_ nn.Module    = nn.LeakyReLU{}
	_ nn.Module    = nn.GELU{}
	_ nn.Module    = nn.Sigmoid{}
	_ nn.Module    = nn.Tanh{}
	_ nn.Module    = nn.Softplus{}
	_ nn.Module    = nn.Softmax{}
	_ nn.Module    = nn.LogSoftmax{}
	_ nn.Module    = nn.Identity{}
	_ nn.Parent    = (*nn.Sequential)(nil)
	_ nn.Buffered  = (*nn.Sequential)(nil)
	_ nn.Trainable = (*nn.Sequential)(nil)
	_ nn.Trainable = (*nn.Dropout)(nil)

	_ interface {
		nn.ParamSetter
		nn.Module
	} = (*nn.Linear)(nil)
	_ nn.ParamSetter = (*nn.Conv2d)(nil)
	_ nn.ParamSetter = (*nn.Embedding)(nil)
	_ nn.ParamSetter = (*nn.LayerNorm)(nil)

	_ interface {
		nn.Module
		nn.Buffered
		nn.Trainable
		nn.ParamSetter
	} = (*nn.BatchNorm1d)(nil)
	_ interface {
		nn.Module
		nn.Buffered
		nn.Trainable
		nn.ParamSetter
	} = (*nn.BatchNorm2d)(nil)
)

func TestNoGrad(t *testing.T) {
	m := nn.NewSequential(nn.NewLinear(rand.New(rand.NewPCG(1, 1)), 3, 2))
	x := nabla.Ones(4, 3)
	var y *nabla.Tensor
	nn.NoGrad(m, func() { y = m.Forward(x) })
	if y.RequiresGrad() {
		t.Error("output under NoGrad requires grad")
	}
	if !m.Forward(x).RequiresGrad() {
		t.Error("NoGrad did not restore gradient tracking")
	}
	if got := len(nn.Leaves(m)); got != 2 {
		t.Errorf("Leaves = %d tensors; want 2", got)
	}
}
