package optim_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/optim"
)

// reference is optim/testdata/optim_reference.json, written by
// bench/reference/make_optim_reference.py with PyTorch.
type reference struct {
	TorchVersion string `json:"torch_version"`
	Steps        int    `json:"steps"`
	Problem      struct {
		X, Y, W0, B0, Unused0 []float64
		XShape                []int `json:"X_shape"`
		YShape                []int `json:"Y_shape"`
		WShape                []int `json:"w_shape"`
	} `json:"problem"`
	Optimizers []struct {
		Name       string
		Kind       string
		Config     map[string]any
		Trajectory []map[string][]float64
	}
	Clip []struct {
		Name     string
		Kind     string
		NormType any `json:"norm_type"`
		Max      float64
		Total    float64
		WGrad    []float64 `json:"w_grad"`
		BGrad    []float64 `json:"b_grad"`
	}
	Schedules []struct {
		Name   string
		Config map[string]any
		BaseLR float64 `json:"base_lr"`
		LR     []float64
	}
}

func loadReference(t *testing.T) *reference {
	t.Helper()
	b, err := os.ReadFile("testdata/optim_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	// field names without tags: encoding/json matches case-insensitively
	if len(r.Problem.W0) == 0 || len(r.Optimizers) == 0 {
		t.Fatal("reference file is incomplete")
	}
	return &r
}

// problem is the least-squares problem of the reference script:
// loss = 0.5·Σ(X·w + b - Y)², plus a parameter "unused" with no gradient.
type problem struct {
	x, y      *nabla.Tensor
	w, b, u   *nabla.Tensor
	params    []nn.Param
	reference *reference
}

func newProblem(r *reference, dt nabla.DType) *problem {
	p := &problem{reference: r}
	mk := func(v []float64, shape ...int) *nabla.Tensor { return nabla.FromSlice(v, shape...).To(dt) }
	p.x = mk(r.Problem.X, r.Problem.XShape...)
	p.y = mk(r.Problem.Y, r.Problem.YShape...)
	p.w = mk(r.Problem.W0, r.Problem.WShape...).RequireGrad()
	p.b = mk(r.Problem.B0).RequireGrad()
	p.u = mk(r.Problem.Unused0).RequireGrad()
	p.params = []nn.Param{{Name: "w", Tensor: p.w}, {Name: "b", Tensor: p.b}, {Name: "unused", Tensor: p.u}}
	return p
}

func (p *problem) backward() {
	p.x.MatMul(p.w).Add(p.b).Sub(p.y).Square().Sum().MulScalar(0.5).Backward()
}

func (p *problem) step(opt optim.Optimizer) {
	opt.ZeroGrad()
	p.backward()
	opt.Step()
}

func num(cfg map[string]any, key string) float64 {
	v, _ := cfg[key].(float64)
	return v
}

func betas(cfg map[string]any) [2]float64 {
	b, ok := cfg["betas"].([]any)
	if !ok {
		return [2]float64{}
	}
	return [2]float64{b[0].(float64), b[1].(float64)}
}

// makeOptimizer builds the optimizer a reference entry describes, from
// PyTorch's argument names.
func makeOptimizer(t testing.TB, kind string, cfg map[string]any, params []nn.Param) optim.Optimizer {
	flag := func(k string) bool { v, _ := cfg[k].(bool); return v }
	switch kind {
	case "sgd":
		return optim.NewSGD(params, optim.SGDConfig{LR: num(cfg, "lr"), Momentum: num(cfg, "momentum"),
			Dampening: num(cfg, "dampening"), WeightDecay: num(cfg, "weight_decay"), Nesterov: flag("nesterov")})
	case "adam", "adamw":
		c := optim.AdamConfig{LR: num(cfg, "lr"), Betas: betas(cfg), Eps: num(cfg, "eps"),
			WeightDecay: num(cfg, "weight_decay"), AMSGrad: flag("amsgrad")}
		if kind == "adamw" {
			if _, ok := cfg["weight_decay"]; !ok {
				c.WeightDecay = 0.01 // PyTorch's default
			}
			return optim.NewAdamW(params, c)
		}
		return optim.NewAdam(params, c)
	case "rmsprop":
		return optim.NewRMSprop(params, optim.RMSpropConfig{LR: num(cfg, "lr"), Alpha: num(cfg, "alpha"), Eps: num(cfg, "eps"),
			WeightDecay: num(cfg, "weight_decay"), Momentum: num(cfg, "momentum"), Centered: flag("centered")})
	case "adagrad":
		return optim.NewAdagrad(params, optim.AdagradConfig{LR: num(cfg, "lr"), LRDecay: num(cfg, "lr_decay"),
			WeightDecay: num(cfg, "weight_decay"), InitialAccumulatorValue: num(cfg, "initial_accumulator_value"), Eps: num(cfg, "eps")})
	}
	t.Fatalf("unknown optimizer kind %q", kind)
	return nil
}

// closeTo reports whether got is within rel relative error of want (an
// absolute error of rel near zero).
func closeTo(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*max(math.Abs(want), 1e-3)
}

func checkClose(t *testing.T, what string, got, want []float64, rel float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values; want %d", what, len(got), len(want))
	}
	for i := range got {
		if !closeTo(got[i], want[i], rel) {
			t.Errorf("%s[%d] = %.10g; want %.10g (PyTorch)", what, i, got[i], want[i])
		}
	}
}

