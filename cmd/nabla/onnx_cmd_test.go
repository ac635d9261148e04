package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// exportedRun exports the package's trained digits MLP as ONNX and
// returns the file and the --normalize values of its config.json for
// images (pixels in [0, 1]) and for CSV rows of digits' raw values 0 to 16.
func exportedRun(t *testing.T) (path, norm, rowNorm string) {
	t.Helper()
	run := trained(t)
	path = filepath.Join(t.TempDir(), "mlp.onnx")
	if code, _, stderr := runCmd(t, "export", "--checkpoint", run, "--out", path); code != 0 {
		t.Fatalf("export: exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(filepath.Join(run, configFile))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Norm struct {
			Scale     float64
			Mean, Std []float64
		} `json:"normalization"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	// predict and eval scale digits' pixels by 1/16 for an ONNX model, as
	// the checkpoint's normalization does.
	if c.Norm.Scale != 1.0/16 || len(c.Norm.Mean) != 1 {
		t.Fatalf("normalization %+v: want the scale 1/16 and one mean", c.Norm)
	}
	return path, fmt.Sprintf("%v,%v", c.Norm.Mean[0], c.Norm.Std[0]), fmt.Sprintf("%v,%v", 16*c.Norm.Mean[0], 16*c.Norm.Std[0])
}

// TestONNXPredictEval runs a trained model exported to ONNX through
// predict and eval --model: with the checkpoint's normalization it gives
// the checkpoint's classes, probabilities, accuracy and loss.
func TestONNXPredictEval(t *testing.T) {
	run := trained(t)
	path, norm, rowNorm := exportedRun(t)
	tmp := t.TempDir()
	rows := digitRows(t, tmp, 5)
	img := filepath.Join("testdata", "digit.png")

	for _, c := range []struct{ file, norm string }{{rows, rowNorm}, {img, norm}} {
		code, want, stderr := runCmd(t, "predict", "--checkpoint", run, c.file)
		if code != 0 {
			t.Fatalf("predict --checkpoint: exit %d: %s", code, stderr)
		}
		code, got, stderr := runCmd(t, "predict", "--model", path, "--normalize", c.norm, c.file)
		if code != 0 {
			t.Fatalf("predict --model: exit %d: %s", code, stderr)
		}
		if got != want || !strings.Contains(got, "%") {
			t.Errorf("predict --model:\n%s\npredict --checkpoint:\n%s", got, want)
		}
	}

	_, ckOut, _ := runCmd(t, "eval", "--checkpoint", run, "--out", tmp)
	code, onnxOut, stderr := runCmd(t, "eval", "--model", path, "--normalize", norm, "--data", "digits", "--out", tmp)
	if code != 0 {
		t.Fatalf("eval --model: exit %d: %s", code, stderr)
	}
	acc := func(s string) string {
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, "accuracy ") {
				return l
			}
		}
		return ""
	}
	if a := acc(onnxOut); a == "" || a != acc(ckOut) || !strings.Contains(onnxOut, "(359 samples)") {
		t.Errorf("eval --model:\n%s\neval --checkpoint:\n%s", onnxOut, ckOut)
	}
	if _, err := os.Stat(filepath.Join(tmp, confusionFile)); err != nil {
		t.Error(err)
	}

	// Without --normalize the inputs differ: other scores.
	_, want, _ := runCmd(t, "predict", "--checkpoint", run, img)
	_, raw, _ := runCmd(t, "predict", "--model", path, img)
	if raw == want {
		t.Error("predict --model without --normalize printed the normalised model's probabilities")
	}
}

// TestONNXPredictPyTorch runs the LeNet-5 that PyTorch exported (random
// weights) on an image and names the classes with --classes.
func TestONNXPredictPyTorch(t *testing.T) {
	lenet := filepath.Join("..", "..", "onnx", "testdata", "lenet.onnx")
	classes := "a,b,c,d,e,f,g,h,i,j"
	code, out, stderr := runCmd(t, "predict", "--model", lenet, "--classes", classes, "--top", "2", filepath.Join("testdata", "digit.png"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	_, rest, _ := strings.Cut(strings.TrimSpace(out), ": ")
	parts := strings.Split(strings.TrimSpace(rest), ", ")
	if len(parts) != 2 || !strings.Contains(classes, parts[0][:1]) || !strings.HasSuffix(parts[0], "%)") {
		t.Errorf("got %q; want two named classes with probabilities", out)
	}
}

// onnxFile writes a minimal ONNX file (opset 17) of nodes (op, inputs...,
// output) over inputs, float32 [batch, 4], and one output declared as
// float32 [batch, outWidth].
func onnxFile(t *testing.T, dir, name string, inputs []string, output string, outWidth int, nodes ...[]string) string {
	t.Helper()
	bytes := func(b []byte, num protowire.Number, v []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), v)
	}
	varint := func(b []byte, num protowire.Number, v uint64) []byte {
		return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), v)
	}
	info := func(name string, width int) []byte {
		shape := bytes(nil, 1, bytes(nil, 2, []byte("batch")))
		shape = bytes(shape, 1, varint(nil, 1, uint64(width)))
		tt := bytes(varint(nil, 1, 1), 2, shape)
		return bytes(bytes(nil, 1, []byte(name)), 2, bytes(nil, 1, tt))
	}
	var g []byte
	for _, n := range nodes {
		var nb []byte
		for _, in := range n[1 : len(n)-1] {
			nb = bytes(nb, 1, []byte(in))
		}
		nb = bytes(bytes(nb, 2, []byte(n[len(n)-1])), 4, []byte(n[0]))
		g = bytes(g, 1, nb)
	}
	g = bytes(g, 2, []byte("test"))
	for _, in := range inputs {
		g = bytes(g, 11, info(in, 4))
	}
	g = bytes(g, 12, info(output, outWidth))
	m := varint(nil, 1, 8)
	m = bytes(m, 7, g)
	m = bytes(m, 8, varint(bytes(nil, 1, nil), 2, 17))
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, m, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestONNXHostile: ONNX files that do not fit, or that the reader
// refuses, fail with exit code 1 and one line naming the problem.
func TestONNXHostile(t *testing.T) {
	tmp := t.TempDir()
	lenet, _ := filepath.Abs(filepath.Join("..", "..", "onnx", "testdata", "lenet.onnx"))
	two := onnxFile(t, tmp, "two.onnx", []string{"a", "b"}, "y", 4, []string{"Add", "a", "b", "y"})
	unsupported := onnxFile(t, tmp, "unsupported.onnx", []string{"x"}, "y", 4, []string{"Hardmax", "x", "h"}, []string{"Einsum", "h", "y"})
	// 4 features in (as iris), 2 outputs declared: fewer than iris' classes.
	relu := onnxFile(t, tmp, "relu.onnx", []string{"x"}, "y", 2, []string{"Relu", "x", "y"})
	garbage := filepath.Join(tmp, "garbage.onnx")
	if err := os.WriteFile(garbage, []byte("not a model at all, just text\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rows := digitRows(t, tmp, 2)
	for _, tt := range []struct {
		name string
		args []string
		msg  string
	}{
		{"input shape", []string{"eval", "--model", lenet, "--data", "digits"}, "lenet.onnx takes inputs of shape [batch 1 28 28] (784 features per sample); digits-test has samples of shape [8 8] (64 features)"},
		{"rows of another width", []string{"predict", "--model", lenet, rows}, "64 values; the model takes 784 features per row"},
		{"two inputs", []string{"predict", "--model", two, rows}, "two.onnx has 2 inputs and 1 outputs; a classifier has one input and one output"},
		{"unsupported ops", []string{"eval", "--model", unsupported, "--data", "iris"}, `2 unsupported operator(s): Hardmax (Hardmax node (output "h"), opset 17); Einsum (Einsum node (output "y"), opset 17)`},
		{"classes of iris", []string{"eval", "--model", relu, "--data", "iris"}, "iris-test has 3 classes; " + relu + " has 2 outputs"},
		{"not ONNX", []string{"predict", "--model", garbage, rows}, "garbage.onnx"},
		{"missing", []string{"predict", "--model", filepath.Join(tmp, "none.onnx"), rows}, "none.onnx does not exist"},
		{"no data", []string{"eval", "--model", lenet}, "--model needs --data"},
		{"both", []string{"predict", "--model", lenet, "--checkpoint", tmp, rows}, "give --checkpoint or --model, not both"},
		{"bad normalize", []string{"predict", "--model", lenet, "--normalize", "0.5", rows}, `invalid value "0.5" for --normalize`},
		{"zero std", []string{"eval", "--model", lenet, "--normalize", "0,0", "--data", "digits"}, `for --normalize: want MEAN,STD (finite, STD > 0)`},
		{"classes count", []string{"predict", "--model", lenet, "--classes", "a,b", rows}, "--classes names 2 classes; " + lenet + " has 10 outputs"},
		{"normalize without model", []string{"predict", "--checkpoint", tmp, "--normalize", "0,1", rows}, "--normalize and --classes go with --model"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runBin(t, tmp, nil, tt.args...)
			if strings.HasPrefix(tt.msg, "--") || strings.Contains(tt.msg, "for --normalize") || strings.HasPrefix(tt.msg, "give") {
				// usage errors: exit code 2 with the usage line
				if r.code == 0 || !strings.Contains(r.stderr, tt.msg) {
					t.Errorf("exit %d, stderr %q; want a failure naming %q", r.code, trunc(r.stderr), tt.msg)
				}
				return
			}
			wantFailure(t, r, tt.msg)
		})
	}
}
