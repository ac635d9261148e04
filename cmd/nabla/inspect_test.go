package main

import (
	"strings"
	"testing"
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