func TestOptimizersMatchPyTorch(t *testing.T) {
	r := loadReference(t)
	for _, oc := range r.Optimizers {
		t.Run(oc.Name, func(t *testing.T) {
			p := newProblem(r, nabla.Float64)
			opt := makeOptimizer(t, oc.Kind, oc.Config, p.params)
			for s, want := range oc.Trajectory {
				p.step(opt)
				checkClose(t, fmt.Sprintf("step %d w", s+1), p.w.Float64s(), want["w"], 1e-5)
				checkClose(t, fmt.Sprintf("step %d b", s+1), p.b.Float64s(), want["b"], 1e-5)
				if !slices.Equal(p.u.Float64s(), want["unused"]) {
					t.Errorf("step %d: parameter without gradient changed: %v", s+1, p.u.Float64s())
				}
			}
		})
	}
}

// TestOptimizersFloat32 runs the float32 kernels against the same
// reference, with float32's tolerance.
func TestOptimizersFloat32(t *testing.T) {
	r := loadReference(t)
	for _, oc := range r.Optimizers {
		t.Run(oc.Name, func(t *testing.T) {
			p := newProblem(r, nabla.Float32)
			opt := makeOptimizer(t, oc.Kind, oc.Config, p.params)
			for range oc.Trajectory {
				p.step(opt)
			}
			last := oc.Trajectory[len(oc.Trajectory)-1]
			if p.w.DType() != nabla.Float32 {
				t.Fatal("parameter changed dtype")
			}
			checkClose(t, "w", p.w.Float64s(), last["w"], 2e-4)
			checkClose(t, "b", p.b.Float64s(), last["b"], 2e-4)
		})
	}
}

// TestStateResume checks that saving the state after k steps, loading it
// into a fresh optimizer over fresh parameters holding the same values,
// and continuing, gives exactly the uninterrupted trajectory.
func TestStateResume(t *testing.T) {
	r := loadReference(t)
	for _, dt := range []nabla.DType{nabla.Float32, nabla.Float64} {
		for _, oc := range r.Optimizers {
			t.Run(dt.String()+"/"+oc.Name, func(t *testing.T) {
				const k, n = 3, 7
				full := newProblem(r, dt)
				fullOpt := makeOptimizer(t, oc.Kind, oc.Config, full.params)
				for range n {
					full.step(fullOpt)
				}

				first := newProblem(r, dt)
				opt := makeOptimizer(t, oc.Kind, oc.Config, first.params)
				for range k {
					first.step(opt)
				}
				state := opt.State()
				// round trip through copies, as a checkpoint would
				for i := range state {
					state[i].Tensor = state[i].Tensor.Detach().Clone()
				}

				second := newProblem(r, dt)
				copyParams(second.params, first.params)
				opt2 := makeOptimizer(t, oc.Kind, oc.Config, second.params)
				if err := opt2.LoadState(state); err != nil {
					t.Fatal(err)
				}
				for range n - k {
					second.step(opt2)
				}
				for i := range full.params {
					got, want := second.params[i].Tensor.Float64s(), full.params[i].Tensor.Float64s()
					if !slices.Equal(got, want) {
						t.Errorf("%s after resume = %v; want %v (uninterrupted)", full.params[i].Name, got, want)
					}
				}
			})
		}
	}
}

func copyParams(dst, src []nn.Param) {
	for i := range dst {
		if src[i].Tensor.DType() == nabla.Float64 {
			copy(dst[i].Tensor.Data64(), src[i].Tensor.Data64())
		} else {
			copy(dst[i].Tensor.Data32(), src[i].Tensor.Data32())
		}
	}
}

