package nn_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
)

// Sequential names its layers by position, as PyTorch's state_dict does.
func ExampleSequential() {
	rng := rand.New(rand.NewPCG(1, 2))
	model := nn.NewSequential(
		nn.NewLinear(rng, 784, 256), nn.ReLU{},
		nn.NewLinear(rng, 256, 10),
	)
	fmt.Println(model)
	for _, p := range model.Params() {
		fmt.Println(p.Name, p.Tensor.Shape())
	}
	// Output:
	// Sequential(
	//   (0): Linear(784→256)
	//   (1): ReLU()
	//   (2): Linear(256→10)
	// )
	// 0.weight [256 784]
	// 0.bias [256]
	// 2.weight [10 256]
	// 2.bias [10]
}

// A batch that does not fit a layer panics with a *nabla.ShapeError naming
// the layer; nabla.Maybe turns it into an error.
func ExampleLinear_Forward_shapeError() {
	rng := rand.New(rand.NewPCG(1, 2))
	fc := nn.NewLinear(rng, 784, 256)
	err := nabla.Maybe(func() { fc.Forward(nabla.Zeros(128, 100)) })
	fmt.Println(err)
	// Output:
	// nabla: Linear(784→256): shape [128 100]: want shape [* 784] (any leading dimensions), got last dimension 100
}

// Cross-entropy takes logits and class indices (or class probabilities).
func ExampleCrossEntropy() {
	logits := nabla.FromSlice([]float32{
		2, 0, 0,
		0, 0, 3,
	}, 2, 3)
	labels := nabla.FromSlice([]int64{0, 1})
	fmt.Printf("%.4f\n", nn.CrossEntropy(logits, labels).Item())
	fmt.Printf("%.4f\n", nn.CrossEntropyLoss{LabelSmoothing: 0.1, Reduction: nn.Sum}.Forward(logits, labels).Item())
	fmt.Printf("accuracy %.2f\n", nn.Accuracy(logits, labels))

	err := nabla.Maybe(func() { nn.CrossEntropy(logits, nabla.FromSlice([]int64{0, 3})) })
	fmt.Println(err)
	// Output:
	// 1.6672
	// 3.3678
	// accuracy 0.50
	// nabla: CrossEntropyLoss: label 3 at position 1 is out of range for 3 classes (labels must be whole numbers in [0, 3))
}

// Targets equal to the ignore index, -100 unless IgnoreIndex says
// otherwise, count for nothing: padded positions of a sequence, say. Mean
// divides by the targets left.
func ExampleCrossEntropyLoss_ignoreIndex() {
	logits := nabla.FromSlice([]float32{
		2, 0, 0,
		0, 0, 3,
		1, 1, 1,
	}, 3, 3)
	fmt.Printf("%.4f\n", nn.CrossEntropy(logits, nabla.FromSlice([]int64{0, 2, -100})).Item())
	fmt.Printf("%.4f\n", nn.CrossEntropy(logits.Slice(0, 0, 2, 1), nabla.FromSlice([]int64{0, 2})).Item())
	fmt.Printf("%.4f\n", nn.CrossEntropyLoss{Reduction: nn.None}.Forward(logits, nabla.FromSlice([]int64{0, 2, -100})).Float32s())

	pad := 1 // a class index as the ignore index
	loss := nn.CrossEntropyLoss{IgnoreIndex: &pad, Reduction: nn.None}
	fmt.Printf("%.4f\n", loss.Forward(logits, nabla.FromSlice([]int64{0, 1, 1})).Float32s())
	// Output:
	// 0.1672
	// 0.1672
	// [0.2395 0.0949 0.0000]
	// [0.2395 0.0000 0.0000]
}

// Initialisers fill a tensor in place and return it.
func ExampleKaimingNormal() {
	rng := rand.New(rand.NewPCG(1, 2))
	w := nn.KaimingNormal(rng, nabla.Zeros(256, 128), 0, nn.FanIn, "relu")
	sq := 0.0
	for _, v := range w.Float64s() {
		sq += v * v
	}
	fmt.Printf("std %.3f, want √(2/fan_in) = %.3f\n", math.Sqrt(sq/float64(w.Len())), math.Sqrt(2.0/128))
	// Output:
	// std 0.125, want √(2/fan_in) = 0.125
}
