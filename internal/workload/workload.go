// Package workload runs the five benchmark workloads of docs/DESIGN.md on nabla
// and reports each figure as a Result, in the JSON form that
// bench/compare.py joins with PyTorch's (bench/torch_bench.py):
//
//	W1 GEMM: float32 C = A·B, GFLOP/s
//	W2 eager overhead: a chain of 10,000 element-wise ops, µs per op
//	W3 MLP 784-256-128-10 on Fashion-MNIST: seconds per epoch, accuracy, peak RSS
//	W4 LeNet-5 on Fashion-MNIST: seconds per epoch, accuracy, peak RSS
//	W5 MLP inference at batch 1: µs per call
//	W10 greedy generation with a LLaMA-style decoder and its KV cache:
//	    tokens per second at batch 1 and 8, time to the first token
//	W6 GPT training on Opticks: seconds per step, tokens per second
//	W7 LSTM language model training on Opticks: seconds per step
//	W8 greedy generation with the W6 GPT and its KV cache: tokens per second
//	W9 torchvision resnet18 imported from ONNX, inference at batch 1 and 16:
//	    milliseconds per batch
//
// and, only when named, OPS: single ops (add, softmax, layer norm, ...) on
// (256, 4096) tensors, µs per call forward and forward+backward, to find
// the kernels that lag PyTorch's.
package workload

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"time"

	"github.com/nabla-go/nabla"
)

