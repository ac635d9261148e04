package nn_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
)

// ConvNet is a user-written model: a plain struct of layers. Children lists
// them once; everything else (parameters, buffers, training mode, dtype)
// follows from it.
type ConvNet struct {
	Conv *nn.Conv2d
	Norm *nn.BatchNorm2d
	Pool *nn.AdaptiveAvgPool2d
	Head *nn.Linear
}

func NewConvNet(rng *rand.Rand, classes int) *ConvNet {
	return &ConvNet{
		Conv: nn.NewConv2d(rng, 1, 4, [2]int{3, 3}, nabla.ConvOptions{Padding: [2]int{1, 1}}),
		Norm: nn.NewBatchNorm2d(4),
		Pool: nn.NewAdaptiveAvgPool2d(1, 1),
		Head: nn.NewLinear(rng, 4, classes),
	}
}

func (m *ConvNet) Children() []nn.Child {
	return []nn.Child{{Name: "conv", Module: m.Conv}, {Name: "bn", Module: m.Norm}, {Name: "pool", Module: m.Pool}, {Name: "fc", Module: m.Head}}
}

func (m *ConvNet) Params() []nn.Param { return nn.Collect(m.Children()...) }

func (m *ConvNet) Forward(x *nabla.Tensor) *nabla.Tensor {
	x = m.Norm.Forward(m.Conv.Forward(x)).Relu()
	x = m.Pool.Forward(x).Flatten(1, -1)
	return m.Head.Forward(x)
}

// A model is a plain struct of layers with Children, Params and Forward
// methods; nn.Collect, nn.Buffers, nn.SetTraining, nn.NumParams, nn.To and
// nn.SetParam work on it through Children.
func Example_customModel() {
	rng := rand.New(rand.NewPCG(1, 2))
	model := NewConvNet(rng, 3)
	for _, p := range model.Params() {
		fmt.Println(p.Name, p.Tensor.Shape())
	}
	for _, b := range nn.Buffers(model) {
		fmt.Println(b.Name, b.Tensor.Shape())
	}
	fmt.Println("parameters:", nn.NumParams(model))

	x := nabla.RandN(rng, 8, 1, 6, 6) // a batch of 8 one-channel 6×6 images
	logits := model.Forward(x)
	fmt.Println("logits:", logits.Shape())

	nn.SetTraining(model, false) // BatchNorm now uses its running statistics
	fmt.Println("training:", model.Norm.Training)
	// Output:
	// conv.weight [4 1 3 3]
	// conv.bias [4]
	// bn.weight [4]
	// bn.bias [4]
	// fc.weight [3 4]
	// fc.bias [3]
	// bn.running_mean [4]
	// bn.running_var [4]
	// bn.num_batches_tracked []
	// parameters: 63
	// logits: [8 3]
	// training: false
}