func TestStateNames(t *testing.T) {
	w := nabla.Zeros(2, 3).RequireGrad()
	b := nabla.Zeros(3).RequireGrad()
	params := []nn.Param{{Name: "0.weight", Tensor: w}, {Name: "0.bias", Tensor: b}}
	opt := optim.NewAdam(params, optim.AdamConfig{})
	var names []string
	for _, p := range opt.State() {
		names = append(names, p.Name)
	}
	want := []string{"lr",
		"state.0.weight.step", "state.0.weight.exp_avg", "state.0.weight.exp_avg_sq", "state.0.weight.max_exp_avg_sq",
		"state.0.bias.step", "state.0.bias.exp_avg", "state.0.bias.exp_avg_sq", "state.0.bias.max_exp_avg_sq"}
	if !slices.Equal(names, want) {
		t.Errorf("state names = %q; want %q", names, want)
	}
	st := opt.State()
	if st[0].Tensor.Dim() != 0 || st[0].Tensor.Item() != 1e-3 || st[0].Tensor.DType() != nabla.Float64 {
		t.Errorf("lr entry = %v; want float64 scalar 0.001", st[0].Tensor)
	}
	if got := st[2].Tensor.Shape(); !slices.Equal(got, []int{2, 3}) || st[2].Tensor.DType() != nabla.Float32 {
		t.Errorf("exp_avg: shape %v %v; want [2 3] float32", got, st[2].Tensor.DType())
	}
}

func TestLoadStateErrors(t *testing.T) {
	mk := func() *optim.SGD {
		params := []nn.Param{{Name: "w", Tensor: nabla.Zeros(2, 3).RequireGrad()}, {Name: "b", Tensor: nabla.Zeros(3).RequireGrad()}}
		return optim.NewSGD(params, optim.SGDConfig{LR: 0.1, Momentum: 0.9})
	}
	opt := mk()
	good := opt.State()
	var bad []nn.Param
	for _, p := range good {
		switch p.Name {
		case "state.w.momentum_buffer":
			p.Tensor = nabla.Zeros(3, 2)
		case "state.b.step":
			continue // missing
		case "state.b.momentum_buffer":
			p.Tensor = nabla.Zeros(3).Add(nabla.Ones()) // fine, but check later it was not applied
		}
		bad = append(bad, p)
	}
	bad = append(bad, nn.Param{Name: "state.c.momentum_buffer", Tensor: nabla.Zeros(1)})
	err := opt.LoadState(bad)
	if err == nil {
		t.Fatal("LoadState accepted a mismatched state")
	}
	for _, frag := range []string{`"state.w.momentum_buffer": shape [3 2], want [2 3]`, `missing "state.b.step"`, `unexpected "state.c.momentum_buffer"`} {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("error %q does not mention %s", err, frag)
		}
	}
	for _, p := range opt.State() {
		if p.Name == "state.b.momentum_buffer" && p.Tensor.Sum().Item() != 0 {
			t.Error("a failed LoadState changed the state")
		}
	}
	// a negative step count
	st := opt.State()
	st[1].Tensor = nabla.FullOf(nabla.Float64, -1)
	if err := opt.LoadState(st); err == nil || !strings.Contains(err.Error(), "not a step count") {
		t.Errorf("LoadState with step -1: err = %v", err)
	}
	if err := opt.LoadState(good); err != nil {
		t.Errorf("LoadState(State()) = %v", err)
	}
}

func TestConstructorPanics(t *testing.T) {
	p := func() []nn.Param { return []nn.Param{{Name: "w", Tensor: nabla.Zeros(2).RequireGrad()}} }
	for _, tt := range []struct {
		name string
		f    func()
		want string
	}{
		{"sgd-lr", func() { optim.NewSGD(p(), optim.SGDConfig{}) }, "learning rate"},
		{"nesterov", func() { optim.NewSGD(p(), optim.SGDConfig{LR: 1, Nesterov: true}) }, "Nesterov"},
		{"betas", func() { optim.NewAdam(p(), optim.AdamConfig{Betas: [2]float64{0.9, 1}}) }, "betas"},
		{"dup", func() { optim.NewAdam(append(p(), p()...), optim.AdamConfig{}) }, "twice"},
		{"unnamed", func() { optim.NewAdagrad([]nn.Param{{Tensor: nabla.Zeros(1)}}, optim.AdagradConfig{}) }, "no name"},
		{"alpha", func() { optim.NewRMSprop(p(), optim.RMSpropConfig{Alpha: 2}) }, "alpha"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := nabla.Maybe(tt.f)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v; want a *nabla.ValueError mentioning %q", err, tt.want)
			}
		})
	}
}

