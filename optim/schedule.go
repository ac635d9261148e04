package optim

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
)

// Schedule gives the learning rate after t scheduler steps (t = 0, 1, ...)
// as a function of the base rate, the optimizer's rate when the
// [Scheduler] was made. The schedules of this package use the closed forms
// of PyTorch's schedulers of the same names, so a [Scheduler] stepped once
// per epoch (or per batch) sets the same rates as PyTorch's stepped as
// often.
type Schedule interface {
	LR(base float64, t int) float64
}

// StepLR multiplies the rate by Gamma every StepSize steps:
// base·Gamma^⌊t/StepSize⌋. StepSize must be positive.
type StepLR struct {
	StepSize int
	Gamma    float64
}

// LR implements [Schedule]. It panics with a *nabla.ValueError if StepSize
// is not positive.
func (s StepLR) LR(base float64, t int) float64 {
	if s.StepSize <= 0 {
		panicValue("StepLR", "step size %d is not positive", s.StepSize)
	}
	return base * math.Pow(s.Gamma, float64(t/s.StepSize))
}

// ExponentialLR multiplies the rate by Gamma every step: base·Gammaᵗ.
type ExponentialLR struct {
	Gamma float64
}

// LR implements [Schedule].
func (s ExponentialLR) LR(base float64, t int) float64 {
	return base * math.Pow(s.Gamma, float64(t))
}

// CosineAnnealingLR anneals the rate from base down to EtaMin over TMax
// steps along half a cosine, η + (base-η)(1+cos(πt/TMax))/2, without
// restarts: past TMax it rises again, as PyTorch's does. TMax must be
// positive.
type CosineAnnealingLR struct {
	TMax   int
	EtaMin float64
}

// LR implements [Schedule]. It panics with a *nabla.ValueError if TMax is
// not positive.
func (s CosineAnnealingLR) LR(base float64, t int) float64 {
	if s.TMax <= 0 {
		panicValue("CosineAnnealingLR", "TMax %d is not positive", s.TMax)
	}
	return s.EtaMin + (base-s.EtaMin)*(1+math.Cos(math.Pi*float64(t)/float64(s.TMax)))/2
}

// LinearLR scales the rate by a factor that moves linearly from
// StartFactor to EndFactor over TotalIters steps and then stays at
// EndFactor: base·(StartFactor + (EndFactor-StartFactor)·min(t, TotalIters)/TotalIters),
// as PyTorch's LinearLR. Its fields are used as given (PyTorch's defaults
// are 1/3, 1 and 5). TotalIters must be positive.
type LinearLR struct {
	StartFactor float64
	EndFactor   float64
	TotalIters  int
}

// LR implements [Schedule]. It panics with a *nabla.ValueError if
// TotalIters is not positive.
func (s LinearLR) LR(base float64, t int) float64 {
	if s.TotalIters <= 0 {
		panicValue("LinearLR", "TotalIters %d is not positive", s.TotalIters)
	}
	return base * (s.StartFactor + (s.EndFactor-s.StartFactor)*float64(min(t, s.TotalIters))/float64(s.TotalIters))
}

// LinearWarmup returns the schedule that raises the rate linearly from
// startFactor·base to base over iters steps, then holds it.
func LinearWarmup(iters int, startFactor float64) LinearLR {
	return LinearLR{StartFactor: startFactor, EndFactor: 1, TotalIters: iters}
}

// Sequential runs Schedules one after another, switching at the
// Milestones (one fewer than Schedules, increasing): before Milestones[0]
// it follows Schedules[0]; from Milestones[i-1] on it follows
// Schedules[i], restarted at t = 0 with the same base rate. This is
// PyTorch's SequentialLR.
type Sequential struct {
	Schedules  []Schedule
	Milestones []int
}

// LR implements [Schedule]. It panics with a *nabla.ValueError if the
// schedules and milestones do not fit together.
func (s Sequential) LR(base float64, t int) float64 {
	if len(s.Schedules) == 0 || len(s.Milestones) != len(s.Schedules)-1 {
		panicValue("Sequential", "%d schedules need %d milestones, have %d", len(s.Schedules), max(len(s.Schedules)-1, 0), len(s.Milestones))
	}
	i, start := 0, 0
	for i < len(s.Milestones) && t >= s.Milestones[i] {
		if i > 0 && s.Milestones[i] <= s.Milestones[i-1] {
			panicValue("Sequential", "milestones %v are not increasing", s.Milestones)
		}
		start = s.Milestones[i]
		i++
	}
	return s.Schedules[i].LR(base, t-start)
}

