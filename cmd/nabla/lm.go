package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/cmd/nabla/internal/model"
	"github.com/nabla-go/nabla/data"
	"github.com/nabla-go/nabla/models/gpt"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/optim"
	"github.com/nabla-go/nabla/safetensors"
	"github.com/nabla-go/nabla/text"
)

// Language models: `nabla train --data text --text-file PATH --model gpt`
// (or lstm) trains a character- or byte-level model on a UTF-8 text file
// and saves a run folder that `nabla eval` scores (validation loss and
// perplexity) and `nabla generate --checkpoint` samples from. They have a
// run folder of their own kind: config.json says "kind": "lm".

// lmConfig is config.json of a language-model run.
type lmConfig struct {
	Kind       string      `json:"kind"` // "lm"
	Generation int         `json:"generation"`
	Model      string      `json:"model"` // "gpt" or "lstm"
	Tokenizer  string      `json:"tokenizer"`
	Vocab      int         `json:"vocab"`
	Context    int         `json:"context"`
	GPT        *gpt.Config `json:"gpt,omitempty"`
	LSTM       *lstmShape  `json:"lstm,omitempty"`
	TextFile   string      `json:"text_file"` // as given on the command line
	ValFrac    float64     `json:"val_frac"`
	Steps      int         `json:"steps"`
	Batch      int         `json:"batch"`
	LR         float64     `json:"lr"`
	Seed       uint64      `json:"seed"`
}

type lstmShape struct {
	Embed, Hidden, Layers int
	Dropout               float64
}

const lmKind = "lm"

// lmModel is what a language model must do for the command.
type lmModel interface {
	nn.Module
	Loss(x, y *nabla.Tensor) *nabla.Tensor
}

func (c *lmConfig) build(rng *rand.Rand) (lmModel, error) {
	switch c.Model {
	case "gpt":
		if c.GPT == nil {
			return nil, errors.New("config.json: model gpt without its gpt section")
		}
		return gpt.New(rng, *c.GPT)
	case "lstm":
		s := c.LSTM
		if s == nil {
			return nil, errors.New("config.json: model lstm without its lstm section")
		}
		var m lmModel
		err := nabla.Maybe(func() { m = nn.NewLSTMLanguageModel(rng, c.Vocab, s.Embed, s.Hidden, s.Layers, s.Dropout) })
		return m, err
	}
	return nil, fmt.Errorf("config.json: language model %q is not gpt or lstm", c.Model)
}

// limits on a language model's sizes, so that a config cannot ask for
// more memory than the machine has
const (
	lmMaxWidth   = 8192
	lmMaxLayers  = 64
	lmMaxContext = 1 << 16
	lmMaxVocab   = 1 << 20
)

