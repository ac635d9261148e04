// Command sort-transformer trains a small GPT to sort sequences of digits,
// minGPT's sorter: a sequence of 6 digits from 0..2 is followed by the same
// digits sorted, and the model, reading left to right, learns to write the
// sorted half; the loss counts only the predictions of that half. A fifth
// of the 729 possible inputs is held out of training, and the accuracy is
// the fraction of them whose 6 greedily generated digits (with the KV
// cache) are exactly the sorted input. It writes the training loss and the
// held-out accuracy as the model learns.
//
//	go run ./examples/sort-transformer             # writes nabla-examples/sort-transformer.png in the temporary folder
//	go run ./examples/sort-transformer -steps 100 -out curves.png
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
	"github.com/nabla-go/nabla/models/gpt"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/optim"
)

const (
	length = 6 // digits to sort
	digits = 3 // digits are 0..digits-1
)

func main() {
	steps := flag.Int("steps", 200, "training steps of 64 sequences")
	out := flag.String("out", chart.DefaultOut("sort-transformer.png"), "PNG file for the learning curves (default in the temporary folder)")
	flag.Parse()
	if _, err := run(os.Stdout, *steps, *out); err != nil {
		fmt.Fprintln(os.Stderr, "sort-transformer:", err)
		os.Exit(1)
	}
}

// tokenIDs returns rows of token ids as an (N, T) tensor in the form
// models/gpt takes: Int64.
func tokenIDs(rows [][]int) *nabla.Tensor {
	d := make([]int64, 0, len(rows)*len(rows[0]))
	for _, r := range rows {
		for _, id := range r {
			d = append(d, int64(id))
		}
	}
	return nabla.FromSlice(d, len(rows), len(rows[0]))
}

// allInputs returns every sequence of length digits, in a shuffled order.
func allInputs(rng *rand.Rand) [][]int {
	n := 1
	for range length {
		n *= digits
	}
	out := make([][]int, n)
	for i := range out {
		s, v := make([]int, length), i
		for j := range s {
			s[j], v = v%digits, v/digits
		}
		out[i] = s
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// example returns the model's input (the digits and all but the last of
// the sorted ones, 2·length-1 tokens) and its targets for the sorted half.
func example(in []int) (x, y []int) {
	seq := append(slices.Clone(in), in...)
	slices.Sort(seq[length:])
	return seq[:2*length-1], seq[length:]
}

// accuracy returns the fraction of inputs whose generated continuation is
// exactly the sorted input.
func accuracy(g *gpt.GPT, inputs [][]int) (float64, error) {
	out, err := g.Generate(tokenIDs(inputs), length, gpt.Greedy, true)
	if err != nil {
		return 0, err
	}
	got := out.Float64s()
	right := 0
	for i, in := range inputs {
		_, want := example(in)
		ok := true
		for j, w := range want {
			ok = ok && got[i*2*length+length+j] == float64(w)
		}
		if ok {
			right++
		}
	}
	return float64(right) / float64(len(inputs)), nil
}

func run(w io.Writer, steps int, out string) (testAcc float64, err error) {
	rng := rand.New(rand.NewPCG(1, 2))
	all := allInputs(rng)
	test, train := all[:len(all)/5], all[len(all)/5:]
	// context 2·length: the 2·length-1 inputs of training, and room for
	// the cached generation of length tokens after length
	g, err := gpt.New(rng, gpt.Config{Vocab: digits, Context: 2 * length, Layers: 2, Heads: 4, Embed: 48})
	if err != nil {
		return 0, err
	}
	opt := optim.NewAdamW(g.Params(), optim.AdamConfig{LR: 3e-3})
	data := rand.New(rand.NewPCG(3, 4))
	const batch = 64
	start := time.Now()
	var loss *nabla.Tensor
	var lossCurve, accCurve plotter.XYs
	for step := range steps {
		xs, ys := make([][]int, batch), make([][]int, batch)
		for i := range xs {
			xs[i], ys[i] = example(train[data.IntN(len(train))])
		}
		// the loss counts only the positions that predict the sorted half
		logits := g.Forward(tokenIDs(xs)).Slice(1, length-1, 2*length-1, 1)
		loss = nn.CrossEntropy(logits.Reshape(batch*length, digits), tokenIDs(ys).Reshape(batch*length))
		opt.ZeroGrad()
		loss.Backward()
		opt.Step()
		lossCurve = append(lossCurve, plotter.XY{X: float64(step + 1), Y: loss.Item()})
		if (step+1)%20 == 0 || step == steps-1 {
			nn.SetTraining(g, false)
			acc, err := accuracy(g, test)
			if err != nil {
				return 0, err
			}
			nn.SetTraining(g, true)
			accCurve = append(accCurve, plotter.XY{X: float64(step + 1), Y: acc})
		}
		if (step+1)%50 == 0 {
			fmt.Fprintf(w, "step %d: loss %.4f\n", step+1, loss.Item())
		}
	}
	nn.SetTraining(g, false)
	trainAcc, err := accuracy(g, train)
	if err != nil {
		return 0, err
	}
	if testAcc, err = accuracy(g, test); err != nil {
		return 0, err
	}
	fmt.Fprintf(w, "sort-transformer: %s, AdamW 3e-3, %d steps of %d in %.1f s\n", g, steps, batch, time.Since(start).Seconds())
	fmt.Fprintf(w, "accuracy: train %.4f on %d sequences, held-out %.4f on %d\n", trainAcc, len(train), testAcc, len(test))
	p, _ := example(test[0])
	gen, _ := g.Generate(tokenIDs([][]int{p[:length]}), length, gpt.Greedy, true)
	fmt.Fprintf(w, "example: %v -> %v\n", p[:length], gen.Float64s()[length:])
	pl := chart.New("GPT learning to sort", "step", "loss on the sorted half")
	if err := chart.AddLines(pl, chart.Series{Name: "train", Points: lossCurve}); err != nil {
		return 0, err
	}
	pl.Y.Min = 0
	pa := chart.New("held-out sequences sorted exactly", "step", "accuracy")
	if err := chart.AddLines(pa, chart.Series{Name: "held-out", Points: accCurve}); err != nil {
		return 0, err
	}
	pa.Legend.Top = false
	pa.Y.Min, pa.Y.Max = 0, 1
	if err := chart.Save(out, 9*vg.Inch, 3.5*vg.Inch, pl, pa); err != nil {
		return 0, err
	}
	fmt.Fprintln(w, "wrote", out)
	return testAcc, nil
}
