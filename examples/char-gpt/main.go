// Command char-gpt trains a small character-level GPT on Isaac Newton's
// Opticks, the Project Gutenberg text that ships with every Go toolchain
// (GOROOT/src/testdata/Isaac.Newton-Opticks.txt), and prints the
// training and validation loss and a sample of generated text every few
// steps. The default run is short (about half a minute on an idle core):
// the samples go from noise to English-looking words and spacing; train
// longer (-steps 3000) for Newton's vocabulary. It writes the loss curves
// (every step's training loss, the validation loss at each report).
//
//	go run ./examples/char-gpt             # writes nabla-examples/char-gpt.png in the temporary folder
//	go run ./examples/char-gpt -steps 3000 -every 500 -text other.txt -out curves.png
package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/examples/internal/chart"
	"github.com/nabla-go/nabla/models/gpt"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/optim"
	"github.com/nabla-go/nabla/text"
)

// options are the command's flags.
type options struct {
	textFile     string
	steps, every int
	sample       int    // characters per sample
	out          string // PNG file for the loss curves
}

const (
	context = 64
	batch   = 16
)

func main() {
	var o options
	flag.StringVar(&o.textFile, "text", "", "UTF-8 training text (default: Opticks from GOROOT/src/testdata)")
	flag.IntVar(&o.steps, "steps", 300, "training steps of 16 windows of 64 characters")
	flag.IntVar(&o.every, "every", 100, "print the losses and a sample every this many steps")
	flag.IntVar(&o.sample, "sample", 200, "characters per sample")
	flag.StringVar(&o.out, "out", chart.DefaultOut("char-gpt.png"), "PNG file for the loss curves (default in the temporary folder)")
	flag.Parse()
	if _, err := run(os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "char-gpt:", err)
		os.Exit(1)
	}
}

// opticks returns the path of Opticks in the Go installation.
func opticks() (string, error) {
	roots := []string{runtime.GOROOT()}
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		roots = append(roots, strings.TrimSpace(string(out)))
	}
	for _, r := range roots {
		p := filepath.Join(r, "src", "testdata", "Isaac.Newton-Opticks.txt")
		if _, err := os.Stat(p); r != "" && err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("Isaac.Newton-Opticks.txt is not in GOROOT/src/testdata (looked in %q); pass -text", roots)
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

// windows draws n windows of context+1 tokens from ids: inputs and targets.
func windows(rng *rand.Rand, ids []int, n int) (x, y *nabla.Tensor) {
	xs, ys := make([][]int, n), make([][]int, n)
	for i := range n {
		s := rng.IntN(len(ids) - context)
		xs[i], ys[i] = ids[s:s+context], ids[s+1:s+context+1]
	}
	return tokenIDs(xs), tokenIDs(ys)
}

// run trains the model and returns the validation losses it printed.
func run(w io.Writer, o options) (valLosses []float64, err error) {
	if o.steps <= 0 || o.every <= 0 || o.sample <= 0 {
		return nil, fmt.Errorf("-steps %d, -every %d and -sample %d must be positive", o.steps, o.every, o.sample)
	}
	path := o.textFile
	if path == "" {
		if path, err = opticks(); err != nil {
			return nil, err
		}
	}
	s, err := text.ReadFile(path)
	if err != nil {
		return nil, err
	}
	tok := text.NewCharTokenizer(s)
	ids, err := tok.Encode(s)
	if err != nil {
		return nil, err
	}
	train, val, err := text.SplitTokens(ids, 0.1)
	if err != nil {
		return nil, err
	}
	if len(val) <= context || len(train) <= context {
		return nil, fmt.Errorf("%s: %d characters are too few for windows of %d", path, len(ids), context)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	g, err := gpt.New(rng, gpt.Config{Vocab: tok.VocabSize(), Context: context, Layers: 2, Heads: 4, Embed: 64})
	if err != nil {
		return nil, err
	}
	opt := optim.NewAdamW(g.Params(), optim.AdamConfig{LR: 3e-3})
	data := rand.New(rand.NewPCG(3, 4))
	sampler := gpt.Sampling(rand.New(rand.NewPCG(5, 6)), 0.8, 0, 0)
	valX, valY := windows(rand.New(rand.NewPCG(7, 8)), val, 64) // a fixed validation batch
	fmt.Fprintf(w, "char-gpt: %s on %s (%d characters, %d distinct), AdamW 3e-3, batch %d\n",
		g, filepath.Base(path), len(ids), tok.VocabSize(), batch)
	start := time.Now()
	var trainCurve, valCurve plotter.XYs
	for step := 1; step <= o.steps; step++ {
		x, y := windows(data, train, batch)
		loss := g.Loss(x, y)
		opt.ZeroGrad()
		loss.Backward()
		opt.Step()
		trainCurve = append(trainCurve, plotter.XY{X: float64(step), Y: loss.Item()})
		if step%o.every != 0 && step != o.steps {
			continue
		}
		nn.SetTraining(g, false)
		var vl float64
		nn.NoGrad(g, func() { vl = g.Loss(valX, valY).Item() })
		valLosses = append(valLosses, vl)
		valCurve = append(valCurve, plotter.XY{X: float64(step), Y: vl})
		// a sample that starts from a newline; with the KV cache when it
		// fits the context, else rerunning the model on the last 64
		// characters for every new one
		nl, _ := tok.Encode("\n")
		out, err := g.Generate(tokenIDs([][]int{nl}), o.sample, sampler, 1+o.sample <= context)
		if err != nil {
			return nil, err
		}
		gen := make([]int, 0, out.Size(1))
		for _, v := range out.Float64s() {
			gen = append(gen, int(v))
		}
		str, err := tok.Decode(gen)
		if err != nil {
			return nil, err
		}
		nn.SetTraining(g, true)
		fmt.Fprintf(w, "\nstep %d (%.1f s): loss %.3f, validation loss %.3f\n%s\n", step, time.Since(start).Seconds(), loss.Item(), vl, strings.TrimSpace(str))
	}
	if o.out != "" {
		pl := chart.New("character-level GPT on "+filepath.Base(path), "step", "loss (nats per character)")
		if err := chart.AddLines(pl, chart.Series{Name: "train (one batch)", Points: trainCurve}, chart.Series{Name: "validation", Points: valCurve}); err != nil {
			return nil, err
		}
		pl.Legend.Top = true // above the curves, which fall to the right
		if err := chart.Save(o.out, 6*vg.Inch, 3.5*vg.Inch, pl); err != nil {
			return nil, err
		}
		fmt.Fprintln(w, "\nwrote", o.out)
	}
	return valLosses, nil
}
