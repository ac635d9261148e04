package nn_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
)

// An LSTM returns the last layer's state at every step and the final
// states of every layer and direction, in PyTorch's layouts.
func ExampleLSTM() {
	rng := rand.New(rand.NewPCG(1, 2))
	lstm := nn.NewLSTM(rng, 10, 20, nn.RNNOptions{NumLayers: 2, Bidirectional: true, BatchFirst: true})
	fmt.Println(lstm)
	x := nabla.Normal(rng, 0, 1, 3, 5, 10) // batch 3, 5 steps, 10 features
	out, hn, cn := lstm.ForwardState(x, nil, nil)
	fmt.Println(out.Shape(), hn.Shape(), cn.Shape())
	for _, p := range lstm.Params()[:5] {
		fmt.Println(p.Name, p.Tensor.Shape())
	}
	// Output:
	// LSTM(10, 20, num_layers=2, batch_first=True, bidirectional=True)
	// [3 5 40] [4 3 20] [4 3 20]
	// weight_ih_l0 [80 10]
	// weight_hh_l0 [80 20]
	// bias_ih_l0 [80]
	// bias_hh_l0 [80]
	// weight_ih_l0_reverse [80 10]
}
