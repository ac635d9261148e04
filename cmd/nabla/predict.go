package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // decoders for image.Decode
	_ "image/jpeg"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	xdraw "golang.org/x/image/draw"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/cmd/nabla/internal/model"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/onnx"
)

// input is one sample to predict, with a name to print.
type input struct {
	name string
	x    []float32 // raw features, as the training data holds them
}

func runPredict(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var ckpt, invert, onnxPath, norm, classes string
	var top int
	fs := newFlags("predict", "predict --checkpoint PATH [flags] [FILE ...]\n       predict --model MODEL.onnx [--normalize MEAN,STD] [--classes A,B,...] [flags] [FILE ...]\n\nClassifies inputs with a trained model and prints the top classes with their probabilities\n(or the predicted value, for regression). Each FILE is a CSV file of rows of raw features in\nthe order of training (a header row is optional), or a PNG, JPEG or GIF image, which is\nconverted to grayscale and resized to the model's input size (8×8 for digits, 28×28 for\nFashion-MNIST). With no FILE, or -, CSV rows are read from stdin.\n\nWith --model, an ONNX classifier (one input (batch, features...), one output of class\nscores) runs instead: images become pixels in [0, 1], CSV values are given as they are,\nboth mapped to (x - MEAN) / STD with --normalize (for a file of \"nabla export\", the\nscale, mean and std of its config.json's normalization).", stdout)
	fs.StringVar(&ckpt, "checkpoint", "", "a train run's output folder, or the "+checkpointFile+" in it")
	fs.StringVar(&onnxPath, "model", "", "an ONNX classifier to run instead of a checkpoint")
	fs.StringVar(&norm, "normalize", "", "with --model: MEAN,STD to map each input value x to (x - MEAN) / STD")
	fs.StringVar(&classes, "classes", "", "with --model: the class names, comma-separated, in output order (default 0, 1, ...)")
	fs.IntVar(&top, "top", 3, "number of classes to print per input")
	fs.StringVar(&invert, "invert", "auto", "images: make dark ink on a light background light on dark, as in training: auto (by the border's brightness), true or false")
	if err := parse(fs, args); err != nil {
		return err
	}
	if top < 1 {
		return usagef("invalid value %d for --top: want 1 or more", top)
	}
	if invert != "auto" && invert != "true" && invert != "false" {
		return usagef("invalid value %q for --invert: want auto, true or false", invert)
	}
	var cfg *model.Config
	var m nn.Module
	if onnxPath != "" {
		if ckpt != "" {
			return usagef("give --checkpoint or --model, not both")
		}
		var err error
		if cfg, m, err = loadONNX(onnxPath, norm, 1); err != nil {
			return err
		}
		if classes != "" {
			names := strings.Split(classes, ",")
			if len(names) != cfg.Outputs {
				return usagef("--classes names %d classes; %s has %d outputs", len(names), onnxPath, cfg.Outputs)
			}
			cfg.Classes = names
		}
	} else {
		if norm != "" || classes != "" {
			return usagef("--normalize and --classes go with --model")
		}
		ck, err := loadCheckpoint(ckpt)
		if err != nil {
			return err
		}
		if ck.note != "" {
			fmt.Fprintf(stderr, "nabla predict: note: %s\n", ck.note)
		}
		cfg, m = ck.cfg, ck.m
	}
	files := fs.Args()
	if len(files) == 0 {
		files = []string{"-"}
	}
	var ins []input
	for _, f := range files {
		var got []input
		var err error
		switch strings.ToLower(filepath.Ext(f)) {
		case ".png", ".jpg", ".jpeg", ".gif":
			got, err = readImage(f, cfg, invert)
		default:
			got, err = readRows(f, cfg)
		}
		if err != nil {
			return err
		}
		ins = append(ins, got...)
	}
	if len(ins) == 0 {
		return errors.New("no inputs: the CSV has no data rows")
	}
	raw := make([]float32, 0, len(ins)*cfg.NumFeatures)
	for _, in := range ins {
		raw = append(raw, in.x...)
	}
	var out []float32
	if err := maybe(func() { out = forward(m, cfg, raw) }); err != nil {
		return err
	}
	k := cfg.Outputs
	if i, v, bad := firstNonFinite32(out); bad {
		return fmt.Errorf("%s: the model's output is %v: its weights or normalisation give values that are not finite", ins[i/k].name, v)
	}
	width := 0
	for _, in := range ins {
		width = max(width, len(in.name))
	}
	for i, in := range ins {
		if cfg.Task == model.Regression {
			fmt.Fprintf(stdout, "%-*s  %.4g\n", width+1, in.name+":", cfg.Target(float64(out[i])))
			continue
		}
		p := softmax(out[i*k : (i+1)*k])
		order := make([]int, k)
		for j := range order {
			order[j] = j
		}
		slices.SortStableFunc(order, func(a, b int) int { return -cmpFloat(p[a], p[b]) })
		parts := make([]string, 0, top)
		for _, j := range order[:min(top, k)] {
			parts = append(parts, fmt.Sprintf("%s (%.1f%%)", cfg.Classes[j], 100*p[j]))
		}
		fmt.Fprintf(stdout, "%-*s  %s\n", width+1, in.name+":", strings.Join(parts, ", "))
	}
	return nil
}

