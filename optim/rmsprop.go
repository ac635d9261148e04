package optim

import (
	"github.com/nabla-go/nabla/nn"
)

// RMSpropConfig holds the hyperparameters of [RMSprop], named as in
// PyTorch. Zero fields take PyTorch's defaults.
type RMSpropConfig struct {
	LR          float64 // learning rate; 0 means 1e-2
	Alpha       float64 // smoothing constant α of the squared-gradient average; 0 means 0.99
	Eps         float64 // ε added to the denominator; 0 means 1e-8
	WeightDecay float64 // L2 penalty λ added to the gradient
	Momentum    float64 // momentum factor μ; 0 disables momentum
	Centered    bool    // divide by an estimate of the gradient's variance instead of its second moment
}

// RMSprop is the RMSprop optimizer (Hinton) with PyTorch's update rule. For
// each parameter θ with gradient g:
//
//	g ← g + λθ                       (if λ ≠ 0)
//	v ← α·v + (1-α)·g²
//	a ← α·a + (1-α)·g                (centered)
//	d ← √(v - a²) + ε if centered, else √v + ε
//	b ← μ·b + g/d;  θ ← θ - lr·b     (if μ > 0)
//	θ ← θ - lr·g/d                   (otherwise)
//
// Its state holds, per parameter, "square_avg" (v), "momentum_buffer" (b)
// and "grad_avg" (a); the last two stay zero when unused.
type RMSprop struct {
	base
	cfg RMSpropConfig
}

var _ Optimizer = (*RMSprop)(nil)

// NewRMSprop returns an RMSprop optimizer over params. It panics with a
// *nabla.ValueError if a hyperparameter is out of range (a negative rate,
// ε, weight decay or momentum, or α outside [0, 1]), or if params has an
// empty or duplicate name or a nil or non-contiguous tensor.
func NewRMSprop(params []nn.Param, cfg RMSpropConfig) *RMSprop {
	const op = "NewRMSprop"
	if cfg.LR == 0 {
		cfg.LR = 1e-2
	}
	if cfg.Alpha == 0 {
		cfg.Alpha = 0.99
	}
	if cfg.Eps == 0 {
		cfg.Eps = 1e-8
	}
	switch {
	case cfg.Eps < 0:
		panicValue(op, "eps %v is negative", cfg.Eps)
	case cfg.WeightDecay < 0:
		panicValue(op, "weight decay %v is negative", cfg.WeightDecay)
	case cfg.Momentum < 0:
		panicValue(op, "momentum %v is negative", cfg.Momentum)
	case !(cfg.Alpha >= 0 && cfg.Alpha <= 1):
		panicValue(op, "alpha %v is not in [0, 1]", cfg.Alpha)
	}
	return &RMSprop{base: newBase(op, params, cfg.LR, "square_avg", "momentum_buffer", "grad_avg"), cfg: cfg}
}

// Config returns the hyperparameters, with defaults filled in (LR is the
// initial rate; see [RMSprop.LR] for the current one).
func (o *RMSprop) Config() RMSpropConfig { return o.cfg }

// Step updates every parameter that has a gradient.
func (o *RMSprop) Step() {
	for i := range o.slots {
		s := &o.slots[i]
		if s.s64 != nil {
			g := grad64(s)
			if g == nil {
				continue
			}
			rmspropStep(s.t.Data64(), g, s.s64[0], s.s64[1], s.s64[2], o.lr, o.cfg)
		} else {
			g := grad32(s)
			if g == nil {
				continue
			}
			rmspropStep(s.t.Data32(), g, s.s32[0], s.s32[1], s.s32[2], o.lr, o.cfg)
		}
		s.step++
		s.t.MarkModified() // the update writes through Data32: a graph still holding the old value must see it
	}
}

func rmspropStep[T float32 | float64](p, g, sq, buf, gavg []T, lr float64, c RMSpropConfig) {
	alpha, c1, eps, wd, mu, nlr := T(c.Alpha), T(1-c.Alpha), T(c.Eps), T(c.WeightDecay), T(c.Momentum), T(-lr)
	g, sq, buf, gavg = g[:len(p)], sq[:len(p)], buf[:len(p)], gavg[:len(p)]
	for k := range p {
		d := g[k]
		if wd != 0 {
			d += wd * p[k]
		}
		sq[k] = sq[k]*alpha + c1*d*d
		var den T
		if c.Centered {
			gavg[k] = gavg[k]*alpha + c1*d
			den = sqrt(sq[k]-gavg[k]*gavg[k]) + eps
		} else {
			den = sqrt(sq[k]) + eps
		}
		if mu > 0 {
			buf[k] = buf[k]*mu + d/den
			p[k] += nlr * buf[k]
		} else {
			p[k] += nlr * (d / den)
		}
	}
}