// TestBroadcastGrad checks a gradient that Backward leaves as a
// non-contiguous (broadcast) view.
func TestBroadcastGrad(t *testing.T) {
	w := nabla.FromSlice([]float32{1, 2, 3, 4}, 2, 2).RequireGrad()
	w.Sum().Backward()
	opt := optim.NewSGD([]nn.Param{{Name: "w", Tensor: w}}, optim.SGDConfig{LR: 0.5})
	opt.Step()
	if got, want := w.Float32s(), []float32{0.5, 1.5, 2.5, 3.5}; !slices.Equal(got, want) {
		t.Errorf("w = %v; want %v", got, want)
	}
}

func TestClipMatchesPyTorch(t *testing.T) {
	r := loadReference(t)
	for _, c := range r.Clip {
		t.Run(c.Name, func(t *testing.T) {
			p := newProblem(r, nabla.Float64)
			p.backward()
			params := p.params // "unused" has no gradient and is skipped
			if c.Kind == "value" {
				optim.ClipGradValue(params, c.Max)
			} else {
				nt := math.Inf(1)
				if f, ok := c.NormType.(float64); ok {
					nt = f
				}
				total := optim.ClipGradNorm(params, c.Max, nt)
				if !closeTo(total, c.Total, 1e-9) {
					t.Errorf("total norm = %v; want %v", total, c.Total)
				}
			}
			checkClose(t, "w.grad", p.w.Grad().Float64s(), c.WGrad, 1e-9)
			checkClose(t, "b.grad", p.b.Grad().Float64s(), c.BGrad, 1e-9)
		})
	}
}

// TestClipAliasedGrads checks that gradients sharing storage (Backward of
// a+b gives both the same tensor) are each scaled once.
func TestClipAliasedGrads(t *testing.T) {
	a := nabla.FromSlice([]float32{0, 0}).RequireGrad()
	b := nabla.FromSlice([]float32{0, 0}).RequireGrad()
	a.Add(b).Backward(nabla.WithUpstream(nabla.FromSlice([]float32{3, 4})))
	params := []nn.Param{{Name: "a", Tensor: a}, {Name: "b", Tensor: b}}
	total := optim.ClipGradNorm(params, 1, 2)
	if want := math.Sqrt(50); !closeTo(total, want, 1e-6) {
		t.Errorf("total = %v; want %v", total, want)
	}
	c := float32(1 / (math.Sqrt(50) + 1e-6))
	for _, p := range params {
		if got, want := p.Tensor.Grad().Float32s(), []float32{3 * c, 4 * c}; !closeTo(float64(got[0]), float64(want[0]), 1e-6) || !closeTo(float64(got[1]), float64(want[1]), 1e-6) {
			t.Errorf("%s.grad = %v; want %v", p.Name, got, want)
		}
	}
	optim.ClipGradValue(params, 0.1)
	for _, p := range params {
		if got := p.Tensor.Grad().Float32s(); got[0] != 0.1 || got[1] != 0.1 {
			t.Errorf("%s.grad = %v after ClipGradValue(0.1)", p.Name, got)
		}
	}
}

func makeSchedule(t *testing.T, cfg map[string]any) optim.Schedule {
	i := func(k string) int { return int(num(cfg, k)) }
	switch cfg["kind"] {
	case "step":
		return optim.StepLR{StepSize: i("step_size"), Gamma: num(cfg, "gamma")}
	case "exponential":
		return optim.ExponentialLR{Gamma: num(cfg, "gamma")}
	case "cosine":
		return optim.CosineAnnealingLR{TMax: i("t_max"), EtaMin: num(cfg, "eta_min")}
	case "linear":
		return optim.LinearLR{StartFactor: num(cfg, "start_factor"), EndFactor: num(cfg, "end_factor"), TotalIters: i("total_iters")}
	case "warmup_cosine":
		return optim.WarmupCosine(i("warmup"), i("warmup")+i("t_max"), num(cfg, "start_factor"), num(cfg, "eta_min"))
	}
	t.Fatalf("unknown schedule %v", cfg["kind"])
	return nil
}

