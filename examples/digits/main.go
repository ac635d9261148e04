// Command digits trains an MLP (64-128-64-10, ReLU) on the 1,797 handwritten
// digits of 8×8 pixels embedded in package datasets, scaled from 0..16 to
// [0, 1], holding out 20% for testing. It prints the test accuracy and
// writes the learning curves.
//
//	go run ./examples/digits                 # writes digits.png
//	go run ./examples/digits -epochs 50 -out curves.png
package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/data"
	"github.com/nabla-go/nabla/datasets"
	"github.com/nabla-go/nabla/examples/internal/chart"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/optim"
)

func main() {
	epochs := flag.Int("epochs", 20, "passes over the training set")
	out := flag.String("out", "digits.png", "PNG file for the learning curves")
	flag.Parse()
	if _, err := run(os.Stdout, *epochs, *out); err != nil {
		fmt.Fprintln(os.Stderr, "digits:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, epochs int, out string) (testAcc float64, err error) {
	d, err := datasets.Digits()
	if err != nil {
		return 0, err
	}
	labels := make([]float32, d.NumSamples)
	for i, l := range d.Labels {
		labels[i] = float32(l)
	}
	all, err := data.FromFloat32s(d.X, []int{d.NumSamples, d.NumFeatures}, labels, []int{d.NumSamples})
	if err != nil {
		return 0, err
	}
	train, test := data.Split(all, 0.8, 1) // 1438 digits to learn from, 359 to test on
	// Pixels from 0..16 to [0, 1]: one mean and one deviation per pixel.
	scaler := data.Normalize(make([]float32, 64), slices.Repeat([]float32{16}, 64))
	trainSet, testSet := scaler.Apply(train), scaler.Apply(test)
	testX, testY := data.Collate(testSet, indices(testSet.Len()))
	testY = testY.To(nabla.Int64) // class indices

	rng := rand.New(rand.NewPCG(1, 2))
	model := nn.NewSequential(nn.NewLinear(rng, 64, 128), nn.ReLU{},
		nn.NewLinear(rng, 128, 64), nn.ReLU{}, nn.NewLinear(rng, 64, 10))
	opt := optim.NewAdam(model.Params(), optim.AdamConfig{LR: 1e-3})
	loader := data.NewLoader(trainSet, data.LoaderConfig{BatchSize: 32, Shuffle: true, Seed: 3, Labels: true})

	var trainLoss, testLoss, testAccs plotter.XYs
	for epoch := range epochs {
		sum := 0.0
		for _, b := range loader.Epoch(epoch) {
			loss := nn.CrossEntropy(model.Forward(b.X), b.Y)
			opt.ZeroGrad()
			loss.Backward()
			opt.Step()
			sum += loss.Item() * float64(b.X.Size(0))
		}
		var tl float64
		nn.NoGrad(model, func() {
			logits := model.Forward(testX)
			tl = nn.CrossEntropy(logits, testY).Item()
			testAcc = nn.Accuracy(logits, testY)
		})
		x := float64(epoch + 1)
		trainLoss = append(trainLoss, plotter.XY{X: x, Y: sum / float64(trainSet.Len())})
		testLoss = append(testLoss, plotter.XY{X: x, Y: tl})
		testAccs = append(testAccs, plotter.XY{X: x, Y: testAcc})
	}
	fmt.Fprintf(w, "digits: %d train, %d test images; MLP 64-128-64-10, Adam 1e-3, %d epochs\n", trainSet.Len(), testSet.Len(), epochs)
	fmt.Fprintf(w, "test loss %.4f, test accuracy %.4f\n", testLoss[len(testLoss)-1].Y, testAcc)

	pl := chart.New("digits MLP: cross-entropy loss", "epoch", "loss")
	if err := chart.AddLines(pl, chart.Series{Name: "train", Points: trainLoss}, chart.Series{Name: "test", Points: testLoss, Dashed: true}); err != nil {
		return 0, err
	}
	pl.Y.Min = 0
	pl.Legend.Top = true
	pa := chart.New("digits MLP: test accuracy", "epoch", "accuracy")
	if err := chart.AddLines(pa, chart.Series{Name: "test", Points: testAccs}); err != nil {
		return 0, err
	}
	pa.Legend.Top = false
	pa.Y.Max = 1
	if err := chart.Save(out, 9*vg.Inch, 3.5*vg.Inch, pl, pa); err != nil {
		return 0, err
	}
	fmt.Fprintln(w, "wrote", out)
	return testAcc, nil
}

func indices(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}
