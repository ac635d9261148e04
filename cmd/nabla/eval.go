package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/nabla-go/nabla/cmd/nabla/internal/model"
	"github.com/nabla-go/nabla/datasets"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/safetensors"
)

// checkpoint is a trained model loaded from a run folder.
type checkpoint struct {
	cfg  *model.Config
	m    nn.Module
	dir  string // the folder of the checkpoint file
	note string // a warning for stderr, or ""
}

// loadCheckpoint reads a trained model from path: a train run's output
// folder, or the .safetensors file in it with config.json beside it.
//
// Nothing is allocated for the model before its checkpoint's header has
// been checked against the configuration: the configuration's sizes are
// bounded (Config.Validate) and every tensor the model would have must be
// in the file with the same shape. The configuration is config.json's, or
// the copy in the checkpoint's metadata when config.json is missing,
// corrupt or of another generation (a save interrupted between the two
// files). Weights that are not finite are an error.
func loadCheckpoint(path string) (*checkpoint, error) {
	if path == "" {
		return nil, usagef("--checkpoint is required: a train run's output folder or its %s", checkpointFile)
	}
	st, err := os.Stat(path)
	if err != nil {
		if model.IsNotExist(err) {
			return nil, fmt.Errorf("checkpoint %s does not exist", path)
		}
		return nil, err
	}
	weights := path
	if st.IsDir() {
		weights = filepath.Join(path, checkpointFile)
		if !exists(weights) {
			return nil, fmt.Errorf("no checkpoint %s in %s (train writes it with --out)", checkpointFile, path)
		}
	}
	dir := filepath.Dir(weights)
	hdr, err := safetensors.ReadHeaderFile(weights)
	if err != nil {
		return nil, fmt.Errorf("corrupt checkpoint: %v", err)
	}
	ck := &checkpoint{dir: dir}
	cfg, cfgErr := model.ReadConfig(filepath.Join(dir, configFile))
	if own, ok := hdr.Metadata[configKey]; ok {
		mine, err := model.ParseConfig(weights+" (the configuration in its metadata)", []byte(own))
		if err != nil {
			return nil, fmt.Errorf("corrupt checkpoint: %v", err)
		}
		if g, _ := strconv.Atoi(hdr.Metadata[genKey]); g != mine.Generation {
			return nil, fmt.Errorf("corrupt checkpoint: %s: generation %q in its metadata, %d in its configuration", weights, hdr.Metadata[genKey], mine.Generation)
		}
		// Saves write the checkpoint first, then config.json, each
		// atomically: a missing config.json or one of an older generation
		// is an interrupted save, whose checkpoint is whole with its own
		// copy. A config.json that is invalid, or newer, is not.
		switch {
		case cfgErr != nil && !model.IsNotExist(cfgErr):
		case cfgErr != nil:
			ck.note = fmt.Sprintf("no %s beside %s: using the configuration stored in the checkpoint", configFile, weights)
			cfg, cfgErr = mine, nil
		case cfg.Generation < mine.Generation:
			ck.note = fmt.Sprintf("%s is of generation %d, the checkpoint of %d (a save was interrupted): using the configuration stored in the checkpoint",
				filepath.Join(dir, configFile), cfg.Generation, mine.Generation)
			cfg = mine
		case cfg.Generation > mine.Generation:
			return nil, fmt.Errorf("%s is of generation %d, newer than its checkpoint's %d: the run folder was not written by one train run", filepath.Join(dir, configFile), cfg.Generation, mine.Generation)
		}
	}
	if cfgErr != nil {
		return nil, cfgErr
	}
	if err := fits(hdr, cfg); err != nil {
		return nil, fmt.Errorf("checkpoint %s does not fit the model of its configuration: %v", weights, err)
	}
	m, err := cfg.Build(rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", configFile, err)
	}
	if err := model.LoadWeights(weights, m); err != nil {
		return nil, fmt.Errorf("corrupt checkpoint or one that does not fit the model: %v", err)
	}
	for _, p := range nn.StateDict(m) {
		if i, v, bad := firstNonFinite(p.Tensor.Float64s()); bad {
			return nil, fmt.Errorf("checkpoint %s: tensor %q holds %v at element %d: refusing weights that are not finite", weights, p.Name, v, i)
		}
	}
	ck.cfg, ck.m = cfg, m
	return ck, nil
}

