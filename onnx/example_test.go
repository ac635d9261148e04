package onnx_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/onnx"
	"github.com/nabla-go/nabla/optim"
)

// A LeNet-5 exported by torch.onnx.export, run and fine-tuned.
func Example() {
	m, err := onnx.Load("testdata/lenet.onnx")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Inputs[0], "->", m.Outputs[0])
	x := nabla.Rand(rand.New(rand.NewPCG(1, 2)), 4, 1, 28, 28)
	outs, err := m.Run(map[string]*nabla.Tensor{"input": x})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(outs["output"].Shape())

	// One Adam step on the initializers.
	opt := optim.NewAdam(m.Params(), optim.AdamConfig{LR: 1e-3})
	loss := nn.CrossEntropy(m.Forward(x), nabla.FromSlice([]int64{0, 1, 2, 3}, 4))
	loss.Backward()
	opt.Step()
	fmt.Println(len(m.Params()), "parameters,", m.NumParams(), "values")
	// Output:
	// input float32 [batch 1 28 28] -> output float32 [batch 10]
	// [4 10]
	// 10 parameters, 61706 values
}

func ExampleExport() {
	rng := rand.New(rand.NewPCG(1, 2))
	model := nn.NewSequential(nn.NewLinear(rng, 3, 4), nn.ReLU{}, nn.NewLinear(rng, 4, 2))
	var buf bytes.Buffer
	if err := onnx.Export(&buf, model, nabla.Zeros(1, 3)); err != nil {
		fmt.Println(err)
		return
	}
	m, err := onnx.LoadBytes(buf.Bytes(), "")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Opset, m.Inputs[0], m.Outputs[0], m.Operators())
	// Output:
	// 17 input float32 [batch 3] output float32 [batch 2] [{Gemm 2} {Identity 1} {Relu 1}]
}
