package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/cmd/nabla/internal/model"
)

func runGraph(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f trainFlags
	var out string
	var batch int
	var svg bool
	fs := newFlags("graph", "graph [flags]\n\nWrites the computational graph of one training step (forward pass and loss) of a model\nas Graphviz DOT, and as SVG when Graphviz's dot is on PATH.", stdout)
	f.dataFlags(fs.FlagSet)
	f.modelFlags(fs.FlagSet)
	fs.IntVar(&batch, "batch-size", 4, "samples in the batch")
	fs.StringVar(&out, "out", "", "DOT file to write; - for stdout (default runs/graph/DATA-MODEL.dot)")
	fs.BoolVar(&svg, "svg", true, "also write an SVG beside the DOT file when dot is on PATH")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if batch <= 0 {
		return usagef("invalid value %d for --batch-size: want 1 or more", batch)
	}
	src, err := f.check()
	if err != nil {
		return err
	}
	set, cfg, err := f.load(src)
	if err != nil {
		return err
	}
	m, err := cfg.Build(rand.New(rand.NewPCG(f.seed, 1)))
	if err != nil {
		return err
	}
	idx := make([]int, min(batch, set.Train.NumSamples))
	for i := range idx {
		idx[i] = i
	}
	var dot bytes.Buffer
	var loss *nabla.Tensor
	err = maybe(func() {
		x, y := cfg.Batch(set.Train, idx)
		t := &trainer{cfg: cfg}
		loss = t.loss(m.Forward(x), y)
	})
	if err != nil {
		return err
	}
	if err := nabla.WriteDOT(&dot, loss); err != nil {
		return err
	}
	if out == "-" {
		_, err := stdout.Write(dot.Bytes())
		return err
	}
	if out == "" {
		out = filepath.Join("runs", "graph", dataLabel(src)+"-"+f.model+".dot")
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
	}
	if err := model.WriteAtomic(out, func(w io.Writer) error { _, err := w.Write(dot.Bytes()); return err }); err != nil {
		return err
	}
	what := "loss"
	if cfg.Task == model.Classification {
		what = "cross-entropy loss"
	}
	fmt.Fprintf(stdout, "wrote %s: the graph of the %s of %s on a batch of %d %s samples\n", out, what, cfg.Model, len(idx), src.Name)
	if !svg {
		return nil
	}
	svgPath := strings.TrimSuffix(out, ".dot") + ".svg"
	dotBin, err := exec.LookPath("dot")
	if err != nil {
		fmt.Fprintf(stdout, "dot (Graphviz) is not on PATH: no SVG; render it with: dot -Tsvg %s -o %s\n", out, svgPath)
		return nil
	}
	cmd := exec.CommandContext(ctx, dotBin, "-Tsvg", "-o", svgPath, out)
	var msg bytes.Buffer
	cmd.Stderr = &msg
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("dot -Tsvg %s: %v %s", out, err, strings.TrimSpace(msg.String()))
	}
	fmt.Fprintf(stdout, "wrote %s\n", svgPath)
	return nil
}
