package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nabla-go/nabla/datasets"
)

// runCmd runs the command line in-process and returns its exit code and
// outputs.
func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

var (
	trainOnce sync.Once
	trainDir  string
	trainOut  string
)

// trained returns the folder of a 2-epoch digits MLP, trained once for all
// tests of the package.
func trained(t *testing.T) string {
	t.Helper()
	trainOnce.Do(func() {
		dir, err := os.MkdirTemp("", "nabla-cmd-test")
		if err != nil {
			t.Fatal(err)
		}
		trainDir = filepath.Join(dir, "run")
		var code int
		var errOut string
		code, trainOut, errOut = runCmd(t, "train", "--epochs", "2", "--hidden", "64", "--out", trainDir)
		if code != 0 {
			t.Fatalf("train: exit %d: %s", code, errOut)
		}
	})
	if trainDir == "" {
		t.Fatal("training failed in an earlier test")
	}
	return trainDir
}

func TestMain(m *testing.M) {
	if dir := os.Getenv(saveLoopEnv); dir != "" {
		saveLoop(dir) // the child of TestKillDuringSave; never returns
	}
	code := m.Run()
	if trainDir != "" {
		os.RemoveAll(filepath.Dir(trainDir))
	}
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func TestTrainWritesRun(t *testing.T) {
	dir := trained(t)
	if !strings.Contains(trainOut, "test accuracy") {
		t.Errorf("train output has no test accuracy:\n%s", trainOut)
	}
	for _, f := range []string{checkpointFile, configFile, metricsFile, curvesFile} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: missing or empty (%v)", f, err)
		}
	}
	f, err := os.Open(filepath.Join(dir, metricsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(rows[0], ","), "epoch,train_loss,train_acc,test_loss,test_acc,seconds"; got != want {
		t.Errorf("metrics header %q; want %q", got, want)
	}
	if len(rows) != 3 {
		t.Fatalf("metrics has %d rows; want header and 2 epochs", len(rows))
	}
	for i, r := range rows[1:] {
		if r[0] != strconv.Itoa(i+1) {
			t.Errorf("row %d: epoch %s", i+1, r[0])
		}
		for _, c := range r[1:] {
			if _, err := strconv.ParseFloat(c, 64); err != nil {
				t.Errorf("row %d: %v", i+1, err)
			}
		}
	}
	if acc, _ := strconv.ParseFloat(rows[2][4], 64); acc < 0.8 {
		t.Errorf("test accuracy after 2 epochs %v; want ≥ 0.8", acc)
	}
	pf, err := os.Open(filepath.Join(dir, curvesFile))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	img, err := png.Decode(pf)
	if err != nil {
		t.Fatalf("curves: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 300 || b.Dy() < 200 {
		t.Errorf("curves are %v", b)
	}
}

func TestEval(t *testing.T) {
	dir := trained(t)
	out := t.TempDir()
	code, stdout, stderr := runCmd(t, "eval", "--checkpoint", filepath.Join(dir, checkpointFile), "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"accuracy 0.", "precision", "recall", "confusion matrix", confusionFile} {
		if !strings.Contains(stdout, want) {
			t.Errorf("eval output has no %q:\n%s", want, stdout)
		}
	}
	f, err := os.Open(filepath.Join(out, confusionFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("confusion: %v", err)
	}
}

func TestPredict(t *testing.T) {
	dir := trained(t)
	d, err := datasets.Digits()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	// One CSV row per digit image: sample 0 is a 0.
	var row []string
	for _, v := range d.Row(0) {
		row = append(row, strconv.Itoa(int(v)))
	}
	rows := filepath.Join(tmp, "rows.csv")
	if err := os.WriteFile(rows, []byte(strings.Join(row, ",")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(tmp, "zero.png")
	if err := writeGray(img, d.Row(0), 8, 8, 16); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCmd(t, "predict", "--checkpoint", dir, "--top", "2", rows, img)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines; want 2:\n%s", len(lines), stdout)
	}
	for _, l := range lines {
		_, rest, _ := strings.Cut(l, ": ")
		if !strings.HasPrefix(strings.TrimSpace(rest), "0 (") || strings.Count(l, "%") != 2 {
			t.Errorf("got %q; want the class 0 first, and two classes", l)
		}
	}
}

func TestGraph(t *testing.T) {
	out := filepath.Join(t.TempDir(), "g.dot")
	code, stdout, stderr := runCmd(t, "graph", "--model", "cnn", "--svg=false", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "digraph") || !strings.Contains(string(b), "Conv2d") {
		t.Errorf("not a DOT graph of a CNN:\n%.300s", b)
	}
	if !strings.Contains(stdout, out) {
		t.Errorf("output does not name %s: %s", out, stdout)
	}
}

func TestHelp(t *testing.T) {
	for _, c := range []string{"train", "eval", "predict", "graph"} {
		code, stdout, _ := runCmd(t, c, "--help")
		if code != 0 || !strings.Contains(stdout, "Usage: nabla "+c) {
			t.Errorf("%s --help: exit %d, output %q", c, code, stdout)
		}
	}
	if code, stdout, _ := runCmd(t, "help"); code != 0 || !strings.Contains(stdout, "train") {
		t.Errorf("help: exit %d, output %q", code, stdout)
	}
}

func TestErrors(t *testing.T) {
	dir := trained(t)
	tmp := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A corrupt checkpoint: garbage with the config beside it.
	corrupt := filepath.Join(tmp, "corrupt")
	os.Mkdir(corrupt, 0o755)
	cfg, _ := os.ReadFile(filepath.Join(dir, configFile))
	os.WriteFile(filepath.Join(corrupt, configFile), cfg, 0o644)
	os.WriteFile(filepath.Join(corrupt, checkpointFile), []byte("not a checkpoint"), 0o644)
	// A checkpoint of another shape: the config says hidden 32.
	other := filepath.Join(tmp, "other")
	os.Mkdir(other, 0o755)
	ck, _ := os.ReadFile(filepath.Join(dir, checkpointFile))
	os.WriteFile(filepath.Join(other, checkpointFile), ck, 0o644)
	os.WriteFile(filepath.Join(other, configFile), []byte(strings.Replace(string(cfg), `"hidden": [
    64
  ]`, `"hidden": [
    32
  ]`, 1)), 0o644)
	// CSV files with a label out of range.
	var header, row []string
	for i := range 64 {
		header = append(header, "p"+strconv.Itoa(i))
		row = append(row, "1")
	}
	badLabel := write("bad.csv", strings.Join(append(header, "label"), ",")+"\n"+strings.Join(append(row, "12"), ",")+"\n")
	negLabel := write("neg.csv", "a,b,label\n1,2,0\n3,4,1\n5,6,-1\n")

	for _, tt := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"missing checkpoint", []string{"eval", "--checkpoint", filepath.Join(tmp, "nosuch")}, 1, "does not exist"},
		{"no checkpoint flag", []string{"eval"}, 2, "--checkpoint is required"},
		{"corrupt checkpoint", []string{"eval", "--checkpoint", corrupt}, 1, "corrupt checkpoint"},
		{"different shape", []string{"predict", "--checkpoint", other}, 1, "does not fit the model"},
		{"unknown flag", []string{"train", "--nosuch"}, 2, "flag provided but not defined"},
		{"negative epochs", []string{"train", "--epochs", "-1"}, 2, "--epochs"},
		{"bad epochs", []string{"train", "--epochs", "many"}, 2, "invalid value"},
		{"unknown data", []string{"train", "--data", "nosuch"}, 2, `unknown data "nosuch"`},
		{"unknown model", []string{"train", "--model", "rnn"}, 2, "--model"},
		{"unknown optimizer", []string{"train", "--optimizer", "lbfgs"}, 2, "--optimizer"},
		{"bad hidden", []string{"train", "--hidden", "12,x"}, 2, "-hidden"},
		{"cnn on tabular data", []string{"train", "--data", "iris", "--model", "cnn"}, 2, "image data"},
		{"missing data file", []string{"train", "--data", filepath.Join(tmp, "nosuch.csv")}, 1, "no such file"},
		{"label out of range in eval", []string{"eval", "--checkpoint", dir, "--data", badLabel}, 1, "label 12 out of range"},
		{"negative label in train", []string{"train", "--data", negLabel, "--out", filepath.Join(tmp, "neg")}, 1, "label -1 out of range"},
		{"missing predict input", []string{"predict", "--checkpoint", dir, filepath.Join(tmp, "nosuch.png")}, 1, "does not exist"},
		{"bad top", []string{"predict", "--checkpoint", dir, "--top", "0"}, 2, "--top"},
		{"unknown command", []string{"fly"}, 2, "unknown command"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d; want %d (stderr %q)", code, tt.code, stderr)
			}
			if !strings.Contains(stderr, tt.msg) {
				t.Errorf("stderr %q; want it to contain %q", stderr, tt.msg)
			}
			if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
				t.Errorf("stack trace on stderr: %s", stderr)
			}
			if code != 0 && stdout != "" && tt.code == 2 {
				t.Errorf("usage error wrote to stdout: %q", stdout)
			}
			if lines := strings.Count(strings.TrimSpace(stderr), "\n"); lines > 1 {
				t.Errorf("error of %d lines: %q", lines+1, stderr)
			}
		})
	}
}

func TestInterrupt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Ctrl-C before the first batch
	dir := filepath.Join(t.TempDir(), "run")
	var o, e bytes.Buffer
	code := run(ctx, []string{"train", "--epochs", "3", "--out", dir}, &o, &e)
	if code != exitInterrupted {
		t.Errorf("exit %d; want %d (%s)", code, exitInterrupted, e.String())
	}
	if !strings.Contains(e.String(), "interrupted") || !strings.Contains(e.String(), dir) {
		t.Errorf("stderr %q does not say what was saved", e.String())
	}
	if _, err := os.Stat(filepath.Join(dir, checkpointFile)); err != nil {
		t.Errorf("no checkpoint after interrupt: %v", err)
	}
}

func TestRegression(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := runCmd(t, "train", "--data", "diabetes", "--model", "linear", "--epochs", "3", "--out", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "test MSE") {
		t.Errorf("no test MSE:\n%s", stdout)
	}
	code, stdout, stderr = runCmd(t, "eval", "--checkpoint", dir)
	if code != 0 || !strings.Contains(stdout, "MSE") {
		t.Errorf("eval: exit %d, %s %s", code, stdout, stderr)
	}
}
