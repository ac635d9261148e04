package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/cmd/nabla/internal/model"
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
	cfg, m, err := loadForExport(ckpt)
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

// loadForExport reads a train run's model: its folder or checkpoint file,
// with config.json beside it. It uses package model's readers directly,
// not eval's loadCheckpoint, so that this file does not depend on eval's
// helpers, which change independently.
func loadForExport(path string) (*model.Config, nn.Module, error) {
	if path == "" {
		return nil, nil, usagef("--checkpoint is required: a train run's output folder or its %s", checkpointFile)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	weights := path
	if st.IsDir() {
		weights = filepath.Join(path, checkpointFile)
	}
	cfg, err := model.ReadConfig(filepath.Join(filepath.Dir(weights), configFile))
	if err != nil {
		return nil, nil, err
	}
	m, err := cfg.Build(rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", configFile, err)
	}
	if err := model.LoadWeights(weights, m); err != nil {
		return nil, nil, fmt.Errorf("corrupt checkpoint or one that does not fit the model: %v", err)
	}
	return cfg, m, nil
}

// Registered here, as inspect is, rather than in run.go's table.
func init() {
	commands["export"] = command{"write a trained model as an ONNX file", runExport}
}