// fits checks the tensors of a checkpoint's header against those of the
// model cfg describes: the same names, each with the same shape.
func fits(hdr *safetensors.File, cfg *model.Config) error {
	want := cfg.Tensors()
	if len(hdr.Tensors) != len(want) {
		return fmt.Errorf("%d tensors in the file, %d in the model", len(hdr.Tensors), len(want))
	}
	for _, w := range want {
		t, ok := hdr.Get(w.Name)
		if !ok {
			return fmt.Errorf("no tensor %q in the file", w.Name)
		}
		if !slices.Equal(t.Shape, w.Shape) {
			return fmt.Errorf("tensor %q has shape %v in the file, %v in the model", w.Name, t.Shape, w.Shape)
		}
	}
	return nil
}

// firstNonFinite returns the index and value of the first NaN or infinite
// element of v.
func firstNonFinite(v []float64) (int, float64, bool) {
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return i, x, true
		}
	}
	return 0, 0, false
}

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var ckpt, dataFlag, dataDir, labels, out, onnxPath, norm string
	fs := newFlags("eval", "eval --checkpoint PATH [flags]\n       eval --model MODEL.onnx --data DATA [--normalize MEAN,STD] [flags]\n\nReports a trained model's accuracy (MSE for regression), per-class precision and recall\nand the confusion matrix on the held-out test split of its data (or on --data), and\nwrites the confusion matrix as "+confusionFile+" beside the checkpoint (or into --out).\n\nWith --model, an ONNX classifier (one input (batch, features...), one output of class\nscores, taken as logits for the loss) is evaluated on --data: the test split of a\nbuilt-in data set, a CSV or IDX file whole. Images become pixels in [0, 1], mapped to\n(x - MEAN) / STD with --normalize, as for predict.", stdout)
	fs.StringVar(&ckpt, "checkpoint", "", "a train run's output folder, or the "+checkpointFile+" in it")
	fs.StringVar(&onnxPath, "model", "", "an ONNX classifier to evaluate instead of a checkpoint (with --data)")
	fs.StringVar(&norm, "normalize", "", "with --model: MEAN,STD to map each input value x to (x - MEAN) / STD")
	fs.StringVar(&dataFlag, "data", "", "evaluate on this CSV file, IDX images file or folder of IDX files instead of the test split")
	fs.StringVar(&dataDir, "data-dir", "", "folder of the IDX files, when the model was trained on fashion-mnist or mnist elsewhere")
	fs.StringVar(&labels, "labels", "", "IDX labels file for an IDX images file given to --data")
	fs.StringVar(&out, "out", "", "folder for "+confusionFile+" (default: the checkpoint's folder)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	var cfg *model.Config
	var m nn.Module
	var dir string
	var d *datasets.Dataset
	if onnxPath != "" {
		var err error
		if cfg, m, d, err = evalONNX(onnxPath, norm, dataFlag, dataDir, labels, ckpt); err != nil {
			return err
		}
		dir = filepath.Dir(onnxPath)
	} else {
		if norm != "" {
			return usagef("--normalize goes with --model")
		}
		if d := runDir(ckpt); isLMRun(d) { // a language model: lm.go
			return evalLM(d, dataFlag, stdout)
		}
		ck, err := loadCheckpoint(ckpt)
		if err != nil {
			return err
		}
		if ck.note != "" {
			fmt.Fprintf(stderr, "nabla eval: note: %s\n", ck.note)
		}
		cfg, m, dir = ck.cfg, ck.m, ck.dir
		src, whole, err := evalSource(cfg, dir, dataFlag, dataDir, labels)
		if err != nil {
			return err
		}
		if d, err = model.LoadEval(src, cfg.Task, cfg.Outputs, whole); err != nil {
			return err
		}
	}
	ev, err := evaluate(m, cfg, d)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "model %s on %s (%d samples)\n", cfg.Model, d.Name, d.NumSamples)
	if cfg.Task == model.Regression {
		fmt.Fprintf(stdout, "MSE %.4g  RMSE %.4g  R² %.4f\n", ev.loss, math.Sqrt(ev.loss), ev.acc)
		return nil
	}
	k := cfg.Outputs
	conf := make([][]int, k)
	for i := range conf {
		conf[i] = make([]int, k)
	}
	for i, y := range d.Labels {
		conf[y][argmax(ev.out[i*k:(i+1)*k])]++
	}
	fmt.Fprintf(stdout, "accuracy %.4f  loss %.4f\n\n", ev.acc, ev.loss)
	writeClassReport(stdout, conf, cfg.Classes)
	fmt.Fprintln(stdout)
	writeConfusion(stdout, conf, cfg.Classes)
	if out == "" {
		out = dir
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	png := filepath.Join(out, confusionFile)
	title := fmt.Sprintf("%s %s on %s: accuracy %.3f", cfg.Data.Name, cfg.Model, d.Name, ev.acc)
	if err := plotConfusion(png, title, conf, cfg.Classes); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwrote %s\n", png)
	return nil
}

