package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/cmd/nabla/internal/model"
	"github.com/nabla-go/nabla/data"
	"github.com/nabla-go/nabla/datasets"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/optim"
)

// The files a train run writes into its output folder.
const (
	checkpointFile = "model.safetensors"
	configFile     = "config.json"
	metricsFile    = "metrics.csv"
	curvesFile     = "curves.png"
	confusionFile  = "confusion.png"
)

var optimizers = []string{"sgd", "adam", "adamw", "rmsprop", "adagrad"}

// trainFlags are the flags of train; graph shares the data and model ones.
type trainFlags struct {
	data, dataDir, labels, target, task string
	testFrac                            float64
	limit                               int
	model                               string
	hidden                              intList
	epochs, batch                       int
	opt                                 string
	lr, weightDecay, momentum           float64
	seed                                uint64
	out, cpuprofile, memprofile         string
}

// dataFlags registers the flags that choose and split the data.
func (f *trainFlags) dataFlags(fs *flag.FlagSet) {
	fs.StringVar(&f.data, "data", "digits", "data set: "+strings.Join(model.Builtin, ", ")+", or a path to a .csv file, an IDX images file or a folder of IDX files")
	fs.StringVar(&f.dataDir, "data-dir", "", "folder of the IDX files for fashion-mnist (default "+datasets.FashionMNISTDir+") and mnist")
	fs.StringVar(&f.labels, "labels", "", "IDX labels file for an IDX images file given to --data (default: guessed from its name)")
	fs.StringVar(&f.target, "target", "", "CSV column holding the label or target (default: the last column)")
	fs.StringVar(&f.task, "task", "", "for CSV files: classification or regression (default classification)")
	fs.Float64Var(&f.testFrac, "test-frac", 0.2, "fraction of the samples held out for testing, for data sets without a test set of their own")
	fs.IntVar(&f.limit, "limit", 0, "use only the first N samples of each split (0: all)")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the random split, initialisation and shuffling")
}

// modelFlags registers the flags that choose the model.
func (f *trainFlags) modelFlags(fs *flag.FlagSet) {
	fs.StringVar(&f.model, "model", "mlp", "model: linear, mlp (see --hidden) or cnn (LeNet-5 style, for image data)")
	f.hidden = intList{256, 128}
	fs.Var(&f.hidden, "hidden", "widths of the mlp's hidden layers, comma-separated")
}

// check validates the data and model flags, and returns the data source.
func (f *trainFlags) check() (model.Source, error) {
	if !slices.Contains(model.Kinds, f.model) {
		return model.Source{}, usagef("invalid value %q for --model: want %s", f.model, strings.Join(model.Kinds, ", "))
	}
	if !(f.testFrac > 0 && f.testFrac < 1) {
		return model.Source{}, usagef("invalid value %v for --test-frac: want a fraction between 0 and 1", f.testFrac)
	}
	if f.limit < 0 {
		return model.Source{}, usagef("invalid value %d for --limit: want 0 or more", f.limit)
	}
	switch f.task {
	case "", model.Classification, model.Regression:
	default:
		return model.Source{}, usagef("invalid value %q for --task: want classification or regression", f.task)
	}
	src, err := model.ParseSource(f.data, f.dataDir, f.labels, f.target)
	if err != nil {
		return src, usageError{fmt.Errorf("invalid value for --data: %v", err)}
	}
	src.TestFrac, src.Seed, src.Limit = f.testFrac, f.seed, f.limit
	return src, nil
}

// load reads the data set and builds the model's configuration.
func (f *trainFlags) load(src model.Source) (*model.Set, *model.Config, error) {
	task := f.task
	if task == "" {
		task = model.Classification
	}
	set, err := model.Load(src, task)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := model.New(src, set, f.model, f.hidden)
	if err != nil {
		if f.model == "cnn" {
			return nil, nil, usageError{err}
		}
		return nil, nil, err
	}
	return set, cfg, nil
}