func TestSchedulesMatchPyTorch(t *testing.T) {
	r := loadReference(t)
	for _, sc := range r.Schedules {
		t.Run(sc.Name, func(t *testing.T) {
			w := nabla.Zeros(1).RequireGrad()
			opt := optim.NewSGD([]nn.Param{{Name: "w", Tensor: w}}, optim.SGDConfig{LR: sc.BaseLR})
			sched := optim.NewScheduler(opt, makeSchedule(t, sc.Config))
			got := []float64{opt.LR()}
			for range len(sc.LR) - 1 {
				sched.Step()
				got = append(got, opt.LR())
			}
			checkClose(t, "lr", got, sc.LR, 1e-9)
		})
	}
}

func TestSchedulerState(t *testing.T) {
	mk := func() (*optim.SGD, *optim.Scheduler) {
		opt := optim.NewSGD([]nn.Param{{Name: "w", Tensor: nabla.Zeros(1)}}, optim.SGDConfig{LR: 0.1})
		return opt, optim.NewScheduler(opt, optim.WarmupCosine(2, 10, 0.01, 0))
	}
	opt, s := mk()
	for range 5 {
		s.Step()
	}
	opt2, s2 := mk()
	if err := s2.LoadState(s.State()); err != nil {
		t.Fatal(err)
	}
	if s2.Steps() != 5 || opt2.LR() != opt.LR() {
		t.Errorf("restored scheduler at step %d with lr %v; want 5 and %v", s2.Steps(), opt2.LR(), opt.LR())
	}
	s.Step()
	s2.Step()
	if opt2.LR() != opt.LR() {
		t.Errorf("lr after resume = %v; want %v", opt2.LR(), opt.LR())
	}
	if err := s2.LoadState([]nn.Param{{Name: "epoch", Tensor: nabla.Scalar(1)}}); err == nil ||
		!strings.Contains(err.Error(), `unexpected "epoch"`) || !strings.Contains(err.Error(), `missing "base_lr"`) {
		t.Errorf("LoadState of a bad state: err = %v", err)
	}
}

func TestSequentialPanics(t *testing.T) {
	err := nabla.Maybe(func() {
		optim.Sequential{Schedules: []optim.Schedule{optim.ExponentialLR{Gamma: 1}}, Milestones: []int{3}}.LR(1, 0)
	})
	if err == nil {
		t.Error("Sequential with too many milestones did not panic")
	}
}

// stepAllocs reports the allocations of one warm Step of every optimizer.
func TestStepDoesNotAllocate(t *testing.T) {
	for _, kind := range []string{"sgd", "adam", "adamw", "rmsprop", "adagrad"} {
		for _, dt := range []nabla.DType{nabla.Float32, nabla.Float64} {
			params := mlpParams(dt)
			cfg := map[string]any{"lr": 1e-3, "momentum": 0.9, "centered": true, "amsgrad": true, "weight_decay": 1e-4}
			opt := makeOptimizer(t, kind, cfg, params)
			opt.Step() // warm up
			if a := testing.AllocsPerRun(20, opt.Step); a != 0 {
				t.Errorf("%s/%v: Step allocates %v times; want 0", kind, dt, a)
			}
		}
	}
}

// mlpParams returns the parameters of a 784-256-128-10 MLP, with
// gradients set.
func mlpParams(dt nabla.DType) []nn.Param {
	sizes := []int{784, 256, 128, 10}
	var ps []nn.Param
	for i := range len(sizes) - 1 {
		w := nabla.FullOf(dt, 0.01, sizes[i+1], sizes[i]).RequireGrad()
		b := nabla.FullOf(dt, 0, sizes[i+1]).RequireGrad()
		w.SetGrad(nabla.FullOf(dt, 0.001, sizes[i+1], sizes[i]))
		b.SetGrad(nabla.FullOf(dt, 0.001, sizes[i+1]))
		n := fmt.Sprint(2 * i)
		ps = append(ps, nn.Param{Name: n + ".weight", Tensor: w}, nn.Param{Name: n + ".bias", Tensor: b})
	}
	return ps
}

func BenchmarkStep(b *testing.B) {
	for _, kind := range []string{"sgd", "adam", "rmsprop", "adagrad"} {
		b.Run(kind+"/mlp784", func(b *testing.B) {
			params := mlpParams(nabla.Float32)
			opt := makeOptimizer(b, kind, map[string]any{"lr": 1e-3, "momentum": 0.9}, params)
			b.ReportAllocs()
			for b.Loop() {
				opt.Step()
			}
		})
	}
}