func (c *lmConfig) validate() error {
	in := func(name string, v, lo, hi int) error {
		if v < lo || v > hi {
			return fmt.Errorf("%s = %d, want %d to %d", name, v, lo, hi)
		}
		return nil
	}
	if c.Kind != lmKind {
		return fmt.Errorf("kind %q is not %q", c.Kind, lmKind)
	}
	if err := in("vocab", c.Vocab, 1, lmMaxVocab); err != nil {
		return err
	}
	if err := in("context", c.Context, 1, lmMaxContext); err != nil {
		return err
	}
	switch c.Model {
	case "gpt":
		g := c.GPT
		if g == nil {
			return errors.New("model gpt without its gpt section")
		}
		for _, f := range []struct {
			n         string
			v, lo, hi int
		}{{"gpt.Embed", g.Embed, 1, lmMaxWidth}, {"gpt.Layers", g.Layers, 1, lmMaxLayers}, {"gpt.Heads", g.Heads, 1, lmMaxWidth}, {"gpt.Context", g.Context, 1, lmMaxContext}, {"gpt.Vocab", g.Vocab, c.Vocab, c.Vocab}} {
			if err := in(f.n, f.v, f.lo, f.hi); err != nil {
				return err
			}
		}
		if g.Embed%g.Heads != 0 {
			return fmt.Errorf("gpt.Embed %d is not a multiple of gpt.Heads %d", g.Embed, g.Heads)
		}
	case "lstm":
		s := c.LSTM
		if s == nil {
			return errors.New("model lstm without its lstm section")
		}
		for _, f := range []struct {
			n     string
			v, hi int
		}{{"lstm.Embed", s.Embed, lmMaxWidth}, {"lstm.Hidden", s.Hidden, lmMaxWidth}, {"lstm.Layers", s.Layers, lmMaxLayers}} {
			if err := in(f.n, f.v, 1, f.hi); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("model %q is not gpt or lstm", c.Model)
	}
	return nil
}

// isTextData reports whether a train command line asks for a language
// model (--data text).
func isTextData(args []string) bool {
	for i, a := range args {
		a = strings.TrimLeft(a, "-")
		if a == "data=text" || a == "data" && i+1 < len(args) && args[i+1] == "text" {
			return true
		}
	}
	return false
}

type lmFlags struct {
	textFile, model, tok, out         string
	layers, heads, embed, hidden, ctx int
	steps, batch, evalEvery           int
	lr, valFrac, dropout              float64
	seed                              uint64
	overwrite                         bool
}

func runTrainText(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f lmFlags
	fs := newFlags("train", "train --data text --text-file PATH [flags]\n\nTrains a character- or byte-level language model on a UTF-8 text file and writes into --out: "+checkpointFile+", "+configFile+", "+metricsFile+" and "+curvesFile+".", stdout)
	var dataName string
	fs.StringVar(&dataName, "data", "text", "text: a language model (see 'nabla train --help' for the other data)")
	fs.StringVar(&f.textFile, "text-file", "", "the UTF-8 text to train on, e.g. $(go env GOROOT)/src/testdata/Isaac.Newton-Opticks.txt")
	fs.StringVar(&f.model, "model", "gpt", "gpt or lstm")
	fs.StringVar(&f.tok, "tokenizer", "char", "char (the characters of the text) or byte")
	fs.IntVar(&f.layers, "layers", 2, "Transformer blocks or LSTM layers")
	fs.IntVar(&f.heads, "heads", 4, "attention heads (gpt)")
	fs.IntVar(&f.embed, "embed", 128, "embedding width")
	fs.IntVar(&f.hidden, "hidden", 256, "LSTM hidden units (lstm)")
	fs.IntVar(&f.ctx, "context", 128, "tokens the model sees at once")
	fs.IntVar(&f.steps, "steps", 500, "training steps")
	fs.IntVar(&f.batch, "batch-size", 32, "windows per step")
	fs.IntVar(&f.evalEvery, "eval-every", 100, "steps between validation losses")
	fs.Float64Var(&f.lr, "lr", 3e-4, "AdamW learning rate")
	fs.Float64Var(&f.valFrac, "val-frac", 0.1, "fraction of the text (its end) held out for validation")
	fs.Float64Var(&f.dropout, "dropout", 0, "dropout while training")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the initial weights and of the batch order")
	fs.StringVar(&f.out, "out", "", "output folder (default runs/text-MODEL, -2, -3, ... if taken)")
	fs.BoolVar(&f.overwrite, "overwrite", false, "replace the run in an existing --out")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usagef("unexpected argument %q (train takes only flags)", fs.Arg(0))
	case dataName != "text":
		return usagef("--data %q with language-model flags: want --data text", dataName)
	case f.textFile == "":
		return usagef("--data text needs --text-file PATH")
	case f.model != "gpt" && f.model != "lstm":
		return usagef("invalid value %q for --model with --data text: want gpt or lstm", f.model)
	case f.tok != "char" && f.tok != "byte":
		return usagef("invalid value %q for --tokenizer: want char or byte", f.tok)
	case f.steps < 1 || f.batch < 1 || f.evalEvery < 1 || f.ctx < 1 || f.layers < 1 || f.heads < 1 || f.embed < 1 || f.hidden < 1:
		return usagef("--steps, --batch-size, --eval-every, --context, --layers, --heads, --embed and --hidden must be positive")
	case !(f.lr > 0) || math.IsInf(f.lr, 0):
		return usagef("invalid value %v for --lr: want a positive rate", f.lr)
	case !(f.valFrac > 0 && f.valFrac < 1):
		return usagef("invalid value %v for --val-frac: want a fraction strictly between 0 and 1", f.valFrac)
	case !(f.dropout >= 0 && f.dropout < 1):
		return usagef("invalid value %v for --dropout: want a value in [0, 1)", f.dropout)
	case f.model == "gpt" && f.embed%f.heads != 0:
		return usagef("--embed %d is not a multiple of --heads %d", f.embed, f.heads)
	}
	corpus, err := readText(f.textFile)
	if err != nil {
		return err
	}
	var tok text.Tokenizer = text.ByteTokenizer{}
	if f.tok == "char" {
		tok = text.NewCharTokenizer(corpus)
	}
	ids, err := tok.Encode(corpus)
	if err != nil {
		return err
	}
	trainIDs, valIDs, err := text.SplitTokens(ids, f.valFrac)
	if err != nil {
		return fmt.Errorf("%s: %w", f.textFile, err)
	}
	trainW, err := text.NewWindows(trainIDs, f.ctx, 1)
	if err != nil {
		return fmt.Errorf("%s (training part): %w", f.textFile, err)
	}
	valW, err := text.NewWindows(valIDs, f.ctx, f.ctx)
	if err != nil {
		return fmt.Errorf("%s (validation part, --val-frac %v): %w", f.textFile, f.valFrac, err)
	}
	cfg := &lmConfig{Kind: lmKind, Model: f.model, Tokenizer: f.tok, Vocab: tok.VocabSize(), Context: f.ctx, TextFile: f.textFile,
		ValFrac: f.valFrac, Steps: f.steps, Batch: f.batch, LR: f.lr, Seed: f.seed}
	if f.model == "gpt" {
		cfg.GPT = &gpt.Config{Vocab: cfg.Vocab, Context: f.ctx, Layers: f.layers, Heads: f.heads, Embed: f.embed, Dropout: f.dropout}
	} else {
		cfg.LSTM = &lstmShape{Embed: f.embed, Hidden: f.hidden, Layers: f.layers, Dropout: f.dropout}
	}
	if err := cfg.validate(); err != nil {
		return usagef("%v", err)
	}
	if f.out == "" {
		f.out = freeRunDir(filepath.Join("runs", "text-"+f.model))
	}
	hadRun := holdsRun(f.out)
	if hadRun && !f.overwrite {
		return usagef("--out %s holds a trained model already: pass --overwrite to replace it, or choose another --out", f.out)
	}
	m, err := cfg.build(rand.New(rand.NewPCG(f.seed, 1)))
	if err != nil {
		return err
	}
	nparams := 0
	for _, p := range m.Params() {
		nparams += p.Tensor.Len()
	}
	fmt.Fprintf(stdout, "data %s: %d %s tokens (vocabulary %d), %d for training, %d for validation\n", f.textFile, len(ids), f.tok, cfg.Vocab, len(trainIDs), len(valIDs))
	fmt.Fprintf(stdout, "model %s: %d parameters; adamw lr %g, batch %d, context %d, %d steps\n", f.model, nparams, f.lr, f.batch, f.ctx, f.steps)

	opt := optim.NewAdamW(m.Params(), optim.AdamConfig{LR: f.lr})
	loader := data.NewLoader(trainW, data.LoaderConfig{BatchSize: f.batch, Shuffle: true, Seed: f.seed, Labels: true})
	var curve []lmPoint
	start := time.Now()
	step, epoch := 0, 0
	var runLoss float64
	var runN int
	interrupted := false
	nn.SetTraining(m, true)
train:
	for {
		for _, b := range loader.Epoch(epoch) {
			if ctx.Err() != nil {
				interrupted = true
				break train
			}
			var l float64
			if err := nabla.Maybe(func() {
				opt.ZeroGrad()
				loss := m.Loss(b.X.To(nabla.Int64), b.Y)
				loss.Backward()
				opt.Step()
				l = loss.Item()
			}); err != nil {
				return err
			}
			if math.IsNaN(l) || math.IsInf(l, 0) {
				return fmt.Errorf("step %d: the loss is %v; try a smaller --lr", step+1, l)
			}
			step++
			runLoss += l
			runN++
			if step%f.evalEvery == 0 || step == f.steps {
				vl, err := lmValLoss(m, valW, f.batch)
				if err != nil {
					return err
				}
				nn.SetTraining(m, true)
				p := lmPoint{Step: step, TrainLoss: runLoss / float64(runN), ValLoss: vl}
				curve = append(curve, p)
				el := time.Since(start).Seconds()
				fmt.Fprintf(stdout, "step %5d/%d  train_loss %.4f  val_loss %.4f  val_ppl %.2f  %.0f tokens/s\n", step, f.steps, p.TrainLoss, p.ValLoss, math.Exp(p.ValLoss), float64(step*f.batch*f.ctx)/el)
				runLoss, runN = 0, 0
			}
			if step == f.steps {
				break train
			}
		}
		epoch++
	}
	saveDir := f.out
	if interrupted && hadRun {
		saveDir = f.out + ".interrupted"
	}
	if err := saveLM(saveDir, m, tok, cfg, curve); err != nil {
		return err
	}
	if interrupted {
		fmt.Fprintf(stderr, "nabla train: interrupted after %d of %d steps; saved the current weights to %s\n", step, f.steps, saveDir)
		return errInterrupted
	}
	fmt.Fprintf(stdout, "saved %s\n", saveDir)
	return nil
}