// defaults fills in the epochs and batch size that suit the data when the
// flags leave them at 0.
func (f *trainFlags) defaults(name string) {
	epochs, batch := 20, 32
	switch name {
	case "iris":
		epochs, batch = 60, 16
	case "diabetes":
		epochs, batch = 20, 32
	case "fashion-mnist", "mnist":
		epochs, batch = 5, 128
		if f.model == "cnn" {
			epochs, batch = 1, 64
		}
	}
	if f.epochs == 0 {
		f.epochs = epochs
	}
	if f.batch == 0 {
		f.batch = batch
	}
	if f.lr == 0 {
		f.lr = 1e-3
		if f.opt == "sgd" || f.opt == "adagrad" {
			f.lr = 1e-2
		}
	}
}

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f trainFlags
	fs := newFlags("train", "train [flags]\n\nTrains a model and writes into --out: "+checkpointFile+", "+configFile+", "+metricsFile+" and "+curvesFile+".\nWith no flags it trains an MLP on the embedded digits in a few seconds.", stdout)
	f.dataFlags(fs.FlagSet)
	f.modelFlags(fs.FlagSet)
	fs.IntVar(&f.epochs, "epochs", 0, "passes over the training set (default: 20 for digits and diabetes, 60 iris, 5 fashion-mnist/mnist, 1 with --model cnn)")
	fs.IntVar(&f.batch, "batch-size", 0, "samples per step (default: 32; 16 for iris; 128 for fashion-mnist/mnist, 64 with --model cnn)")
	fs.StringVar(&f.opt, "optimizer", "adam", "optimizer: "+strings.Join(optimizers, ", "))
	fs.Float64Var(&f.lr, "lr", 0, "learning rate (default: 1e-3; 1e-2 for sgd and adagrad)")
	fs.Float64Var(&f.weightDecay, "weight-decay", 0, "weight decay (L2 penalty; decoupled for adamw)")
	fs.Float64Var(&f.momentum, "momentum", 0.9, "momentum of sgd and rmsprop")
	fs.StringVar(&f.out, "out", "", "output folder (default runs/DATA-MODEL)")
	fs.StringVar(&f.cpuprofile, "cpuprofile", "", "write a CPU profile of the training to `file`")
	fs.StringVar(&f.memprofile, "memprofile", "", "write a heap profile after training to `file`")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (train takes only flags)", fs.Arg(0))
	}
	switch {
	case f.epochs < 0:
		return usagef("invalid value %d for --epochs: want 1 or more", f.epochs)
	case f.batch < 0:
		return usagef("invalid value %d for --batch-size: want 1 or more", f.batch)
	case f.lr < 0 || math.IsNaN(f.lr) || math.IsInf(f.lr, 0):
		return usagef("invalid value %v for --lr: want a positive rate", f.lr)
	case f.weightDecay < 0 || math.IsNaN(f.weightDecay):
		return usagef("invalid value %v for --weight-decay: want 0 or more", f.weightDecay)
	case !(f.momentum >= 0 && f.momentum < 1):
		return usagef("invalid value %v for --momentum: want a value in [0, 1)", f.momentum)
	case !slices.Contains(optimizers, f.opt):
		return usagef("invalid value %q for --optimizer: want %s", f.opt, strings.Join(optimizers, ", "))
	}
	src, err := f.check()
	if err != nil {
		return err
	}
	f.defaults(src.Name)
	if f.out == "" {
		f.out = filepath.Join("runs", dataLabel(src)+"-"+f.model)
	}

	set, cfg, err := f.load(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return err
	}
	if f.cpuprofile != "" {
		pf, err := os.Create(f.cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			pf.Close()
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			pf.Close()
		}()
	}

	rng := rand.New(rand.NewPCG(f.seed, 1))
	m, err := cfg.Build(rng)
	if err != nil {
		return err
	}
	opt, err := newOptimizer(f.opt, m.Params(), f.lr, f.weightDecay, f.momentum)
	if err != nil {
		return usageError{err}
	}
	cfg.Train = model.TrainInfo{Epochs: f.epochs, BatchSize: f.batch, Optimizer: f.opt, LR: f.lr, Seed: f.seed, Params: nn.NumParams(m)}

	fmt.Fprintf(stdout, "data %s: %d train, %d test samples of shape %v", cfg.Data.Name, set.Train.NumSamples, set.Test.NumSamples, cfg.FeatureShape)
	if cfg.Task == model.Classification {
		fmt.Fprintf(stdout, ", %d classes\n", cfg.Outputs)
	} else {
		fmt.Fprintf(stdout, ", regression\n")
	}
	fmt.Fprintf(stdout, "model %s: %d parameters; %s lr %g, batch %d, %d epochs\n", cfg.Model, cfg.Train.Params, f.opt, f.lr, f.batch, f.epochs)

	t := &trainer{cfg: cfg, m: m, opt: opt, set: set, seed: f.seed, batch: f.batch, epochs: f.epochs,
		progress: newProgress(stdout, stderr, cfg.Task == model.Regression)}
	start := time.Now()
	trainErr := t.run(ctx)
	if trainErr != nil && !errors.Is(trainErr, errInterrupted) {
		return trainErr
	}
	if err := t.save(f.out); err != nil {
		return err
	}
	if f.memprofile != "" {
		if err := writeHeapProfile(f.memprofile); err != nil {
			return err
		}
	}
	if errors.Is(trainErr, errInterrupted) {
		fmt.Fprintf(stderr, "nabla train: interrupted in epoch %d after %d of its batches; saved the current weights and %d finished epoch(s) to %s\n",
			t.epoch, t.batchDone, len(t.metrics), f.out)
		return errInterrupted
	}
	last := t.metrics[len(t.metrics)-1]
	if cfg.Task == model.Regression {
		fmt.Fprintf(stdout, "test MSE %.4g (RMSE %.4g), R² %.4f after %d epoch(s) in %.1fs\n", last.TestLoss, math.Sqrt(last.TestLoss), last.TestAcc, f.epochs, time.Since(start).Seconds())
	} else {
		fmt.Fprintf(stdout, "test accuracy %.4f after %d epoch(s) in %.1fs\n", last.TestAcc, f.epochs, time.Since(start).Seconds())
	}
	fmt.Fprintf(stdout, "wrote %s/{%s,%s,%s,%s}\n", f.out, checkpointFile, configFile, metricsFile, curvesFile)
	return nil
}

