package main

import (
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/onnx"
)

func TestInspect(t *testing.T) {
	code, out, errOut := runCmd(t, "inspect", "../../onnx/testdata/lenet.onnx")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"opset     13",
		"input     input float32 [batch 1 28 28]",
		"output    output float32 [batch 10]",
		"operators 12 nodes: Conv×2 Flatten×1 Gemm×3 MaxPool×2 Relu×4",
		"params    61706 (61706 trainable in 10 tensors, 0 in 0 buffers)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"inspect"}, exitUsage, "want one model file"},
		{[]string{"inspect", "nope.onnx"}, exitFailure, "no such file"},
		{[]string{"inspect", "../../onnx/testdata/lenet.json"}, exitFailure, "onnx:"},
	} {
		code, _, errOut := runCmd(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want exit %d and %q", c.args, code, errOut, c.code, c.want)
		}
	}
}

// TestExport writes the trained digits MLP as ONNX, inspects it and checks
// that it predicts what the checkpoint predicts.
func TestExport(t *testing.T) {
	dir := trained(t)
	path := filepath.Join(t.TempDir(), "digits.onnx")
	code, out, errOut := runCmd(t, "export", "--checkpoint", dir, "--out", path)
	if code != exitOK || !strings.Contains(out, "wrote "+path) {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	code, out, errOut = runCmd(t, "inspect", path)
	if code != exitOK || !strings.Contains(out, "opset     17") || !strings.Contains(out, "output    output float32 [batch 10]") {
		t.Fatalf("inspect: exit %d: %s%s", code, out, errOut)
	}
	cfg, m, err := loadForExport(dir)
	if err != nil {
		t.Fatal(err)
	}
	om, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	x := nabla.Rand(rand.New(rand.NewPCG(1, 1)), append([]int{16}, cfg.InputShape...)...)
	nn.SetTraining(m, false)
	want := m.Forward(x).ArgMax(1).Float32s()
	got := om.Forward(x).ArgMax(1).Float32s()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sample %d: ONNX predicts class %v, the checkpoint %v", i, got[i], want[i])
		}
	}
	if code, _, errOut := runCmd(t, "export"); code != exitUsage || !strings.Contains(errOut, "--checkpoint is required") {
		t.Errorf("export without --checkpoint: exit %d, %q", code, errOut)
	}
}