// readText reads a UTF-8 text file of at most model.MaxFile bytes.
func readText(path string) (string, error) {
	b, err := model.ReadLimited(path, model.MaxFileBytes)
	if err != nil {
		return "", err
	}
	if err := text.CheckUTF8(b); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if len(b) == 0 {
		return "", fmt.Errorf("%s: the file is empty", path)
	}
	return string(b), nil
}

type lmPoint struct {
	Step               int
	TrainLoss, ValLoss float64
}

// lmValLoss returns the mean next-token cross-entropy over every
// validation window, in evaluation mode.
func lmValLoss(m lmModel, val *text.Windows, batch int) (float64, error) {
	nn.SetTraining(m, false)
	var sum float64
	var n int
	var err error
	nn.NoGrad(m, func() {
		err = nabla.Maybe(func() {
			loader := data.NewLoader(val, data.LoaderConfig{BatchSize: batch, Labels: true})
			for _, b := range loader.Epoch(0) {
				k := b.X.Size(0)
				sum += m.Loss(b.X.To(nabla.Int64), b.Y).Item() * float64(k)
				n += k
			}
		})
	})
	if err != nil {
		return 0, err
	}
	return sum / float64(n), nil
}

// saveLM writes a language model's run folder: the checkpoint first, with
// the tokenizer's vocabulary and a copy of config.json in its metadata,
// then config.json, the metrics and the loss curves, each atomically.
func saveLM(dir string, m lmModel, tok text.Tokenizer, cfg *lmConfig, curve []lmPoint) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := model.RemoveStaleTemps(dir, runFiles...); err != nil {
		return err
	}
	cfg.Generation = generation(dir) + 1
	js, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	meta := tok.Metadata()
	meta["format"] = "pt"
	meta["model"] = cfg.Model
	meta[genKey] = strconv.Itoa(cfg.Generation)
	meta[configKey] = string(js)
	if err := model.SaveWeights(filepath.Join(dir, checkpointFile), m, meta); err != nil {
		return err
	}
	if err := model.WriteAtomic(filepath.Join(dir, configFile), func(w io.Writer) error {
		_, err := w.Write(append(js, '\n'))
		return err
	}); err != nil {
		return err
	}
	if err := model.WriteAtomic(filepath.Join(dir, metricsFile), func(w io.Writer) error {
		fmt.Fprintln(w, "step,train_loss,val_loss,val_perplexity")
		for _, p := range curve {
			fmt.Fprintf(w, "%d,%.6f,%.6f,%.4f\n", p.Step, p.TrainLoss, p.ValLoss, math.Exp(p.ValLoss))
		}
		return nil
	}); err != nil {
		return err
	}
	if len(curve) == 0 {
		return nil
	}
	return plotLMCurves(filepath.Join(dir, curvesFile), cfg.Model+" on "+filepath.Base(cfg.TextFile), curve)
}