// Result is one measured figure.
type Result struct {
	Workload string  `json:"workload"`
	Case     string  `json:"case"`
	Impl     string  `json:"impl"`
	Metric   string  `json:"metric"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	Threads  int     `json:"threads"`
}

// Config chooses what to run.
type Config struct {
	Workloads []string // "W1".."W10" or "OPS"; W1..W5 when empty
	Threads   []int    // thread counts (GOMAXPROCS) to measure; [1] when empty
	Quick     bool     // a short run, under a minute in all
	DataDir   string   // Fashion-MNIST folder; the Debian one when empty
	Epochs    int      // W3 epochs (accuracy is read after the last); 5 when 0
	TextFile  string   // W6..W8 corpus; Opticks from GOROOT when empty
	ModelsDir string   // W9's folder of resnet18.onnx; $NABLA_ONNX_MODELS when empty
	// W6ValSteps, when positive, adds W6's validation loss after that many
	// training steps of a fresh model (a long run).
	W6ValSteps int

	opsShape [2]int // OPS tensor shape; (256, 4096) when zero (tests shrink it)
}

// Run runs the chosen workloads and passes each figure to emit as soon as it
// is measured. It restores GOMAXPROCS before it returns.
func Run(ctx context.Context, cfg Config, emit func(Result)) error {
	wls := cfg.Workloads
	if len(wls) == 0 {
		wls = []string{"W1", "W2", "W3", "W4", "W5"}
	}
	threads := cfg.Threads
	if len(threads) == 0 {
		threads = []int{1}
	}
	old := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(old)
	for _, w := range wls {
		for _, th := range threads {
			if err := ctx.Err(); err != nil {
				return err
			}
			runtime.GOMAXPROCS(th)
			send := func(r Result) {
				r.Workload, r.Impl, r.Threads = w, "nabla", th
				emit(r)
			}
			var err error
			switch w {
			case "W1":
				err = gemm(ctx, cfg, send)
			case "W2":
				err = eager(ctx, cfg, send)
			case "W3":
				err = mlpEpochs(ctx, cfg, send)
			case "W4":
				err = lenetEpoch(ctx, cfg, send)
			case "W5":
				err = inference(ctx, cfg, send)
			case "W6":
				err = gptTraining(ctx, cfg, send)
			case "W7":
				err = lstmTraining(ctx, cfg, send)
			case "W8":
				err = gptGeneration(ctx, cfg, send)
			case "W10":
				err = generation(ctx, cfg, send)
			case "OPS":
				err = ops(ctx, cfg, send)
			default:
				r, ok := registered[w]
				if !ok {
					return fmt.Errorf("unknown workload %q (want W1..W10 or OPS)", w)
				}
				err = r(ctx, cfg, send)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", w, err)
			}
		}
	}
	return nil
}

// registered holds the workloads of other packages (see Register).
var registered = map[string]func(context.Context, Config, func(Result)) error{}

// Register makes Run run the workload name with run: a workload that
// needs a package which imports this one in its tests (W9 and package
// onnx). It is called from init functions.
func Register(name string, run func(ctx context.Context, cfg Config, emit func(Result)) error) {
	registered[name] = run
}

// TimeReps is timeReps, for registered workloads.
func TimeReps(ctx context.Context, reps int, minDur time.Duration, f func()) float64 {
	return timeReps(ctx, reps, minDur, f)
}

// median returns the median of xs.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// timeReps runs f in repetitions of enough calls to last at least minDur
// each, after one warm-up call, and returns the median seconds per call.
// A cancelled ctx cuts the repetitions short, after the first (so that
// there is a median).
func timeReps(ctx context.Context, reps int, minDur time.Duration, f func()) float64 {
	f()
	var per []float64
	for range reps {
		if ctx.Err() != nil && len(per) > 0 {
			break
		}
		n := 0
		start := time.Now()
		for time.Since(start) < minDur || n == 0 {
			f()
			n++
		}
		per = append(per, time.Since(start).Seconds()/float64(n))
	}
	return median(per)
}

// gemm measures float32 matrix products through the public MatMul, with
// the output recycled by an arena as PyTorch's out= does.
func gemm(ctx context.Context, cfg Config, emit func(Result)) error {
	rng := rand.New(rand.NewPCG(1, 2))
	type shape struct{ m, k, n int }
	shapes := []shape{{256, 256, 256}, {512, 512, 512}, {1024, 1024, 1024}, {2048, 2048, 2048}, {128, 784, 256}}
	reps, dur := 5, 200*time.Millisecond
	if cfg.Quick {
		reps, dur = 3, 50*time.Millisecond
	}
	for _, s := range shapes {
		ar := nabla.NewArena()
		a := nabla.RandN(rng, s.m, s.k).InArena(ar)
		b := nabla.RandN(rng, s.k, s.n)
		sec := timeReps(ctx, reps, dur, func() {
			a.MatMul(b)
			ar.Reset()
		})
		emit(Result{Case: fmt.Sprintf("%dx%dx%d", s.m, s.k, s.n), Metric: "gflops", Unit: "GFLOP/s",
			Value: 2 * float64(s.m) * float64(s.k) * float64(s.n) / sec / 1e9})
	}
	return nil
}

// chainOps is the length of the W2 chain: 5,000 times y = (y*0.999).Tanh().
const chainOps = 10000

func chain(x *nabla.Tensor) *nabla.Tensor {
	y := x
	for range chainOps / 2 {
		y = y.MulScalar(0.999).Tanh()
	}
	return y
}

// eager measures the per-op overhead of eager execution.
func eager(ctx context.Context, cfg Config, emit func(Result)) error {
	reps, dur := 7, 200*time.Millisecond
	if cfg.Quick {
		reps, dur = 3, 50*time.Millisecond
	}
	for _, c := range []struct {
		name  string
		shape []int
	}{{"1elem", []int{1}}, {"64x64", []int{64, 64}}} {
		x := nabla.Full(0.5, c.shape...)
		sec := timeReps(ctx, reps, dur, func() { chain(x) })
		emit(Result{Case: c.name, Metric: "fwd_us_per_op", Unit: "us", Value: sec / chainOps * 1e6})
		xg := nabla.Full(0.5, c.shape...).RequireGrad()
		sec = timeReps(ctx, reps, dur, func() {
			xg.ZeroGrad()
			chain(xg).Sum().Backward()
		})
		emit(Result{Case: c.name, Metric: "fwd_bwd_us_per_op", Unit: "us", Value: sec / chainOps * 1e6})
	}
	return nil
}
