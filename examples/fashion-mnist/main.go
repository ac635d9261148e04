// Command fashion-mnist trains the two reference networks of nabla's
// benchmarks on Fashion-MNIST (60,000 28×28 grayscale images of clothes in
// 10 classes, 10,000 more for testing) and prints the test accuracy and
// the seconds per epoch:
//
//   - mlp: 784-256-128-10 with ReLU, Adam 1e-3, batch 128, 5 epochs;
//   - cnn: LeNet-5 style, conv 5×5×6 (padding 2), ReLU, max-pool 2,
//     conv 5×5×16, ReLU, max-pool 2, then 120, 84 and 10 units;
//     Adam 1e-3, batch 64, 1 epoch.
//
// The data come from Debian's dataset-fashion-mnist package
// (apt-get install dataset-fashion-mnist) or from the folder given by -dir.
//
//	go run ./examples/fashion-mnist               # both models
//	go run ./examples/fashion-mnist -model cnn -epochs 2
package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/data"
	"github.com/nabla-go/nabla/datasets"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/optim"
)

func main() {
	var o options
	flag.StringVar(&o.model, "model", "both", "mlp, cnn or both")
	flag.IntVar(&o.epochs, "epochs", 0, "epochs (default: 5 for mlp, 1 for cnn)")
	flag.StringVar(&o.dir, "dir", "", "folder of the Fashion-MNIST IDX files (default "+datasets.FashionMNISTDir+")")
	flag.IntVar(&o.limit, "limit", 0, "use only the first N training and test images (0: all)")
	flag.Parse()
	if _, err := run(os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "fashion-mnist:", err)
		os.Exit(1)
	}
}

type options struct {
	model  string
	epochs int
	dir    string
	limit  int
}

// result is what one model achieved.
type result struct {
	model           string
	accuracy        float64
	secondsPerEpoch float64
}

func run(w io.Writer, o options) ([]result, error) {
	var names []string
	switch o.model {
	case "mlp", "cnn":
		names = []string{o.model}
	case "both":
		names = []string{"mlp", "cnn"}
	default:
		return nil, fmt.Errorf("unknown -model %q: want mlp, cnn or both", o.model)
	}
	train, err := load(o.dir, true, o.limit)
	if err != nil {
		return nil, err
	}
	test, err := load(o.dir, false, o.limit)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "Fashion-MNIST: %d training and %d test images\n", train.Len(), test.Len())
	var rs []result
	for _, name := range names {
		r, err := trainModel(w, name, o.epochs, train, test)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// load reads a split as a dataset of (1, 28, 28) images in [0, 1] and
// class labels.
func load(dir string, train bool, limit int) (*data.TensorDataset, error) {
	d, err := datasets.FashionMNIST(dir, train)
	if err != nil {
		return nil, err
	}
	n := d.NumSamples
	if limit > 0 {
		n = min(n, limit)
	}
	y := make([]float32, n)
	for i := range y {
		y[i] = float32(d.Labels[i])
	}
	return data.FromFloat32s(d.X[:n*d.NumFeatures], []int{n, 1, 28, 28}, y, []int{n})
}

// newModel returns the network and its batch size and default epochs.
func newModel(name string, rng *rand.Rand) (m nn.Module, batch, epochs int) {
	if name == "mlp" {
		return nn.NewSequential(
			nn.NewFlatten(),
			nn.NewLinear(rng, 784, 256), nn.ReLU{},
			nn.NewLinear(rng, 256, 128), nn.ReLU{},
			nn.NewLinear(rng, 128, 10),
		), 128, 5
	}
	pool := nn.NewMaxPool2d([2]int{2, 2}, [2]int{}, [2]int{})
	return nn.NewSequential(
		nn.NewConv2d(rng, 1, 6, [2]int{5, 5}, nabla.ConvOptions{Padding: [2]int{2, 2}}), nn.ReLU{}, pool, // 6×14×14
		nn.NewConv2d(rng, 6, 16, [2]int{5, 5}, nabla.ConvOptions{}), nn.ReLU{}, pool, // 16×5×5
		nn.NewFlatten(),
		nn.NewLinear(rng, 16*5*5, 120), nn.ReLU{},
		nn.NewLinear(rng, 120, 84), nn.ReLU{},
		nn.NewLinear(rng, 84, 10),
	), 64, 1
}

func trainModel(w io.Writer, name string, epochs int, train, test *data.TensorDataset) (result, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	m, batch, defEpochs := newModel(name, rng)
	if epochs <= 0 {
		epochs = defEpochs
	}
	opt := optim.NewAdam(m.Params(), optim.AdamConfig{LR: 1e-3})
	loader := data.NewLoader(train, data.LoaderConfig{BatchSize: batch, Shuffle: true, Seed: 1, Labels: true})
	fmt.Fprintf(w, "%s: %d parameters, Adam 1e-3, batch %d, %d epoch(s)\n", name, nn.NumParams(m), batch, epochs)
	var total time.Duration
	r := result{model: name}
	arena := nabla.NewArena() // recycles each step's buffers for the next
	for epoch := range epochs {
		start := time.Now()
		sum := 0.0
		for _, b := range loader.Epoch(epoch) {
			loss := nn.CrossEntropy(m.Forward(b.X.InArena(arena)), b.Y)
			opt.ZeroGrad()
			loss.Backward()
			opt.Step()
			sum += loss.Item() * float64(b.X.Size(0))
			arena.Reset()
		}
		took := time.Since(start)
		total += took
		r.accuracy = accuracy(m, test)
		fmt.Fprintf(w, "  epoch %d: train loss %.4f, test accuracy %.4f, %.1fs (%.0f images/s)\n",
			epoch+1, sum/float64(train.Len()), r.accuracy, took.Seconds(), float64(train.Len())/took.Seconds())
	}
	r.secondsPerEpoch = total.Seconds() / float64(epochs)
	fmt.Fprintf(w, "%s: test accuracy %.4f, %.1f s/epoch\n", name, r.accuracy, r.secondsPerEpoch)
	return r, nil
}

// accuracy returns the fraction of test images m classifies right,
// without recording a graph.
func accuracy(m nn.Module, test *data.TensorDataset) float64 {
	loader := data.NewLoader(test, data.LoaderConfig{BatchSize: 1000, Labels: true})
	correct := 0.0
	nn.NoGrad(m, func() {
		for _, b := range loader.Epoch(0) {
			correct += nn.Accuracy(m.Forward(b.X), b.Y) * float64(b.X.Size(0))
		}
	})
	return correct / float64(test.Len())
}
