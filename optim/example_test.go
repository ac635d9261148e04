package optim_test

import (
	"fmt"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/optim"
)

func ExampleSGD() {
	// minimise x² from x = 3: the gradient is 2x = 6
	x := nabla.Scalar(3).RequireGrad()
	opt := optim.NewSGD([]nn.Param{{Name: "x", Tensor: x}}, optim.SGDConfig{LR: 0.1})
	for range 3 {
		opt.ZeroGrad()
		x.Square().Backward()
		opt.Step()
		fmt.Printf("%.4f\n", x.Item())
	}
	// Output:
	// 2.4000
	// 1.9200
	// 1.5360
}

func ExampleAdam() {
	w := nabla.FromSlice([]float64{1, -2}).RequireGrad()
	opt := optim.NewAdam([]nn.Param{{Name: "w", Tensor: w}}, optim.AdamConfig{LR: 0.1})
	w.Square().Sum().Backward()
	opt.Step()
	// Adam's first step moves every weight by lr against its gradient's sign
	fmt.Printf("%.4f\n", w.Float64s())
	// Output: [0.9000 -1.9000]
}

func ExampleScheduler() {
	w := nabla.Zeros(1).RequireGrad()
	opt := optim.NewSGD([]nn.Param{{Name: "w", Tensor: w}}, optim.SGDConfig{LR: 1})
	// warm up over 2 epochs from 0.1, then cosine down to 0 at epoch 6
	sched := optim.NewScheduler(opt, optim.WarmupCosine(2, 6, 0.1, 0))
	for epoch := range 7 {
		fmt.Printf("epoch %d: lr %.3f\n", epoch, opt.LR())
		// ... train one epoch ...
		sched.Step()
	}
	// Output:
	// epoch 0: lr 0.100
	// epoch 1: lr 0.550
	// epoch 2: lr 1.000
	// epoch 3: lr 0.854
	// epoch 4: lr 0.500
	// epoch 5: lr 0.146
	// epoch 6: lr 0.000
}

func ExampleClipGradNorm() {
	w := nabla.FromSlice([]float32{3, 4}).RequireGrad()
	w.Backward(nabla.WithUpstream(nabla.FromSlice([]float32{3, 4})))
	params := []nn.Param{{Name: "w", Tensor: w}}
	norm := optim.ClipGradNorm(params, 1, 2)
	fmt.Printf("norm %.1f, clipped %.3f\n", norm, w.Grad().Float32s())
	// Output: norm 5.0, clipped [0.600 0.800]
}
