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

	"github.com/nabla-go/nabla/cmd/nabla/internal/model"
	"github.com/nabla-go/nabla/nn"
)

// input is one sample to predict, with a name to print.
type input struct {
	name string
	x    []float32 // raw features, as the training data holds them
}

func runPredict(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var ckpt, invert string
	var top int
	fs := newFlags("predict", "predict --checkpoint PATH [flags] [FILE ...]\n\nClassifies inputs with a trained model and prints the top classes with their probabilities\n(or the predicted value, for regression). Each FILE is a CSV file of rows of raw features in\nthe order of training (a header row is optional), or a PNG, JPEG or GIF image, which is\nconverted to grayscale and resized to the model's input size (8×8 for digits, 28×28 for\nFashion-MNIST). With no FILE, or -, CSV rows are read from stdin.", stdout)
	fs.StringVar(&ckpt, "checkpoint", "", "a train run's output folder, or the "+checkpointFile+" in it")
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
	ck, err := loadCheckpoint(ckpt)
	if err != nil {
		return err
	}
	if ck.note != "" {
		fmt.Fprintf(stderr, "nabla predict: note: %s\n", ck.note)
	}
	cfg, m := ck.cfg, ck.m
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
