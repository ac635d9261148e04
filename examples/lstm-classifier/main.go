// Command lstm-classifier trains a bidirectional LSTM to tell whether a
// sequence of digits is sorted (non-decreasing), a synthetic task that
// needs no data: half the sequences are sorted, a quarter are random, and
// a quarter are sorted but for one swapped pair of neighbours, the hard
// case, since the model must notice a single step down anywhere. Each
// digit is embedded, the LSTM reads the sequence both ways, and a linear
// layer classifies the two final hidden states side by side. It prints
// the test accuracy and writes the learning curves.
//
//	go run ./examples/lstm-classifier             # writes nabla-examples/lstm-classifier.png in the temporary folder
//	go run ./examples/lstm-classifier -steps 300 -out curves.png
package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/examples/internal/chart"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/optim"
)

const (
	seqLen = 10 // digits per sequence
	digits = 10
)

func main() {
	steps := flag.Int("steps", 400, "training steps of 64 sequences")
	out := flag.String("out", chart.DefaultOut("lstm-classifier.png"), "PNG file for the learning curves (default in the temporary folder)")
	flag.Parse()
	if _, err := run(os.Stdout, *steps, *out); err != nil {
		fmt.Fprintln(os.Stderr, "lstm-classifier:", err)
		os.Exit(1)
	}
}

// Classifier is an embedding, a bidirectional LSTM and a linear head.
type Classifier struct {
	Embed *nn.Embedding
	LSTM  *nn.LSTM
	Head  *nn.Linear
}

// Children names the parts as a PyTorch module with attributes embed,
// lstm and head would.
func (m *Classifier) Children() []nn.Child {
	return []nn.Child{{Name: "embed", Module: m.Embed}, {Name: "lstm", Module: m.LSTM}, {Name: "head", Module: m.Head}}
}

// Params returns every part's parameters.
func (m *Classifier) Params() []nn.Param { return nn.Collect(m.Children()...) }

// Forward returns the (B, 2) logits for the digit sequences x (B, T).
func (m *Classifier) Forward(x *nabla.Tensor) *nabla.Tensor {
	_, hn, _ := m.LSTM.ForwardState(m.Embed.Forward(x), nil, nil)
	// h_n is (2, B, H): the forward pass's final state and the backward's
	both := nabla.Concat([]*nabla.Tensor{hn.Index(0, 0), hn.Index(0, 1)}, 1)
	return m.Head.Forward(both)
}

// sequences returns n digit sequences (n, seqLen) and their labels, 1 for
// sorted, both Int64.
func sequences(rng *rand.Rand, n int) (x, y *nabla.Tensor) {
	xs := make([]int64, 0, n*seqLen)
	ys := make([]int64, n)
	s := make([]int, seqLen)
	for i := range n {
		for j := range s {
			s[j] = rng.IntN(digits)
		}
		switch kind := rng.IntN(4); {
		case kind < 2: // sorted
			slices.Sort(s)
		case kind == 2: // sorted but for one step down
			slices.Sort(s)
			if s[0] == s[seqLen-1] {
				s[0], s[seqLen-1] = 9, 0
			}
			for {
				j := rng.IntN(seqLen - 1)
				if s[j] != s[j+1] {
					s[j], s[j+1] = s[j+1], s[j]
					break
				}
			}
		}
		if slices.IsSorted(s) {
			ys[i] = 1
		}
		for _, d := range s {
			xs = append(xs, int64(d))
		}
	}
	return nabla.FromSlice(xs, n, seqLen), nabla.FromSlice(ys)
}

func run(w io.Writer, steps int, out string) (testAcc float64, err error) {
	rng := rand.New(rand.NewPCG(1, 2))
	model := &Classifier{
		Embed: nn.NewEmbedding(rng, digits, 8),
		LSTM:  nn.NewLSTM(rng, 8, 32, nn.RNNOptions{BatchFirst: true, Bidirectional: true}),
		Head:  nn.NewLinear(rng, 64, 2),
	}
	opt := optim.NewAdam(model.Params(), optim.AdamConfig{LR: 1e-2})
	testX, testY := sequences(rand.New(rand.NewPCG(7, 7)), 1000)
	data := rand.New(rand.NewPCG(3, 4))

	start := time.Now()
	var trainLoss, testAccs plotter.XYs
	for step := range steps {
		x, y := sequences(data, 64)
		loss := nn.CrossEntropy(model.Forward(x), y)
		opt.ZeroGrad()
		loss.Backward()
		opt.Step()
		trainLoss = append(trainLoss, plotter.XY{X: float64(step + 1), Y: loss.Item()})
		if (step+1)%25 == 0 || step == steps-1 {
			nn.NoGrad(model, func() { testAcc = nn.Accuracy(model.Forward(testX), testY) })
			testAccs = append(testAccs, plotter.XY{X: float64(step + 1), Y: testAcc})
		}
	}
	fmt.Fprintf(w, "lstm-classifier: is a sequence of %d digits sorted? bidirectional LSTM (hidden 32), Adam 1e-2, %d steps of 64 in %.1f s\n",
		seqLen, steps, time.Since(start).Seconds())
	fmt.Fprintf(w, "test accuracy %.4f on 1000 sequences (a quarter of them sorted but for one swapped pair)\n", testAcc)

	pl := chart.New("bidirectional LSTM: is it sorted?", "step", "train loss")
	if err := chart.AddLines(pl, chart.Series{Name: "train", Points: trainLoss}); err != nil {
		return 0, err
	}
	pl.Y.Min = 0
	pl.Legend.Top = true
	pa := chart.New("test accuracy", "step", "accuracy")
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