// forward runs the model on raw samples without recording a graph.
func forward(m nn.Module, cfg *model.Config, raw []float32) []float32 {
	nn.SetTraining(m, false)
	var out []float32
	nn.NoGrad(m, func() { out = m.Forward(cfg.Inputs(raw)).Float32s() })
	return out
}

func softmax(v []float32) []float64 {
	mx := math.Inf(-1)
	for _, x := range v {
		mx = math.Max(mx, float64(x))
	}
	p := make([]float64, len(v))
	var s float64
	for i, x := range v {
		p[i] = math.Exp(float64(x) - mx)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return p
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// readRows reads CSV rows of raw features from the file (stdin for "-").
// A first row that is not all numbers is a header; if it names one column
// more than the model's features, that column (the label) is skipped.
func readRows(path string, cfg *model.Config) ([]input, error) {
	r := model.Bounded(os.Stdin, "stdin", model.MaxStreamBytes)
	name := "stdin"
	if path != "-" {
		f, err := model.OpenLimited(path, model.MaxFileBytes)
		if err != nil {
			if model.IsNotExist(err) {
				return nil, fmt.Errorf("input %s does not exist", path)
			}
			return nil, err
		}
		defer f.Close()
		r, name = f, path
	}
	cr := csv.NewReader(model.SkipBOM(r))
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	skip := -1
	var ins []input
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if line == 1 && !numeric(rec) {
			if len(rec) == cfg.NumFeatures+1 {
				skip = len(rec) - 1
				for j, h := range rec {
					if len(cfg.FeatureNames) == cfg.NumFeatures && !slices.Contains(cfg.FeatureNames, strings.TrimSpace(h)) {
						skip = j
					}
				}
			}
			continue
		}
		if skip >= 0 && len(rec) == cfg.NumFeatures+1 {
			rec = slices.Delete(slices.Clone(rec), skip, skip+1)
		}
		if len(rec) != cfg.NumFeatures {
			return nil, fmt.Errorf("%s:%d: %d values; the model takes %d features per row", name, line, len(rec), cfg.NumFeatures)
		}
		x := make([]float32, len(rec))
		for j, c := range rec {
			v, err := strconv.ParseFloat(strings.TrimSpace(c), 64)
			if f := float64(float32(v)); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("%s:%d: column %d: not a finite float32 number", name, line, j+1)
			}
			x[j] = float32(v)
		}
		ins = append(ins, input{name: fmt.Sprintf("%s:%d", name, line), x: x})
	}
	return ins, nil
}

func numeric(rec []string) bool {
	for _, c := range rec {
		if _, err := strconv.ParseFloat(strings.TrimSpace(c), 64); err != nil {
			return false
		}
	}
	return true
}

