package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/onnx"
)

// runExport writes a trained model as an ONNX file.
func runExport(_ context.Context, args []string, stdout, _ io.Writer) error {
	var ckpt, out string
	fs := newFlags("export", "export --checkpoint PATH [--out model.onnx]\n\nWrites a trained model as an ONNX file (opset 17, dynamic batch size). The file's\ninput is the model's: features after the normalization recorded in config.json,\nwhich the graph does not include.", stdout)
	fs.StringVar(&ckpt, "checkpoint", "", "a train run's output folder, or the "+checkpointFile+" in it")
	fs.StringVar(&out, "out", "model.onnx", "ONNX file to write")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	cfg, m, _, err := loadCheckpoint(ckpt)
	if err != nil {
		return err
	}
	nn.SetTraining(m, false)
	var buf bytes.Buffer
	if err := onnx.Export(&buf, m, nabla.Zeros(append([]int{1}, cfg.InputShape...)...)); err != nil {
		return err
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "wrote %s (%d bytes, %d parameters)\n", out, buf.Len(), nn.NumParams(m))
	return err
}