func writeHeapProfile(path string) error {
	pf, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(pf); err != nil {
		pf.Close()
		return err
	}
	return pf.Close()
}

// newOptimizer returns the optimizer called name.
func newOptimizer(name string, ps []nn.Param, lr, wd, momentum float64) (o optim.Optimizer, err error) {
	err = maybe(func() {
		switch name {
		case "sgd":
			o = optim.NewSGD(ps, optim.SGDConfig{LR: lr, Momentum: momentum, WeightDecay: wd})
		case "adam":
			o = optim.NewAdam(ps, optim.AdamConfig{LR: lr, WeightDecay: wd})
		case "adamw":
			if wd == 0 {
				wd = 0.01 // PyTorch's AdamW default
			}
			o = optim.NewAdamW(ps, optim.AdamConfig{LR: lr, WeightDecay: wd})
		case "rmsprop":
			o = optim.NewRMSprop(ps, optim.RMSpropConfig{LR: lr, WeightDecay: wd, Momentum: momentum})
		case "adagrad":
			o = optim.NewAdagrad(ps, optim.AdagradConfig{LR: lr, WeightDecay: wd})
		default:
			panic(&nabla.ValueError{Op: "optimizer", Reason: fmt.Sprintf("unknown optimizer %q", name)})
		}
	})
	return o, err
}

// epochMetrics is one row of metrics.csv. For regression, the losses are
// mean squared errors in the target's units and the accuracies are R².
type epochMetrics struct {
	Epoch                                  int
	TrainLoss, TrainAcc, TestLoss, TestAcc float64
	Seconds                                float64
}

// trainer runs the training loop and keeps what it has done so far, so
// that an interrupted run can still be saved.
type trainer struct {
	cfg      *model.Config
	m        nn.Module
	opt      optim.Optimizer
	set      *model.Set
	seed     uint64
	batch    int
	epochs   int
	progress progress

	epoch, batchDone int
	metrics          []epochMetrics
}

func (t *trainer) loss(out, y *nabla.Tensor) *nabla.Tensor {
	if t.cfg.Task == model.Regression {
		return nn.MSE(out, y)
	}
	return nn.CrossEntropy(out, y.To(nabla.Int64)) // class indices (a no-op for the loader's Int64 labels)
}

func (t *trainer) run(ctx context.Context) error {
	tr := t.set.Train
	n := tr.NumSamples
	nb := (n + t.batch - 1) / t.batch
	reg := t.cfg.Task == model.Regression
	ds, err := t.cfg.Dataset(tr)
	if err != nil {
		return err
	}
	loader := data.NewLoader(ds, data.LoaderConfig{BatchSize: t.batch, Shuffle: true, Seed: t.seed, Labels: !reg})
	arena := nabla.NewArena() // recycles each step's buffers for the next
	for t.epoch = 1; t.epoch <= t.epochs; t.epoch++ {
		start := time.Now()
		t.progress.startEpoch(t.epoch, t.epochs, nb, n)
		var lossSum, correct float64
		seen := 0
		t.batchDone = 0
		for _, b := range loader.Epoch(t.epoch - 1) {
			if ctx.Err() != nil {
				t.progress.stop()
				return errInterrupted
			}
			var l, acc float64
			err := maybe(func() {
				out := t.m.Forward(b.X.InArena(arena))
				loss := t.loss(out, b.Y)
				t.opt.ZeroGrad()
				loss.Backward()
				t.opt.Step()
				l = loss.Item()
				if !reg {
					acc = nn.Accuracy(out.Detach(), b.Y)
				}
				arena.Reset() // out and loss are not used after this
			})
			if err != nil {
				t.progress.stop()
				return err
			}
			if math.IsNaN(l) || math.IsInf(l, 0) {
				t.progress.stop()
				return fmt.Errorf("epoch %d, batch %d: the loss is %v; try a smaller --lr", t.epoch, t.batchDone+1, l)
			}
			k := b.X.Size(0)
			lossSum += l * float64(k)
			correct += acc * float64(k)
			seen += k
			t.batchDone++
			t.progress.step(t.batchDone, k, lossSum/float64(seen), correct/float64(seen))
		}
		if ctx.Err() != nil { // interrupted in the last batch
			t.progress.stop()
			return errInterrupted
		}
		em := epochMetrics{Epoch: t.epoch, TrainLoss: lossSum / float64(n), TrainAcc: correct / float64(n)}
		if reg {
			em.TrainAcc = 1 - em.TrainLoss // R² of standardised targets
			em.TrainLoss *= t.cfg.TargetStd * t.cfg.TargetStd
		}
		ev, err := evaluate(t.m, t.cfg, t.set.Test)
		if err != nil {
			t.progress.stop()
			return err
		}
		em.TestLoss, em.TestAcc = ev.loss, ev.acc
		em.Seconds = time.Since(start).Seconds()
		t.metrics = append(t.metrics, em)
		t.progress.endEpoch(em, float64(n)/em.Seconds)
	}
	t.epoch, t.batchDone = t.epochs, 0
	return nil
}

