package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/nabla-go/nabla/data"
	"github.com/nabla-go/nabla/datasets"
	"github.com/nabla-go/nabla/safetensors"
)

// The command under faulty and hostile input (issue 17): every case runs
// the built binary and must fail with exit code 1 and one line naming the
// problem, no stack trace, within bounded memory.

// copyRun copies the run folder src into a new temporary folder.
func copyRun(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{checkpointFile, configFile} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// editConfig rewrites the config.json of the run folder dir through edit,
// on its JSON as a generic map.
func editConfig(t *testing.T, dir string, edit func(c map[string]any)) {
	t.Helper()
	path := filepath.Join(dir, configFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	edit(c)
	if b, err = json.Marshal(c); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// digitRows writes n rows of the digits, with a header, as a CSV file in
// dir and returns its path.
func digitRows(t *testing.T, dir string, n int) string {
	t.Helper()
	d, err := datasets.Digits()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for j := range d.NumFeatures {
		if j > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "p%d", j)
	}
	b.WriteByte('\n')
	for i := range n {
		for j, v := range d.Row(i) {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprint(&b, v)
		}
		b.WriteByte('\n')
	}
	path := filepath.Join(dir, "rows.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeIDX writes an IDX file into dir.
func writeIDX(t *testing.T, dir, name string, x *data.IDX) string {
	t.Helper()
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := data.WriteIDX(f, x); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// idxLabels returns an int32 IDX of labels.
func idxLabels(ys ...int32) *data.IDX {
	b := make([]byte, 4*len(ys))
	for i, y := range ys {
		binary.BigEndian.PutUint32(b[4*i:], uint32(y))
	}
	return &data.IDX{Type: data.IDXInt32, Dims: []int{len(ys)}, Data: b}
}

// idxImages returns n float32 images of 4×4 pixels, pixel k of image i
// holding (i+k)%2 unless set overrides it.
func idxImages(n int, set map[int]float32) *data.IDX {
	b := make([]byte, 4*16*n)
	for i := range 16 * n {
		v := float32((i/16 + i%16) % 2)
		if s, ok := set[i]; ok {
			v = s
		}
		binary.BigEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return &data.IDX{Type: data.IDXFloat32, Dims: []int{n, 4, 4}, Data: b}
}

// symlinkZero returns a path in dir named name that is a link to /dev/zero.
func symlinkZero(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.Symlink("/dev/zero", p); err != nil {
		t.Skipf("no /dev/zero link: %v", err)
	}
	return p
}

// tensorWithNaN rewrites the checkpoint of dir with a NaN in its first
// tensor, keeping its metadata.
func tensorWithNaN(t *testing.T, dir string) {
	t.Helper()
	path := filepath.Join(dir, checkpointFile)
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ts := make([]safetensors.Tensor, len(f.Tensors))
	for i, x := range f.Tensors {
		x.Data = append([]byte{}, x.Data...)
		ts[i] = x
	}
	binary.LittleEndian.PutUint32(ts[0].Data[4:], math.Float32bits(float32(math.NaN())))
	if err := safetensors.WriteFile(path, ts, f.Metadata); err != nil {
		t.Fatal(err)
	}
}

func TestHostileInput(t *testing.T) {
	run := trained(t)
	tmp := t.TempDir()
	rows := digitRows(t, tmp, 3)
	write := func(name, text string) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	out := func(name string) string { return filepath.Join(tmp, "out-"+name) }

	// config.json asking for huge or impossible models
	cfgCase := func(edit func(c map[string]any)) string {
		d := copyRun(t, run)
		editConfig(t, d, edit)
		return d
	}
	hugeHidden := cfgCase(func(c map[string]any) { c["hidden"] = []int{1_000_000_000} })
	hugeFeatures := cfgCase(func(c map[string]any) {
		c["num_features"], c["feature_shape"], c["input_shape"] = 1_000_000_000, []int{1_000_000_000}, []int{1_000_000_000}
	})
	hugeChannels := cfgCase(func(c map[string]any) {
		delete(c, "hidden")
		c["model"], c["input_shape"] = "cnn", []int{1, 8, 8}
		c["cnn"] = map[string]any{"channels": []int{100000, 16}, "kernel": []int{3, 3}, "padding": []int{1, 1}, "fc": []int{120, 84}, "flat": 256}
	})
	hugeOutputs := cfgCase(func(c map[string]any) { c["outputs"] = 1_000_000_000 })
	fracZero := cfgCase(func(c map[string]any) { c["data"].(map[string]any)["test_frac"] = 0 })
	fracTwo := cfgCase(func(c map[string]any) { c["data"].(map[string]any)["test_frac"] = 2 })
	smallerHidden := cfgCase(func(c map[string]any) { c["hidden"] = []int{32} })

	// non-finite weights, and a normalisation that makes the outputs infinite
	nanWeights := copyRun(t, run)
	tensorWithNaN(t, nanWeights)
	hugeMean := cfgCase(func(c map[string]any) { c["normalization"].(map[string]any)["mean"] = []float64{1e300} })

	// a run folder whose config.json names a file outside it
	secret := write("secret.csv", "root,SECRETHASH,0\n1,2,3\nuser:SECRET2:x,4,5\n")
	pointsOut := cfgCase(func(c map[string]any) {
		c["data"] = map[string]any{"name": "csv", "path": secret, "test_frac": 0.2, "split_seed": 1}
	})
	pointsUp := cfgCase(func(c map[string]any) {
		c["data"] = map[string]any{"name": "csv", "path": "../../secret.csv", "test_frac": 0.2, "split_seed": 1}
	})

	// IDX files: no samples, a stray label, a NaN pixel
	emptyImages := writeIDX(t, tmp, "empty-images-idx3-ubyte", &data.IDX{Type: data.IDXUint8, Dims: []int{0, 8, 8}})
	writeIDX(t, tmp, "empty-labels-idx1-ubyte", &data.IDX{Type: data.IDXUint8, Dims: []int{0}})
	strayImages := writeIDX(t, tmp, "stray-images-idx3-ubyte", idxImages(6, nil))
	writeIDX(t, tmp, "stray-labels-idx1-ubyte", idxLabels(0, 1, 0, 999999, 1, 0))
	nanImages := writeIDX(t, tmp, "nan-images-idx3-ubyte", idxImages(6, map[int]float32{3*16 + 5: float32(math.NaN())}))
	writeIDX(t, tmp, "nan-labels-idx1-ubyte", idxLabels(0, 1, 0, 1, 1, 0))

	// CSV files: a stray label, a float32 overflow, a NaN
	strayCSV := write("stray.csv", "a,b,label\n1,2,0\n3,4,1\n5,6,1000000\n7,8,1\n")
	bigCSV := write("big.csv", "a,b,label\n1,2,0\n3,1e39,1\n5,6,0\n7,8,1\n")
	nanCSV := write("nan.csv", "a,b,label\n1,2,0\n3,4,1\nNaN,6,0\n7,8,1\n")
	overCSV := write("over.csv", "a,b,label\n1,2,0\n3,4,1\n5,6,2\n7,8,1\n")

	// links to /dev/zero
	zeroCSV := symlinkZero(t, tmp, "zero.csv")
	zeroIDX := symlinkZero(t, tmp, "zero-images-idx3-ubyte")
	symlinkZero(t, tmp, "zero-labels-idx1-ubyte")
	zeroPNG := symlinkZero(t, tmp, "zero.png")
	zeroRun := filepath.Join(tmp, "zerorun")
	os.Mkdir(zeroRun, 0o755)
	cfg, _ := os.ReadFile(filepath.Join(run, configFile))
	os.WriteFile(filepath.Join(zeroRun, configFile), cfg, 0o644)
	symlinkZero(t, zeroRun, checkpointFile)

	bomb, err := filepath.Abs("testdata/bomb.png")
	if err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name string
		args []string
		msg  string
	}{
		{"PNG claiming 100000×100000", []string{"predict", "--checkpoint", run, bomb}, "100000×100000 pixels, more than the limit"},
		{"PNG linked to /dev/zero", []string{"predict", "--checkpoint", run, zeroPNG}, "larger than the limit"},
		{"CSV linked to /dev/zero", []string{"train", "--data", zeroCSV, "--out", out("zerocsv")}, "larger than the limit"},
		{"IDX linked to /dev/zero", []string{"train", "--data", zeroIDX, "--out", out("zeroidx")}, "larger than the limit"},
		{"checkpoint linked to /dev/zero", []string{"eval", "--checkpoint", zeroRun}, "not a regular file"},
		{"hidden 1e9", []string{"predict", "--checkpoint", hugeHidden, rows}, "hidden width 1000000000 out of range"},
		{"1e9 features", []string{"eval", "--checkpoint", hugeFeatures}, "num_features 1000000000 out of range"},
		{"100000 channels", []string{"eval", "--checkpoint", hugeChannels}, "channels [100000 16] out of range"},
		{"1e9 outputs", []string{"eval", "--checkpoint", hugeOutputs}, "1000000000 outputs for classification"},
		{"test_frac 0", []string{"eval", "--checkpoint", fracZero}, "test_frac 0"},
		{"test_frac 2", []string{"eval", "--checkpoint", fracTwo}, "test_frac 2"},
		{"config and checkpoint of other shapes", []string{"eval", "--checkpoint", smallerHidden}, `tensor "0.weight" has shape [64 64] in the file, [32 64] in the model`},
		{"NaN weights in predict", []string{"predict", "--checkpoint", nanWeights, rows}, `holds NaN at element 1: refusing weights that are not finite`},
		{"NaN weights in eval", []string{"eval", "--checkpoint", nanWeights}, `holds NaN at element 1: refusing weights that are not finite`},
		{"infinite outputs in predict", []string{"predict", "--checkpoint", hugeMean, rows}, "the model's output is"},
		{"infinite outputs in eval", []string{"eval", "--checkpoint", hugeMean}, "the model's output for sample 1 is"},
		{"config names a file outside the run", []string{"eval", "--checkpoint", pointsOut}, "pass the file with --data"},
		{"config names a file above the run", []string{"eval", "--checkpoint", pointsUp}, "pass the file with --data"},
		{"IDX of 0 samples", []string{"train", "--data", emptyImages, "--out", out("empty")}, "no samples"},
		{"stray IDX label", []string{"train", "--data", strayImages, "--out", out("strayidx")}, "stray-labels-idx1-ubyte: sample 4: label 999999 would make 1000000 classes"},
		{"stray CSV label", []string{"train", "--data", strayCSV, "--out", out("straycsv")}, `stray.csv: row 3 (line 4), column "label": label 1000000 would make 1000001 classes, more than the 1000 inferred at most`},
		{"label beyond --classes", []string{"train", "--data", overCSV, "--classes", "2", "--out", out("over")}, "label 2 out of range: --classes 2 takes labels 0 to 1"},
		{"NaN pixel in IDX", []string{"train", "--data", nanImages, "--out", out("nanidx")}, "nan-images-idx3-ubyte: sample 4, feature 6: the value NaN is not finite"},
		{"1e39 in CSV", []string{"train", "--data", bigCSV, "--out", out("big")}, `big.csv: row 2 (line 3), column 2 ("b"): the feature is +Inf, not a finite float32`},
		{"NaN in CSV", []string{"train", "--data", nanCSV, "--out", out("nan")}, `nan.csv: row 3 (line 4), column 1 ("a"): the feature is NaN`},
		{"1e39 in predict rows", []string{"predict", "--checkpoint", run, write("big-rows.csv", strings.Repeat("1,", 63)+"1e39\n")}, "big-rows.csv:1: column 64: not a finite float32 number"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runBin(t, tmp, nil, tt.args...)
			wantFailure(t, r, tt.msg)
			for _, s := range []string{"SECRETHASH", "SECRET2"} {
				if strings.Contains(r.stderr, s) {
					t.Errorf("the error quotes the file: %s", r.stderr)
				}
			}
		})
	}

	t.Run("stdin from /dev/zero", func(t *testing.T) {
		z, err := os.Open("/dev/zero")
		if err != nil {
			t.Skip(err)
		}
		defer z.Close()
		wantFailure(t, runBin(t, tmp, z, "predict", "--checkpoint", run), "stdin is larger than the limit")
	})
	t.Run("a file given with --data is not quoted", func(t *testing.T) {
		r := runBin(t, tmp, nil, "eval", "--checkpoint", run, "--data", secret)
		wantFailure(t, r, "secret.csv: csv: line 3, column 1: not a number")
		if strings.Contains(r.stderr, "SECRET") {
			t.Errorf("the error quotes the file: %s", r.stderr)
		}
	})
}

// TestHostileCheckpointConfig: the configuration stored in a checkpoint's
// metadata is validated as config.json is, before the model is built.
func TestHostileCheckpointConfig(t *testing.T) {
	dir := copyRun(t, trained(t))
	path := filepath.Join(dir, checkpointFile)
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal([]byte(f.Metadata[configKey]), &c); err != nil {
		t.Fatalf("no configuration in the checkpoint's metadata: %v", err)
	}
	c["hidden"] = []int{1_000_000_000}
	b, _ := json.Marshal(c)
	f.Metadata[configKey] = string(b)
	if err := safetensors.WriteFile(path, f.Tensors, f.Metadata); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, configFile)) // as if the first save was killed before it
	wantFailure(t, runBin(t, dir, nil, "eval", "--checkpoint", dir), "(the configuration in its metadata): config: hidden width 1000000000 out of range")
}

func TestOverwrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if code, _, stderr := runCmd(t, "train", "--epochs", "1", "--hidden", "16", "--out", dir); code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	before, err := os.ReadFile(filepath.Join(dir, checkpointFile))
	if err != nil {
		t.Fatal(err)
	}
	// A second run into the same --out is refused.
	code, _, stderr := runCmd(t, "train", "--epochs", "1", "--out", dir)
	if code != exitUsage || !strings.Contains(stderr, "--overwrite") {
		t.Errorf("train into a trained --out: exit %d, %q; want %d and a word on --overwrite", code, stderr, exitUsage)
	}
	// Ctrl-C during a run with --overwrite saves beside the old run.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var o, e bytes.Buffer
	code = run(ctx, []string{"train", "--epochs", "3", "--overwrite", "--out", dir}, &o, &e)
	if code != exitInterrupted || !strings.Contains(e.String(), dir+".interrupted") {
		t.Errorf("interrupted: exit %d, %q; want %d and the folder it saved", code, e.String(), exitInterrupted)
	}
	after, err := os.ReadFile(filepath.Join(dir, checkpointFile))
	if err != nil || !bytes.Equal(before, after) {
		t.Errorf("the trained checkpoint was replaced by an interrupted run (%v)", err)
	}
	if !holdsRun(dir + ".interrupted") {
		t.Errorf("no interrupted run beside %s", dir)
	}
	// With --overwrite a finished run replaces the old one.
	if code, _, stderr := runCmd(t, "train", "--epochs", "1", "--hidden", "8", "--overwrite", "--out", dir); code != 0 {
		t.Fatalf("train --overwrite: exit %d: %s", code, stderr)
	}
	ck, err := loadCheckpoint(dir)
	if err != nil || !slices.Equal(ck.cfg.Hidden, []int{8}) || ck.cfg.Generation != 2 {
		t.Errorf("after --overwrite: %v, %+v", err, ck)
	}
	// The default folder is never reused.
	if got := freeRunDir(dir); got != dir+"-2" {
		t.Errorf("freeRunDir(%s) = %s; want %s-2", dir, got, dir)
	}
}

func TestByteOrderMarkAndClasses(t *testing.T) {
	tmp := t.TempDir()
	var b strings.Builder
	b.WriteString("\ufefflabel,x,y\n")
	for i := range 40 {
		fmt.Fprintf(&b, "%d,%d,%d\n", i%2, i%2*10+i%3, i%5)
	}
	p := filepath.Join(tmp, "bom.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runBin(t, tmp, nil, "train", "--data", p, "--target", "label", "--classes", "3", "--epochs", "2", "--out", filepath.Join(tmp, "run"))
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "3 classes") {
		t.Errorf("--classes 3 not used:\n%s", r.stdout)
	}
}

func TestVersion(t *testing.T) {
	r := runBin(t, t.TempDir(), nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "nabla ") || !strings.Contains(r.stdout, runtime.Version()) {
		t.Errorf("version: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	info := &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-12-03T12:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	if got, want := versionLine(info), "nabla v1.2.3 go1.99 commit abc123 (2026-12-03T12:00:00Z) with local changes"; got != want {
		t.Errorf("versionLine = %q; want %q", got, want)
	}
	if got, want := versionLine(&debug.BuildInfo{GoVersion: "go1.99"}), "nabla (devel) go1.99"; got != want {
		t.Errorf("versionLine = %q; want %q", got, want)
	}
}

// TestPredictReadmeFiles runs predict on the files the README's command
// names. NABLA_WRITE_FIXTURES=1 rewrites them from the digits: three rows
// with their labels, and a 32×32 picture of a 3 drawn dark on light, as a
// scan or a drawing program gives it.
func TestPredictReadmeFiles(t *testing.T) {
	png, rows := filepath.Join("testdata", "digit.png"), filepath.Join("testdata", "rows.csv")
	if os.Getenv("NABLA_WRITE_FIXTURES") != "" {
		d, err := datasets.Digits()
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for j := range d.NumFeatures {
			fmt.Fprintf(&b, "pixel%d,", j)
		}
		b.WriteString("label\n")
		for _, i := range []int{0, 1, 2} {
			for _, v := range d.Row(i) {
				fmt.Fprintf(&b, "%v,", v)
			}
			fmt.Fprintf(&b, "%d\n", d.Labels[i])
		}
		if err := os.WriteFile(rows, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		i := slices.Index(d.Labels, 3)
		big := make([]float32, 32*32)
		for y := range 32 {
			for x := range 32 {
				big[y*32+x] = 16 - d.Row(i)[y/4*8+x/4] // dark ink on white
			}
		}
		if err := writeGray(png, big, 32, 32, 16); err != nil {
			t.Fatal(err)
		}
	}
	r := runBin(t, ".", nil, "predict", "--checkpoint", trained(t), png, rows)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines; want 4 (the picture and 3 rows):\n%s", len(lines), r.stdout)
	}
	for _, l := range lines {
		if strings.Count(l, "%") != 3 {
			t.Errorf("%q: want the top 3 classes", l)
		}
	}
}

// TestEvalDataPaths: a model trained on a CSV file is evaluated on the file
// given again with --data (its held-out split) or on another file (whole);
// without --data eval does not read the path config.json records.
func TestEvalDataPaths(t *testing.T) {
	tmp := t.TempDir()
	var b strings.Builder
	b.WriteString("x,y,label\n")
	for i := range 50 {
		fmt.Fprintf(&b, "%d,%d,%d\n", i%2*10+i%3, i%5, i%2)
	}
	train := filepath.Join(tmp, "train.csv")
	other := filepath.Join(tmp, "other.csv")
	os.WriteFile(train, []byte(b.String()), 0o644)
	os.WriteFile(other, []byte("x,y,label\n1,2,0\n11,3,1\n0,4,0\n"), 0o644)
	dir := filepath.Join(tmp, "run")
	if code, _, stderr := runCmd(t, "train", "--data", train, "--epochs", "2", "--out", dir); code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCmd(t, "eval", "--checkpoint", dir); code != 1 || !strings.Contains(stderr, "pass the file with --data") {
		t.Errorf("eval without --data: exit %d, %q", code, stderr)
	}
	for _, tt := range []struct {
		data string
		want string
	}{
		{train, "(10 samples)"}, // the held-out 20 % of 50
		{other, "(3 samples)"},  // another file, whole
	} {
		code, stdout, stderr := runCmd(t, "eval", "--checkpoint", dir, "--data", tt.data)
		if code != 0 || !strings.Contains(stdout, tt.want) {
			t.Errorf("eval --data %s: exit %d, %q %q; want %s", filepath.Base(tt.data), code, stdout, stderr, tt.want)
		}
	}
}

// TestGraphDefaultOut: graph without --out writes under runs/ (ignored by
// git), not into the current folder.
func TestGraphDefaultOut(t *testing.T) {
	tmp := t.TempDir()
	r := runBin(t, tmp, nil, "graph", "--svg=false")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(tmp, "runs", "graph", "digits-mlp.dot")); err != nil {
		t.Error(err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 1 {
		t.Errorf("graph wrote %d entries into its folder; want only runs/", len(ents))
	}
}
