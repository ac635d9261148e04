package optim

import (
	"github.com/nabla-go/nabla/nn"
)

// SGDConfig holds the hyperparameters of [SGD], named as PyTorch's
// torch.optim.SGD. The zero value of every field except LR is PyTorch's
// default.
type SGDConfig struct {
	LR          float64 // learning rate; must be > 0
	Momentum    float64 // momentum factor μ; 0 disables momentum
	Dampening   float64 // dampening τ of the momentum
	WeightDecay float64 // L2 penalty λ added to the gradient
	Nesterov    bool    // Nesterov momentum; needs Momentum > 0 and Dampening == 0
}

// SGD is stochastic gradient descent with optional momentum, dampening,
// Nesterov momentum and weight decay, with exactly PyTorch's update: for
// each parameter θ with gradient g,
//
//	g ← g + λθ                            (if λ ≠ 0)
//	b ← g on the first step, else μb + (1-τ)g   (if μ ≠ 0)
//	g ← g + μb if Nesterov, else b        (if μ ≠ 0)
//	θ ← θ - lr·g
//
// Its state holds one buffer per parameter, "momentum_buffer" (present
// even without momentum, then unused).
type SGD struct {
	base
	cfg SGDConfig
}

var _ Optimizer = (*SGD)(nil)

// NewSGD returns an SGD optimizer over params. It panics with a
// *nabla.ValueError if a hyperparameter is out of range (LR ≤ 0, negative
// momentum or weight decay, Nesterov without momentum or with dampening),
// or if params has an empty or duplicate name or a nil or non-contiguous
// tensor.
func NewSGD(params []nn.Param, cfg SGDConfig) *SGD {
	const op = "NewSGD"
	switch {
	case !(cfg.LR > 0):
		panicValue(op, "learning rate %v is not positive", cfg.LR)
	case cfg.Momentum < 0:
		panicValue(op, "momentum %v is negative", cfg.Momentum)
	case cfg.WeightDecay < 0:
		panicValue(op, "weight decay %v is negative", cfg.WeightDecay)
	case cfg.Nesterov && (cfg.Momentum <= 0 || cfg.Dampening != 0):
		panicValue(op, "Nesterov momentum needs a positive momentum and zero dampening")
	}
	return &SGD{base: newBase(op, params, cfg.LR, "momentum_buffer"), cfg: cfg}
}

// Config returns the hyperparameters the optimizer was made with (LR is
// the initial rate; see [SGD.LR] for the current one).
func (o *SGD) Config() SGDConfig { return o.cfg }

// Step updates every parameter that has a gradient.
func (o *SGD) Step() {
	for i := range o.slots {
		s := &o.slots[i]
		if s.s64 != nil {
			g := grad64(s)
			if g == nil {
				continue
			}
			sgdStep(s.t.Data64(), g, s.s64[0], s.step == 0, o.lr, o.cfg)
		} else {
			g := grad32(s)
			if g == nil {
				continue
			}
			sgdStep(s.t.Data32(), g, s.s32[0], s.step == 0, o.lr, o.cfg)
		}
		s.step++
		s.t.MarkModified() // the update writes through Data32: a graph still holding the old value must see it
	}
}

func sgdStep[T float32 | float64](p, g, buf []T, first bool, lr float64, c SGDConfig) {
	wd, mu, damp, nlr := T(c.WeightDecay), T(c.Momentum), T(1-c.Dampening), T(-lr)
	g, buf = g[:len(p)], buf[:len(p)]
	switch {
	case mu == 0 && wd == 0:
		for k := range p {
			p[k] += nlr * g[k]
		}
	case mu == 0:
		for k := range p {
			p[k] += nlr * (g[k] + wd*p[k])
		}
	default:
		for k := range p {
			d := g[k]
			if wd != 0 {
				d += wd * p[k]
			}
			b := d
			if !first {
				b = mu*buf[k] + damp*d
			}
			buf[k] = b
			if c.Nesterov {
				d += mu * b
			} else {
				d = b
			}
			p[k] += nlr * d
		}
	}
}
