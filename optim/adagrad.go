package optim

import (
	"github.com/nabla-go/nabla/nn"
)

// AdagradConfig holds the hyperparameters of [Adagrad], named as in
// PyTorch. Zero fields take PyTorch's defaults.
type AdagradConfig struct {
	LR                      float64 // learning rate; 0 means 1e-2
	LRDecay                 float64 // η: the rate at the t-th update is lr/(1+(t-1)η)
	WeightDecay             float64 // L2 penalty λ added to the gradient
	InitialAccumulatorValue float64 // starting value of the sum of squared gradients
	Eps                     float64 // ε added to the denominator; 0 means 1e-10
}

// Adagrad is the Adagrad optimizer (Duchi et al.) with PyTorch's update
// rule. For each parameter θ with gradient g, at its t-th update:
//
//	g ← g + λθ                      (if λ ≠ 0)
//	s ← s + g²
//	θ ← θ - lr/(1+(t-1)η) · g/(√s + ε)
//
// Its state holds, per parameter, "sum" (s), which starts at
// InitialAccumulatorValue.
type Adagrad struct {
	base
	cfg AdagradConfig
}

var _ Optimizer = (*Adagrad)(nil)

// NewAdagrad returns an Adagrad optimizer over params. It panics with a
// *nabla.ValueError if a hyperparameter is negative, or if params has an
// empty or duplicate name or a nil or non-contiguous tensor.
func NewAdagrad(params []nn.Param, cfg AdagradConfig) *Adagrad {
	const op = "NewAdagrad"
	if cfg.LR == 0 {
		cfg.LR = 1e-2
	}
	if cfg.Eps == 0 {
		cfg.Eps = 1e-10
	}
	switch {
	case cfg.Eps < 0:
		panicValue(op, "eps %v is negative", cfg.Eps)
	case cfg.WeightDecay < 0:
		panicValue(op, "weight decay %v is negative", cfg.WeightDecay)
	case cfg.LRDecay < 0:
		panicValue(op, "learning-rate decay %v is negative", cfg.LRDecay)
	case cfg.InitialAccumulatorValue < 0:
		panicValue(op, "initial accumulator value %v is negative", cfg.InitialAccumulatorValue)
	}
	o := &Adagrad{base: newBase(op, params, cfg.LR, "sum"), cfg: cfg}
	o.fill(0, cfg.InitialAccumulatorValue)
	return o
}

// Config returns the hyperparameters, with defaults filled in (LR is the
// initial rate; see [Adagrad.LR] for the current one).
func (o *Adagrad) Config() AdagradConfig { return o.cfg }

// Step updates every parameter that has a gradient.
func (o *Adagrad) Step() {
	for i := range o.slots {
		s := &o.slots[i]
		if s.t.Grad() == nil {
			continue
		}
		s.step++
		s.t.MarkModified() // the update writes through Data32: a graph still holding the old value must see it
		clr := o.lr / (1 + float64(s.step-1)*o.cfg.LRDecay)
		if s.s64 != nil {
			adagradStep(s.t.Data64(), grad64(s), s.s64[0], clr, o.cfg)
		} else {
			adagradStep(s.t.Data32(), grad32(s), s.s32[0], clr, o.cfg)
		}
	}
}

func adagradStep[T float32 | float64](p, g, sum []T, clr float64, c AdagradConfig) {
	wd, eps, nclr := T(c.WeightDecay), T(c.Eps), T(-clr)
	g, sum = g[:len(p)], sum[:len(p)]
	for k := range p {
		d := g[k]
		if wd != 0 {
			d += wd * p[k]
		}
		sum[k] += d * d
		p[k] += nclr * (d / (sqrt(sum[k]) + eps))
	}
}
