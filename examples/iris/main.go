// Command iris trains a small MLP (4-16-3, ReLU) on Fisher's iris flowers,
// embedded in package datasets, holding out 20% of the 150 flowers for
// testing. It prints the test accuracy and writes the learning curves.
//
//	go run ./examples/iris                 # writes iris.png
//	go run ./examples/iris -epochs 50 -out curves.png
package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"

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
	epochs := flag.Int("epochs", 50, "passes over the training set")
	out := flag.String("out", "iris.png", "PNG file for the learning curves")
	flag.Parse()
	if _, err := run(os.Stdout, *epochs, *out); err != nil {
		fmt.Fprintln(os.Stderr, "iris:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, epochs int, out string) (testAcc float64, err error) {
	d, err := datasets.Iris()
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
	train, test := data.Split(all, 0.8, 1) // 120 flowers to learn from, 30 to test on
	scaler, err := data.Standardize(train) // statistics of the training flowers only
	if err != nil {
		return 0, err
	}
	trainSet, testSet := scaler.Apply(train), scaler.Apply(test)
	testX, testY := data.Collate(testSet, indices(testSet.Len()))
	testY = testY.To(nabla.Int64) // class indices

	rng := rand.New(rand.NewPCG(1, 2))
	model := nn.NewSequential(nn.NewLinear(rng, 4, 16), nn.ReLU{}, nn.NewLinear(rng, 16, 3))
	opt := optim.NewAdam(model.Params(), optim.AdamConfig{LR: 1e-2})
	loader := data.NewLoader(trainSet, data.LoaderConfig{BatchSize: 16, Shuffle: true, Seed: 3, Labels: true})

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
	fmt.Fprintf(w, "iris: %d train, %d test flowers; MLP 4-16-3, Adam 1e-2, %d epochs\n", trainSet.Len(), testSet.Len(), epochs)
	fmt.Fprintf(w, "test loss %.4f, test accuracy %.4f\n", testLoss[len(testLoss)-1].Y, testAcc)

	pl := chart.New("iris MLP: cross-entropy loss", "epoch", "loss")
	if err := chart.AddLines(pl, chart.Series{Name: "train", Points: trainLoss}, chart.Series{Name: "test", Points: testLoss, Dashed: true}); err != nil {
		return 0, err
	}
	pl.Y.Min = 0
	pl.Legend.Top = true
	pa := chart.New("iris MLP: test accuracy", "epoch", "accuracy")
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