// readImage reads an image and turns it into the raw features of an image
// model: grayscale, resized to the model's size, ink scaled to PixelMax.
func readImage(path string, cfg *model.Config, invert string) ([]input, error) {
	if cfg.PixelMax <= 0 {
		return nil, fmt.Errorf("%s: this model was trained on %s, which are not images: give CSV rows of %d features", path, cfg.Data.Name, cfg.NumFeatures)
	}
	fs := cfg.FeatureShape
	h, w := fs[len(fs)-2], fs[len(fs)-1]
	if cfg.NumFeatures != h*w {
		return nil, fmt.Errorf("%s: the model takes %v images; only one-channel images can be read", path, fs)
	}
	raw, err := model.ReadLimited(path, model.MaxStreamBytes)
	if err != nil {
		if model.IsNotExist(err) {
			return nil, fmt.Errorf("input %s does not exist", path)
		}
		return nil, err
	}
	// The header first: a few bytes may claim 10¹⁰ pixels.
	ic, _, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable image: %v", path, err)
	}
	if ic.Width <= 0 || ic.Height <= 0 || ic.Width > model.MaxPixels/ic.Height {
		return nil, fmt.Errorf("%s: the image is %d×%d pixels, more than the limit of %d", path, ic.Width, ic.Height, model.MaxPixels)
	}
	src, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable image: %v", path, err)
	}
	// Flatten transparency onto white, then convert to grayscale.
	b := src.Bounds()
	flat := image.NewGray(b)
	xdraw.Draw(flat, b, image.NewUniform(color.White), image.Point{}, xdraw.Src)
	xdraw.Draw(flat, b, src, b.Min, xdraw.Over)
	small := image.NewGray(image.Rect(0, 0, w, h))
	xdraw.CatmullRom.Scale(small, small.Bounds(), flat, b, xdraw.Src, nil)

	inv := invert == "true"
	if invert == "auto" {
		// Training images are light ink on a dark background: a light
		// border means dark ink on paper, to invert.
		var sum, n float64
		for y := range h {
			for x := range w {
				if x == 0 || y == 0 || x == w-1 || y == h-1 {
					sum += float64(small.GrayAt(x, y).Y) / 255
					n++
				}
			}
		}
		inv = sum/n > 0.5
	}
	x := make([]float32, h*w)
	for y := range h {
		for xx := range w {
			g := float64(small.GrayAt(xx, y).Y) / 255
			if inv {
				g = 1 - g
			}
			x[y*w+xx] = float32(g * cfg.PixelMax)
		}
	}
	return []input{{name: path, x: x}}, nil
}