// save writes the checkpoint, the configuration, the metrics and the
// learning curves into dir.
func (t *trainer) save(dir string) error {
	meta := map[string]string{"format": "pt", "model": t.cfg.Model, "data": t.cfg.Data.Name, "epochs": strconv.Itoa(len(t.metrics))}
	if err := model.SaveWeights(filepath.Join(dir, checkpointFile), t.m, meta); err != nil {
		return err
	}
	if err := model.WriteConfig(filepath.Join(dir, configFile), t.cfg); err != nil {
		return err
	}
	reg := t.cfg.Task == model.Regression
	if err := writeMetrics(filepath.Join(dir, metricsFile), t.metrics, reg); err != nil {
		return err
	}
	if len(t.metrics) == 0 {
		return nil
	}
	title := fmt.Sprintf("%s %s", dataLabel(t.cfg.Data), t.cfg.Model)
	return plotCurves(filepath.Join(dir, curvesFile), title, t.metrics, reg)
}

func writeMetrics(path string, ms []epochMetrics, regression bool) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	header := []string{"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds"}
	if regression {
		header = []string{"epoch", "train_mse", "train_r2", "test_mse", "test_r2", "seconds"}
	}
	w.Write(header)
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	for _, m := range ms {
		w.Write([]string{strconv.Itoa(m.Epoch), g(m.TrainLoss), g(m.TrainAcc), g(m.TestLoss), g(m.TestAcc), strconv.FormatFloat(m.Seconds, 'f', 3, 64)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// evaluation is a model's performance on a data set.
type evaluation struct {
	loss, acc float64   // cross-entropy and accuracy, or MSE and R²
	out       []float32 // the outputs, NumSamples × Outputs (regression: in the target's units)
}

// evaluate runs m over d in batches without recording a graph.
func evaluate(m nn.Module, cfg *model.Config, d *datasets.Dataset) (ev evaluation, err error) {
	if err := cfg.Check(d); err != nil {
		return ev, err
	}
	const bs = 500
	nn.SetTraining(m, false)
	defer nn.SetTraining(m, true)
	n := d.NumSamples
	idx := make([]int, 0, bs)
	var lossSum, correct float64
	err = maybe(func() {
		nn.NoGrad(m, func() {
			for b := 0; b < n; b += bs {
				idx = idx[:0]
				for i := b; i < min(n, b+bs); i++ {
					idx = append(idx, i)
				}
				x, y := cfg.Batch(d, idx)
				out := m.Forward(x)
				k := float64(len(idx))
				if cfg.Task == model.Regression {
					lossSum += nn.MSE(out, y).Item() * k
				} else {
					y = y.To(nabla.Int64) // class indices
					lossSum += nn.CrossEntropy(out, y).Item() * k
					correct += nn.Accuracy(out, y) * k
				}
				ev.out = append(ev.out, out.Float32s()...)
			}
		})
	})
	if err != nil {
		return ev, err
	}
	ev.loss, ev.acc = lossSum/float64(n), correct/float64(n)
	if cfg.Task == model.Regression {
		var sse, sst, mean float64
		for _, y := range d.Y {
			mean += float64(y)
		}
		mean /= float64(n)
		for i, y := range d.Y {
			p := cfg.Target(float64(ev.out[i]))
			ev.out[i] = float32(p)
			sse += (p - float64(y)) * (p - float64(y))
			sst += (float64(y) - mean) * (float64(y) - mean)
		}
		ev.loss = sse / float64(n)
		ev.acc = 1 - sse/math.Max(sst, 1e-12)
	}
	return ev, nil
}

// dataLabel names the data of src for titles and folder names: the
// data set's name, or the file's name without its extensions.
func dataLabel(src model.Source) string {
	if src.Path != "" && (src.Name == "csv" || src.Name == "idx") {
		return strings.SplitN(filepath.Base(src.Path), ".", 2)[0]
	}
	return src.Name
}
