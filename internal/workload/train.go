package workload

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/data"
	"github.com/nabla-go/nabla/datasets"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/optim"
)

// MLP returns the W3/W5 model: 784-256-128-10 with ReLU, initialised as
// PyTorch does.
func MLP(rng *rand.Rand) *nn.Sequential {
	return nn.NewSequential(
		nn.NewFlatten(),
		nn.NewLinear(rng, 784, 256), nn.ReLU{},
		nn.NewLinear(rng, 256, 128), nn.ReLU{},
		nn.NewLinear(rng, 128, 10),
	)
}

// LeNet returns the W4 model: conv 5×5×6 pad 2, ReLU, max-pool 2, conv
// 5×5×16, ReLU, max-pool 2, then 120, 84 and 10 units.
func LeNet(rng *rand.Rand) *nn.Sequential {
	return nn.NewSequential(
		nn.NewConv2d(rng, 1, 6, [2]int{5, 5}, nabla.ConvOptions{Padding: [2]int{2, 2}}), nn.ReLU{},
		nn.NewMaxPool2d([2]int{2, 2}, [2]int{}, [2]int{}),
		nn.NewConv2d(rng, 6, 16, [2]int{5, 5}, nabla.ConvOptions{}), nn.ReLU{},
		nn.NewMaxPool2d([2]int{2, 2}, [2]int{}, [2]int{}),
		nn.NewFlatten(),
		nn.NewLinear(rng, 16*5*5, 120), nn.ReLU{},
		nn.NewLinear(rng, 120, 84), nn.ReLU{},
		nn.NewLinear(rng, 84, 10),
	)
}

// fashion loads Fashion-MNIST as datasets of (1, 28, 28) images scaled to
// [0, 1] as they are read, keeping the pixels as bytes (47 MB for the
// training set instead of 188 MB as float32).
func fashion(dir string, quick bool) (train, test data.Dataset, err error) {
	load := func(isTrain bool) (data.Dataset, error) {
		d, err := datasets.FashionMNISTPixels(dir, isTrain)
		if err != nil {
			return nil, err
		}
		n := d.NumSamples
		if quick {
			n = min(n, 2048)
		}
		y := make([]float32, n)
		for i := range y {
			y[i] = float32(d.Labels[i])
		}
		return data.FromBytes(d.Pixels[:n*784], []int{n, 1, 28, 28}, 1.0/255, y, []int{n})
	}
	if train, err = load(true); err != nil {
		return nil, nil, err
	}
	test, err = load(false)
	return train, test, err
}

// trainEpoch runs one epoch of Adam steps and returns its wall time.
func trainEpoch(ctx context.Context, m nn.Module, opt optim.Optimizer, loader *data.Loader, epoch int) (time.Duration, error) {
	ar := nabla.NewArena()
	nn.SetTraining(m, true)
	start := time.Now()
	for _, b := range loader.Epoch(epoch) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		opt.ZeroGrad()
		loss := nn.CrossEntropy(m.Forward(b.X.InArena(ar)), b.Y)
		loss.Backward()
		opt.Step()
		ar.Reset()
	}
	return time.Since(start), nil
}

// accuracy returns the fraction of test samples m classifies correctly.
func accuracy(m nn.Module, test data.Dataset) float64 {
	nn.SetTraining(m, false)
	loader := data.NewLoader(test, data.LoaderConfig{BatchSize: 1000, Labels: true})
	ar := nabla.NewArena()
	correct, total := 0.0, 0
	nn.NoGrad(m, func() {
		for _, b := range loader.Epoch(0) {
			n := b.X.Size(0)
			correct += nn.Accuracy(m.Forward(b.X.InArena(ar)), b.Y) * float64(n)
			total += n
			ar.Reset()
		}
	})
	return correct / float64(total)
}

// peakRSS returns the process's peak resident set size in MiB, from
// /proc/self/status (VmHWM), or 0 where that is not available.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

// trainWorkload trains m for epochs epochs and reports seconds per epoch
// (median), test accuracy and peak memory.
func trainWorkload(ctx context.Context, cfg Config, m nn.Module, batch, epochs int, emit func(Result)) error {
	train, test, err := fashion(cfg.DataDir, cfg.Quick)
	if err != nil {
		return err
	}
	caseName := "fashion-mnist"
	if cfg.Quick {
		caseName = "fashion-mnist-quick"
	}
	loader := data.NewLoader(train, data.LoaderConfig{BatchSize: batch, Shuffle: true, Seed: 0, Labels: true})
	opt := optim.NewAdam(m.Params(), optim.AdamConfig{LR: 1e-3})
	var secs []float64
	for e := range epochs {
		d, err := trainEpoch(ctx, m, opt, loader, e)
		if err != nil {
			return err
		}
		secs = append(secs, d.Seconds())
	}
	emit(Result{Case: caseName, Metric: "sec_per_epoch", Unit: "s", Value: median(secs)})
	emit(Result{Case: caseName, Metric: "test_accuracy", Unit: "fraction", Value: accuracy(m, test)})
	emit(Result{Case: caseName, Metric: "peak_rss_mib", Unit: "MiB", Value: peakRSS()})
	return nil
}

func mlpEpochs(ctx context.Context, cfg Config, emit func(Result)) error {
	epochs := cfg.Epochs
	if epochs == 0 {
		epochs = 5
	}
	if cfg.Quick {
		epochs = 1
	}
	return trainWorkload(ctx, cfg, MLP(rand.New(rand.NewPCG(0, 0))), 128, epochs, emit)
}

func lenetEpoch(ctx context.Context, cfg Config, emit func(Result)) error {
	return trainWorkload(ctx, cfg, LeNet(rand.New(rand.NewPCG(0, 0))), 64, 1, emit)
}

// inference measures one forward pass of the W3 MLP on a single image,
// without recording a graph.
func inference(ctx context.Context, cfg Config, emit func(Result)) error {
	rng := rand.New(rand.NewPCG(0, 0))
	m := MLP(rng)
	x := nabla.Rand(rng, 1, 784)
	reps, dur := 7, 200*time.Millisecond
	if cfg.Quick {
		reps, dur = 3, 50*time.Millisecond
	}
	ar := nabla.NewArena()
	var sec float64
	nn.NoGrad(m, func() {
		sec = timeReps(ctx, reps, dur, func() {
			m.Forward(x.InArena(ar))
			ar.Reset()
		})
	})
	emit(Result{Case: "mlp-batch1", Metric: "us_per_call", Unit: "us", Value: sec * 1e6})
	return nil
}
