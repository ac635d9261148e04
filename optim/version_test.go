package optim_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/optim"
)

// An optimizer step before the Backward of a retained graph would compute
// gradients from the updated weights: the version check refuses it.
func TestStepBeforeRetainedBackwardPanics(t *testing.T) {
	for _, c := range []struct {
		name string
		make func(ps []nn.Param) optim.Optimizer
	}{
		{"SGD", func(ps []nn.Param) optim.Optimizer { return optim.NewSGD(ps, optim.SGDConfig{LR: 0.1}) }},
		{"Adam", func(ps []nn.Param) optim.Optimizer { return optim.NewAdam(ps, optim.AdamConfig{LR: 0.1}) }},
		{"Adagrad", func(ps []nn.Param) optim.Optimizer { return optim.NewAdagrad(ps, optim.AdagradConfig{LR: 0.1}) }},
		{"RMSprop", func(ps []nn.Param) optim.Optimizer { return optim.NewRMSprop(ps, optim.RMSpropConfig{LR: 0.1}) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := nabla.FromSlice([]float32{1, -2}).RequireGrad()
			loss := w.Square().Sum()
			loss.Backward(nabla.RetainGraph())
			opt := c.make([]nn.Param{{Name: "w", Tensor: w}})
			before := w.Version()
			opt.Step()
			if w.Version() == before {
				t.Fatalf("Step did not bump the weight's version")
			}
			err := nabla.Maybe(func() { loss.Backward() })
			var ge *nabla.GradError
			if !errors.As(err, &ge) || !strings.Contains(err.Error(), "modified by an in-place operation") {
				t.Errorf("second Backward after Step: %v; want a *GradError about an in-place modification", err)
			}
		})
	}
}