// evalONNX loads the ONNX classifier path and the data to evaluate it on:
// the test split of a built-in data set, or a CSV or IDX file whole.
func evalONNX(path, norm, dataFlag, dataDir, labels, ckpt string) (*model.Config, nn.Module, *datasets.Dataset, error) {
	if ckpt != "" {
		return nil, nil, nil, usagef("give --checkpoint or --model, not both")
	}
	if dataFlag == "" {
		return nil, nil, nil, usagef("--model needs --data: the data set to evaluate the ONNX model on")
	}
	src, err := model.ParseSource(dataFlag, dataDir, labels, "")
	if err != nil {
		return nil, nil, nil, usageError{fmt.Errorf("invalid value for --data: %v", err)}
	}
	src.TestFrac, src.Seed = 0.2, 1 // the test split train makes by default
	var d *datasets.Dataset
	pixelMax := 0.0
	if src.Name == "csv" || src.Name == "idx" && !isDir(src.Path) {
		if d, err = model.LoadEval(src, model.Classification, 0, true); err != nil {
			return nil, nil, nil, err
		}
		if src.Name == "idx" {
			pixelMax = 1
		}
	} else {
		set, err := model.Load(src, model.Classification, 0)
		if err != nil {
			return nil, nil, nil, err
		}
		if set.Task != model.Classification {
			return nil, nil, nil, fmt.Errorf("%s is a regression data set; eval --model evaluates classifiers", dataFlag)
		}
		d, pixelMax = set.Test, set.PixelMax
	}
	cfg, m, err := loadONNX(path, norm, pixelMax)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := fitsONNX(path, cfg, d.Name, d.NumFeatures, d.FeatureShape); err != nil {
		return nil, nil, nil, err
	}
	if d.NumClasses > cfg.Outputs {
		return nil, nil, nil, fmt.Errorf("%s has %d classes; %s has %d outputs", d.Name, d.NumClasses, path, cfg.Outputs)
	}
	if len(d.ClassNames) == cfg.Outputs {
		cfg.Classes = d.ClassNames
	}
	cfg.Data.Name = src.Name
	return cfg, m, d, nil
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// evalSource returns the data to evaluate the model cfg on, and whether
// to use a CSV or IDX file whole (otherwise its held-out test split).
//
// Paths come only from the command line or from inside the run folder
// dir: a config.json may come from anyone, and eval must not read (and
// quote in an error) whatever file it names. With --data, the file the
// model was trained on gives its test split, any other file is used whole.
// Without it, the recorded data set is used if it needs no file (the
// embedded sets, Debian's Fashion-MNIST) or its file is inside dir.
func evalSource(cfg *model.Config, dir, dataFlag, dataDir, labels string) (model.Source, bool, error) {
	rec := cfg.Data
	if dataFlag != "" {
		src, err := model.ParseSource(dataFlag, dataDir, labels, rec.Target)
		if err != nil {
			return src, false, usageError{fmt.Errorf("invalid value for --data: %v", err)}
		}
		src.TestFrac, src.Seed = rec.TestFrac, rec.Seed
		same := src.Name == rec.Name && src.Path == rec.Path && (src.Name == "csv" || src.Name == "idx")
		return src, !same, nil
	}
	src := rec
	var err error
	switch rec.Name {
	case "mnist", "fashion-mnist":
		src.Path = dataDir // "": Debian's Fashion-MNIST; mnist asks for --data-dir
	case "csv", "idx":
		if dataDir != "" && rec.Name == "idx" {
			src.Path, err = filepath.Abs(dataDir)
		} else {
			src.Path, err = inRun(dir, rec.Path)
		}
		if err != nil {
			return src, false, fmt.Errorf("the model was trained on %s, outside its run folder, and eval reads data files only from the command line or the run folder: pass the file with --data (the training file gives its held-out test split)", rec.Path)
		}
		src.Labels = ""
		if labels != "" {
			src.Labels, err = filepath.Abs(labels)
		} else if rec.Labels != "" {
			src.Labels, err = inRun(dir, rec.Labels)
		}
		if err != nil {
			return src, false, fmt.Errorf("the model's labels %s are outside its run folder: pass them with --labels", rec.Labels)
		}
	}
	return src, false, nil
}

// inRun returns the path p, recorded in a run folder's configuration,
// inside the run folder dir, or an error if p is absolute or leaves it.
func inRun(dir, p string) (string, error) {
	if !filepath.IsLocal(p) {
		return "", fmt.Errorf("%s is not inside the run folder", p)
	}
	return filepath.Join(dir, p), nil
}

// writeClassReport prints precision, recall and support per class.
func writeClassReport(w io.Writer, conf [][]int, classes []string) {
	width := 5
	for _, c := range classes {
		width = max(width, len(c))
	}
	fmt.Fprintf(w, "%-*s  %9s  %6s  %7s\n", width, "class", "precision", "recall", "support")
	for i, c := range classes {
		tp, pred, sup := conf[i][i], 0, 0
		for j := range conf {
			pred += conf[j][i]
			sup += conf[i][j]
		}
		fmt.Fprintf(w, "%-*s  %9s  %6s  %7d\n", width, c, ratio(tp, pred), ratio(tp, sup), sup)
	}
}

func ratio(a, b int) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.4f", float64(a)/float64(b))
}

// writeConfusion prints the confusion matrix: rows are true classes,
// columns predicted ones.
func writeConfusion(w io.Writer, conf [][]int, classes []string) {
	width, label := 4, 5
	for i, c := range classes {
		label = max(label, len(c))
		for _, v := range conf[i] {
			width = max(width, len(fmt.Sprint(v))+1)
		}
	}
	short := true
	for _, c := range classes {
		short = short && len(c) < width
	}
	fmt.Fprintf(w, "confusion matrix (rows: true class, columns: predicted class")
	if !short {
		fmt.Fprintf(w, " by number, from 0")
	}
	fmt.Fprintf(w, ")\n%-*s", label, "")
	for i, c := range classes {
		if !short {
			c = fmt.Sprint(i) // long names: columns by number
		}
		fmt.Fprintf(w, " %*s", width, c)
	}
	fmt.Fprintln(w)
	for i, row := range conf {
		fmt.Fprintf(w, "%-*s", label, classes[i])
		for _, v := range row {
			fmt.Fprintf(w, " %*d", width, v)
		}
		fmt.Fprintln(w)
	}
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