// writeGray writes the raw features of a one-channel image sample as a
// grayscale PNG, ink light on dark; tests and examples use it to make
// inputs for predict.
func writeGray(path string, x []float32, h, w int, pixelMax float64) error {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i, v := range x {
		img.Pix[i] = uint8(math.Round(255 * math.Min(1, math.Max(0, float64(v)/pixelMax))))
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// onnxClassifier is an ONNX file run as a classifier by predict and eval,
// with a configuration that describes it to their shared code: raw
// features are scaled to [0, 1] for images (by the data's PixelMax), then
// mapped to (x - mean) / std by --normalize, and given to the graph's one
// input; its one output holds the class scores.
type onnxClassifier struct {
	m     *onnx.Model
	shape []int // the input's shape without the batch dimension
	fixed bool  // the batch dimension is fixed to 1: run one sample at a time
}

// loadONNX reads the ONNX file path as a classifier of one float input of
// shape (batch, features...) and one output (batch, classes). norm is
// --normalize's value ("" for none). pixelMax is the raw value of a fully
// inked pixel of the data (0 unless images; 1 for images read by predict).
func loadONNX(path, norm string, pixelMax float64) (*model.Config, nn.Module, error) {
	m, err := onnx.Load(path)
	if err != nil {
		if model.IsNotExist(err) {
			return nil, nil, fmt.Errorf("model %s does not exist", path)
		}
		// One line, whatever the reader lists (every unsupported operator).
		return nil, nil, fmt.Errorf("%s", strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " "))
	}
	if len(m.Inputs) != 1 || len(m.Outputs) != 1 {
		return nil, nil, fmt.Errorf("%s has %d inputs and %d outputs; a classifier has one input and one output (the class scores)", path, len(m.Inputs), len(m.Outputs))
	}
	in, out := m.Inputs[0], m.Outputs[0]
	if in.DType != "float32" && in.DType != "float64" {
		return nil, nil, fmt.Errorf("%s: input %q is %s; predict and eval give the model float features", path, in.Name, in.DType)
	}
	if len(in.Shape) < 2 || len(out.Shape) != 2 {
		return nil, nil, fmt.Errorf("%s: input %v and output %v: want an input (batch, features...) and an output (batch, classes)", path, in, out)
	}
	c := &onnxClassifier{m: m, shape: slices.Clone(in.Shape[1:]), fixed: in.Shape[0] == 1}
	for _, d := range c.shape {
		if d < 0 {
			return nil, nil, fmt.Errorf("%s: input %v has a dynamic dimension besides the batch; predict and eval need a fixed sample shape", path, in)
		}
	}
	if out.Shape[1] < 1 {
		return nil, nil, fmt.Errorf("%s: output %v has no fixed number of classes", path, out)
	}
	if in.DType == "float64" {
		m.To(nabla.Float32)
	}
	n := 1
	for _, d := range c.shape {
		n *= d
	}
	k := out.Shape[1]
	cfg := &model.Config{Model: filepath.Base(path), Task: model.Classification, NumFeatures: n, Outputs: k,
		InputShape: c.shape, FeatureShape: c.shape, PixelMax: pixelMax}
	// The images predict reads: the input's last two dimensions, or a
	// square of the features of a flat input.
	if len(c.shape) == 1 {
		if s := int(math.Sqrt(float64(n))); s*s == n {
			cfg.FeatureShape = []int{s, s}
		}
	}
	for j := range k {
		cfg.Classes = append(cfg.Classes, strconv.Itoa(j))
	}
	scale := 1.0
	if pixelMax > 0 {
		scale = 1 / pixelMax
	}
	cfg.Norm = model.Norm{Scale: scale, Mean: []float64{0}, Std: []float64{1}}
	if norm != "" {
		a, b, ok := strings.Cut(norm, ",")
		mean, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
		std, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
		if !ok || err1 != nil || err2 != nil || !(std > 0) || math.IsInf(std, 0) || math.IsNaN(mean) || math.IsInf(mean, 0) {
			return nil, nil, usagef("invalid value %q for --normalize: want MEAN,STD (finite, STD > 0)", norm)
		}
		cfg.Norm.Mean, cfg.Norm.Std = []float64{mean}, []float64{std}
	}
	return cfg, c, nil
}

// Forward runs the graph on x, one sample at a time if its batch size is
// fixed to 1.
func (c *onnxClassifier) Forward(x *nabla.Tensor) *nabla.Tensor {
	if !c.fixed || x.Size(0) == 1 {
		return c.m.Forward(x)
	}
	outs := make([]*nabla.Tensor, x.Size(0))
	for i := range outs {
		outs[i] = c.m.Forward(x.Slice(0, i, i+1, 1))
	}
	return nabla.Concat(outs, 0)
}

// Params returns the graph's parameters.
func (c *onnxClassifier) Params() []nn.Param { return c.m.Params() }

// fitsONNX checks that the data's samples fit the ONNX model's input,
// naming both shapes.
func fitsONNX(path string, cfg *model.Config, name string, nf int, shape []int) error {
	if nf != cfg.NumFeatures {
		return fmt.Errorf("%s takes inputs of shape %v (%d features per sample); %s has samples of shape %v (%d features)",
			path, append([]any{"batch"}, anys(cfg.InputShape)...), cfg.NumFeatures, name, shape, nf)
	}
	return nil
}

func anys(v []int) []any {
	a := make([]any, len(v))
	for i, x := range v {
		a[i] = x
	}
	return a
}
