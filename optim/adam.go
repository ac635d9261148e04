package optim

import (
	"math"

	"github.com/nabla-go/nabla/internal/kernel"
	"github.com/nabla-go/nabla/nn"
)

// AdamConfig holds the hyperparameters of [Adam] and AdamW, named as in
// PyTorch. Zero fields take PyTorch's defaults, except WeightDecay, which
// is used as given (PyTorch's AdamW defaults to 0.01; set it explicitly).
type AdamConfig struct {
	LR          float64    // learning rate; 0 means 1e-3
	Betas       [2]float64 // decay rates β1, β2 of the moment averages; {0, 0} means {0.9, 0.999}
	Eps         float64    // ε added to the denominator; 0 means 1e-8
	WeightDecay float64    // λ: L2 penalty for Adam, decoupled decay for AdamW
	AMSGrad     bool       // use the maximum of past second moments (AMSGrad)
}

func (c AdamConfig) withDefaults() AdamConfig {
	if c.LR == 0 {
		c.LR = 1e-3
	}
	if c.Betas == [2]float64{} {
		c.Betas = [2]float64{0.9, 0.999}
	}
	if c.Eps == 0 {
		c.Eps = 1e-8
	}
	return c
}

// Adam is the Adam optimizer (Kingma & Ba) with PyTorch's update rule, or
// AdamW (Loshchilov & Hutter) when made by [NewAdamW]. For each parameter θ
// with gradient g, at its t-th update:
//
//	θ ← θ(1 - lr·λ)                       (AdamW)
//	g ← g + λθ                            (Adam, if λ ≠ 0)
//	m ← β1·m + (1-β1)·g
//	v ← β2·v + (1-β2)·g²
//	v̂ ← max(v̂, v)                         (AMSGrad; v̂ is used instead of v below)
//	θ ← θ - lr/(1-β1ᵗ) · m / (√v/√(1-β2ᵗ) + ε)
//
// Its state holds, per parameter, "exp_avg" (m), "exp_avg_sq" (v) and
// "max_exp_avg_sq" (v̂, zero unless AMSGrad).
type Adam struct {
	base
	cfg       AdamConfig
	decoupled bool
}

var _ Optimizer = (*Adam)(nil)

// NewAdam returns an Adam optimizer over params, with cfg.WeightDecay as
// an L2 penalty added to the gradient (torch.optim.Adam). It panics with a
// *nabla.ValueError if a hyperparameter is out of range (a negative rate,
// ε or weight decay, or β outside [0, 1)) or if params has an empty or
// duplicate name or a nil or non-contiguous tensor.
func NewAdam(params []nn.Param, cfg AdamConfig) *Adam {
	return newAdam("NewAdam", params, cfg, false)
}

// NewAdamW returns an AdamW optimizer over params: as [NewAdam], but the
// weight decay is decoupled from the gradient and shrinks the parameters
// directly (torch.optim.AdamW).
func NewAdamW(params []nn.Param, cfg AdamConfig) *Adam {
	return newAdam("NewAdamW", params, cfg, true)
}

func newAdam(op string, params []nn.Param, cfg AdamConfig, decoupled bool) *Adam {
	cfg = cfg.withDefaults()
	switch {
	case cfg.Eps < 0:
		panicValue(op, "eps %v is negative", cfg.Eps)
	case cfg.WeightDecay < 0:
		panicValue(op, "weight decay %v is negative", cfg.WeightDecay)
	case !(cfg.Betas[0] >= 0 && cfg.Betas[0] < 1), !(cfg.Betas[1] >= 0 && cfg.Betas[1] < 1):
		panicValue(op, "betas %v are not in [0, 1)", cfg.Betas)
	}
	return &Adam{base: newBase(op, params, cfg.LR, "exp_avg", "exp_avg_sq", "max_exp_avg_sq"), cfg: cfg, decoupled: decoupled}
}

// Config returns the hyperparameters, with defaults filled in (LR is the
// initial rate; see [Adam.LR] for the current one).
func (o *Adam) Config() AdamConfig { return o.cfg }

// Step updates every parameter that has a gradient.
func (o *Adam) Step() {
	for i := range o.slots {
		s := &o.slots[i]
		if s.t.Grad() == nil {
			continue
		}
		s.step++
		s.t.MarkModified() // the update writes through Data32: a graph still holding the old value must see it
		h := o.hyper(s.step)
		if s.s64 != nil {
			p, g, m, v, vm := s.t.Data64(), grad64(s), s.s64[0], s.s64[1], s.s64[2]
			if !worthSplitting(len(p)) {
				adamStep(p, g, m, v, vm, h)
				continue
			}
			parallelRange(len(p), func(lo, hi int) { adamStep(p[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], vm[lo:hi], h) })
		} else {
			p, g, m, v, vm := s.t.Data32(), grad32(s), s.s32[0], s.s32[1], s.s32[2]
			if !worthSplitting(len(p)) {
				adamStepF32(p, g, m, v, vm, h)
				continue
			}
			parallelRange(len(p), func(lo, hi int) { adamStepF32(p[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], vm[lo:hi], h) })
		}
	}
}