func plotLMCurves(path, title string, curve []lmPoint) error {
	var tr, va plotter.XYs
	for _, p := range curve {
		tr = append(tr, plotter.XY{X: float64(p.Step), Y: p.TrainLoss})
		va = append(va, plotter.XY{X: float64(p.Step), Y: p.ValLoss})
	}
	p := newPlot(title+": next-token loss", "step", "cross-entropy (nats)")
	p.Add(plotter.NewGrid())
	if err := addLine(p, "train", tr, trainColor, false); err != nil {
		return err
	}
	if err := addLine(p, "validation", va, testColor, true); err != nil {
		return err
	}
	return p.Save(7*vg.Inch, 3.6*vg.Inch, path)
}

// lmRun is a loaded language-model run folder.
type lmRun struct {
	cfg *lmConfig
	m   lmModel
	tok text.Tokenizer
}

// isLMRun reports whether dir's config.json is a language model's.
func isLMRun(dir string) bool {
	b, err := model.ReadLimited(filepath.Join(dir, configFile), model.MaxConfigBytes)
	if err != nil {
		return false
	}
	var k struct{ Kind string }
	return json.Unmarshal(b, &k) == nil && k.Kind == lmKind
}

// loadLM loads a language-model run folder, checking its config and the
// checkpoint's shapes before it builds the model.
func loadLM(dir string) (*lmRun, error) {
	b, err := model.ReadLimited(filepath.Join(dir, configFile), model.MaxConfigBytes)
	if err != nil {
		return nil, err
	}
	var cfg lmConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Join(dir, configFile), err)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Join(dir, configFile), err)
	}
	path := filepath.Join(dir, checkpointFile)
	hdr, err := safetensors.ReadHeaderFile(path)
	if err != nil {
		return nil, err
	}
	tok, err := text.FromMetadata(hdr.Metadata)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if tok.VocabSize() != cfg.Vocab {
		return nil, fmt.Errorf("%s: the checkpoint's vocabulary has %d tokens, config.json says %d", path, tok.VocabSize(), cfg.Vocab)
	}
	m, err := cfg.build(rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, err
	}
	if err := model.LoadWeights(path, m); err != nil {
		return nil, fmt.Errorf("%s: %w (is it a checkpoint of this %s model?)", path, err, cfg.Model)
	}
	nn.SetTraining(m, false)
	return &lmRun{cfg: &cfg, m: m, tok: tok}, nil
}

