package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/nabla-go/nabla/cmd/nabla/internal/model"
	"github.com/nabla-go/nabla/nn"
)

// loadCheckpoint reads a trained model from path: a train run's output
// folder, or the .safetensors file in it with config.json beside it.
func loadCheckpoint(path string) (*model.Config, nn.Module, string, error) {
	if path == "" {
		return nil, nil, "", usagef("--checkpoint is required: a train run's output folder or its %s", checkpointFile)
	}
	st, err := os.Stat(path)
	if err != nil {
		if model.IsNotExist(err) {
			return nil, nil, "", fmt.Errorf("checkpoint %s does not exist", path)
		}
		return nil, nil, "", err
	}
	weights := path
	if st.IsDir() {
		weights = filepath.Join(path, checkpointFile)
		if !exists(weights) {
			return nil, nil, "", fmt.Errorf("no checkpoint %s in %s (train writes it with --out)", checkpointFile, path)
		}
	}
	cfg, err := model.ReadConfig(filepath.Join(filepath.Dir(weights), configFile))
	if err != nil {
		return nil, nil, "", err
	}
	m, err := cfg.Build(rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, nil, "", fmt.Errorf("%s: %v", configFile, err)
	}
	if err := model.LoadWeights(weights, m); err != nil {
		return nil, nil, "", fmt.Errorf("corrupt checkpoint or one that does not fit the model: %v", err)
	}
	return cfg, m, filepath.Dir(weights), nil
}

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var ckpt, dataFlag, dataDir, labels, out string
	fs := newFlags("eval", "eval --checkpoint PATH [flags]\n\nReports a trained model's accuracy (MSE for regression), per-class precision and recall\nand the confusion matrix on the held-out test split of its data (or on --data), and\nwrites the confusion matrix as "+confusionFile+" beside the checkpoint (or into --out).", stdout)
	fs.StringVar(&ckpt, "checkpoint", "", "a train run's output folder, or the "+checkpointFile+" in it")
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
	cfg, m, dir, err := loadCheckpoint(ckpt)
	if err != nil {
		return err
	}
	src := cfg.Data
	if dataDir != "" {
		src.Path = dataDir
	}
	if dataFlag != "" {
		if src, err = model.ParseSource(dataFlag, dataDir, labels, cfg.Data.Target); err != nil {
			return usageError{fmt.Errorf("invalid value for --data: %v", err)}
		}
		src.TestFrac, src.Seed = cfg.Data.TestFrac, cfg.Data.Seed
	}
	d, err := model.LoadEval(src, cfg.Task, cfg.Outputs, dataFlag != "")
	if err != nil {
		return err
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