// adamHyper holds the per-step scalars of one Adam update.
type adamHyper struct {
	b1, b2    float64
	eps       float64
	stepSize  float64 // lr / (1 - β1ᵗ)
	bc2Sqrt   float64 // √(1 - β2ᵗ)
	wd        float64 // L2 weight decay (Adam)
	decay     float64 // 1 - lr·λ (AdamW), else 1
	amsgrad   bool
	decoupled bool
}

func (o *Adam) hyper(step int64) adamHyper {
	c := o.cfg
	t := float64(step)
	h := adamHyper{
		b1: c.Betas[0], b2: c.Betas[1], eps: c.Eps,
		stepSize: o.lr / (1 - math.Pow(c.Betas[0], t)),
		bc2Sqrt:  math.Sqrt(1 - math.Pow(c.Betas[1], t)),
		decay:    1, amsgrad: c.AMSGrad, decoupled: o.decoupled,
	}
	if o.decoupled {
		h.decay = 1 - o.lr*c.WeightDecay
	} else {
		h.wd = c.WeightDecay
	}
	return h
}

func adamStep[T float32 | float64](p, g, m, v, vmax []T, h adamHyper) {
	b1, b2, c1, c2 := T(h.b1), T(h.b2), T(1-h.b1), T(1-h.b2)
	wd, decay, eps, bc2, nstep := T(h.wd), T(h.decay), T(h.eps), T(h.bc2Sqrt), T(-h.stepSize)
	g, m, v, vmax = g[:len(p)], m[:len(p)], v[:len(p)], vmax[:len(p)]
	if h.decoupled {
		for k := range p {
			p[k] *= decay
		}
	}
	if h.amsgrad {
		for k := range p {
			d := g[k]
			if wd != 0 {
				d += wd * p[k]
			}
			m[k] = m[k]*b1 + c1*d
			v[k] = v[k]*b2 + c2*d*d
			vmax[k] = max(vmax[k], v[k])
			p[k] += nstep * (m[k] / (sqrt(vmax[k])/bc2 + eps))
		}
		return
	}
	if wd != 0 {
		for k := range p {
			d := g[k] + wd*p[k]
			m[k] = m[k]*b1 + c1*d
			v[k] = v[k]*b2 + c2*d*d
			p[k] += nstep * (m[k] / (sqrt(v[k])/bc2 + eps))
		}
		return
	}
	// The conversions keep the compiler from fusing products and sums, so
	// that the rounding matches kernel.AdamF32 (see adamStepF32).
	for k := range p {
		d := g[k]
		mk := T(m[k]*b1) + T(c1*d)
		vk := T(v[k]*b2) + T(T(c2*d)*d)
		m[k], v[k] = mk, vk
		p[k] += T(nstep * (mk / (sqrt(vk)/bc2 + eps)))
	}
}

// adamStepF32 is adamStep for float32, with the plain update (no L2
// weight decay, no AMSGrad) done by the vectorized kernel.AdamF32. The
// kernel rounds each operation as adamStep's loop does, so both give the
// same bits.
func adamStepF32(p, g, m, v, vmax []float32, h adamHyper) {
	if h.amsgrad || float32(h.wd) != 0 {
		adamStep(p, g, m, v, vmax, h)
		return
	}
	if h.decoupled {
		kernel.ScaleF32(float32(h.decay), p)
	}
	kernel.AdamF32(p, g[:len(p)], m[:len(p)], v[:len(p)], adamCoefsF32(h))
}

// adamCoefsF32 rounds the scalars of h to float32 as adamStep does.
func adamCoefsF32(h adamHyper) kernel.AdamF32Coefs {
	return kernel.AdamF32Coefs{
		B1: float32(h.b1), B2: float32(h.b2), C1: float32(1 - h.b1), C2: float32(1 - h.b2),
		BC2: float32(h.bc2Sqrt), Eps: float32(h.eps), NegStep: float32(-h.stepSize),
	}
}

// sqrt is the correctly rounded square root in T's precision.
func sqrt[T float32 | float64](x T) T { return T(math.Sqrt(float64(x))) }