// evalLM reports a language model's validation loss and perplexity on the
// end of the text it was trained on (or on --data FILE, whole).
func evalLM(dir, textFile string, stdout io.Writer) error {
	r, err := loadLM(dir)
	if err != nil {
		return err
	}
	path, frac := textFile, 0.0
	if path == "" {
		if filepath.IsAbs(r.cfg.TextFile) {
			return fmt.Errorf("%s trained on %s: give it again with --data to evaluate on its validation part (eval reads only the files you name)", dir, r.cfg.TextFile)
		}
		path, frac = filepath.Join(dir, r.cfg.TextFile), r.cfg.ValFrac
	}
	corpus, err := readText(path)
	if err != nil {
		return err
	}
	ids, err := r.tok.Encode(corpus)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if frac > 0 {
		if _, ids, err = text.SplitTokens(ids, frac); err != nil {
			return err
		}
	}
	w, err := text.NewWindows(ids, r.cfg.Context, r.cfg.Context)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	loss, err := lmValLoss(r.m, w, 32)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s on %s (%d tokens in %d windows of %d)\nloss %.4f nats/token  perplexity %.3f\n", r.cfg.Model, path, w.Len()*r.cfg.Context, w.Len(), r.cfg.Context, loss, math.Exp(loss))
	return nil
}