// WarmupCosine returns the schedule that warms the rate up linearly from
// startFactor·base to base over warmup steps, then anneals it along a
// cosine to etaMin at step total.
func WarmupCosine(warmup, total int, startFactor, etaMin float64) Sequential {
	return Sequential{
		Schedules:  []Schedule{LinearWarmup(warmup, startFactor), CosineAnnealingLR{TMax: total - warmup, EtaMin: etaMin}},
		Milestones: []int{warmup},
	}
}

// Scheduler sets an optimizer's learning rate from a [Schedule]. Call
// Step once per epoch or once per batch, as the schedule is meant; the
// optimizer's rate when the scheduler is made is the schedule's base.
//
//	sched := optim.NewScheduler(opt, optim.CosineAnnealingLR{TMax: epochs})
//	for epoch := range epochs {
//		train(...) // opt.Step() per batch
//		sched.Step()
//	}
type Scheduler struct {
	opt   Optimizer
	sched Schedule
	base  float64
	t     int
}

// NewScheduler returns a scheduler that drives opt's learning rate along
// s, and sets the rate for t = 0 at once (as PyTorch's constructors do).
func NewScheduler(opt Optimizer, s Schedule) *Scheduler {
	sc := &Scheduler{opt: opt, sched: s, base: opt.LR()}
	sc.apply()
	return sc
}

func (s *Scheduler) apply() { s.opt.SetLR(max(s.sched.LR(s.base, s.t), 0)) }

// Step advances the schedule by one step and sets the optimizer's rate.
func (s *Scheduler) Step() {
	s.t++
	s.apply()
}

// Steps returns the number of times Step has been called (PyTorch's
// last_epoch).
func (s *Scheduler) Steps() int { return s.t }

// LR returns the rate the schedule gives now.
func (s *Scheduler) LR() float64 { return s.opt.LR() }

// BaseLR returns the schedule's base rate.
func (s *Scheduler) BaseLR() float64 { return s.base }

// State returns the scheduler's state as two float64 scalars, "base_lr"
// and "last_epoch" (the step count), for checkpoints.
func (s *Scheduler) State() []nn.Param {
	return []nn.Param{
		{Name: "base_lr", Tensor: nabla.FullOf(nabla.Float64, s.base)},
		{Name: "last_epoch", Tensor: nabla.FullOf(nabla.Float64, float64(s.t))},
	}
}

// LoadState restores a state returned by State and sets the optimizer's
// rate accordingly. It fails, changing nothing, if a name is missing or
// unexpected or a value is not a valid rate or step count.
func (s *Scheduler) LoadState(state []nn.Param) error {
	var base, t float64
	var problems []string
	seen := map[string]bool{}
	for _, p := range state {
		if p.Tensor == nil || p.Tensor.Len() != 1 {
			problems = append(problems, fmt.Sprintf("%q is not a scalar", p.Name))
			continue
		}
		v := p.Tensor.Item()
		switch p.Name {
		case "base_lr":
			base = v
			if !(v >= 0) {
				problems = append(problems, fmt.Sprintf("%q: %v is not a learning rate", p.Name, v))
			}
		case "last_epoch":
			t = v
			if !(v >= 0 && v == math.Trunc(v) && v <= math.MaxInt32) {
				problems = append(problems, fmt.Sprintf("%q: %v is not a step count", p.Name, v))
			}
		default:
			problems = append(problems, fmt.Sprintf("unexpected %q", p.Name))
			continue
		}
		seen[p.Name] = true
	}
	for _, n := range []string{"base_lr", "last_epoch"} {
		if !seen[n] {
			problems = append(problems, fmt.Sprintf("missing %q", n))
		}
	}
	if len(problems) > 0 {
		return errors.New("optim: Scheduler.LoadState: " + strings.Join(problems, "; "))
	}
	s.base, s.t = base, int(t)
	s.apply()
	return nil
}