// generateLM samples n tokens after prompt from a language-model run and
// writes the text as it comes.
func generateLM(dir, prompt string, n int, temperature float64, topK int, topP float64, seed uint64, stdout io.Writer) error {
	r, err := loadLM(dir)
	if err != nil {
		return err
	}
	ids, err := r.tok.Encode(prompt)
	if err != nil {
		return fmt.Errorf("--prompt: %w", err)
	}
	if len(ids) == 0 {
		return usagef("--prompt is empty")
	}
	if r.cfg.Model == "gpt" && len(ids) > r.cfg.Context {
		return usagef("--prompt has %d tokens, more than the model's context of %d", len(ids), r.cfg.Context)
	}
	// within the context the GPT runs one cached step per token; past it,
	// it slides its window over the last Context tokens
	cached := len(ids)+n <= r.cfg.Context
	sample := gpt.Greedy
	if temperature > 0 {
		sample = gpt.Sampling(rand.New(rand.NewPCG(seed, 2)), temperature, topK, topP)
	}
	fmt.Fprint(stdout, prompt)
	var pending []byte
	emit := func(id int) error {
		s, err := r.tok.Decode([]int{id})
		if err != nil {
			return err
		}
		pending = append(pending, s...)
		if utf8.Valid(pending) {
			stdout.Write(pending)
			pending = pending[:0]
		}
		return nil
	}
	var genErr error
	nn.NoGrad(r.m, func() {
		genErr = nabla.Maybe(func() {
			switch m := r.m.(type) {
			case *gpt.GPT:
				out, err := m.Generate(tokenIDs(ids, 1, len(ids)), n, sample, cached)
				if err != nil {
					genErr = err
					return
				}
				for _, id := range out.Ints()[len(ids):] {
					if genErr = emit(id); genErr != nil {
						return
					}
				}
			case *nn.LSTMLanguageModel:
				var h, c *nabla.Tensor
				x := tokenIDs(ids, 1, len(ids))
				for range n {
					var logits *nabla.Tensor
					logits, h, c = m.ForwardState(x, h, c)
					last := logits.Slice(1, logits.Size(1)-1, logits.Size(1), 1).Float64s()
					id := sample(last)
					if genErr = emit(id); genErr != nil {
						return
					}
					x = tokenIDs([]int{id}, 1, 1)
				}
			}
		})
	})
	fmt.Fprintln(stdout)
	return genErr
}

// tokenIDs holds token ids as a (rows, cols) Int64 tensor.
func tokenIDs(ids []int, rows, cols int) *nabla.Tensor { return nabla.FromSlice(ids, rows, cols) }

// runDir returns the run folder of a --checkpoint value: the folder itself
// or the folder of the checkpoint file named.
func runDir(ckpt string) string {
	if strings.HasSuffix(ckpt, ".safetensors") {
		return filepath.Dir(ckpt)
	}
	return ckpt
}

func init() {
	// generate --checkpoint (generate_hf.go parses the flags)
	generateCheckpoint = func(ctx context.Context, ckpt string, g genFlags, stdout, stderr io.Writer) error {
		dir := runDir(ckpt)
		if !isLMRun(dir) {
			if _, err := os.Stat(filepath.Join(dir, configFile)); err != nil {
				return err
			}
			return fmt.Errorf("%s is not a language model's run (train one with --data text)", dir)
		}
		topP := g.topP
		if topP >= 1 {
			topP = 0 // all
		}
		return generateLM(dir, g.prompt, g.tokens, g.temperature, g.topK, topP, g.seed, stdout)
	}
}
