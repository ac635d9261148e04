// Package model holds what the nabla command needs to rebuild a trained
// model: its configuration (written to config.json beside the checkpoint),
// the layers it describes, the data sets it was trained on and the
// preprocessing of their inputs. It never prints.
package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
)

// Version is the version of the config.json layout written by this package.
const Version = 1

// Tasks.
const (
	Classification = "classification"
	Regression     = "regression"
)

// Kinds lists the model kinds Build knows, in the order --help shows them.
var Kinds = []string{"linear", "mlp", "cnn"}

// Config is everything needed to rebuild a trained model and prepare its
// inputs. It is stored as config.json beside model.safetensors.
type Config struct {
	Version int `json:"version"`
	// Generation counts the saves of a run folder: the checkpoint holds
	// the generation (and a copy of this configuration) in its metadata,
	// so that a folder whose save was interrupted between the two files
	// is recognised (see the command's loadCheckpoint).
	Generation int    `json:"generation,omitempty"`
	Data       Source `json:"data"`
	Task       string `json:"task"`  // Classification or Regression
	Model      string `json:"model"` // one of Kinds

	// FeatureShape is the shape of one raw sample as the data set holds it,
	// e.g. [8 8] for digits; NumFeatures is its product.
	FeatureShape []int `json:"feature_shape"`
	NumFeatures  int   `json:"num_features"`
	// InputShape is the shape of one sample as the model receives it:
	// [NumFeatures] for linear and mlp, [C H W] for cnn.
	InputShape []int `json:"input_shape"`
	Hidden     []int `json:"hidden,omitempty"` // mlp: widths of the hidden layers
	CNN        *CNN  `json:"cnn,omitempty"`    // cnn: its geometry
	Outputs    int   `json:"outputs"`          // classes, or 1 for regression

	Norm Norm `json:"normalization"`
	// PixelMax is the raw feature value of a fully inked pixel (16 for
	// digits, 1 for MNIST-like images); 0 for data that are not images.
	// Images are light ink on a dark background, as in every data set
	// here; predict inverts dark-on-light pictures.
	PixelMax float64 `json:"pixel_max,omitempty"`
	// Classes names the classes of a classifier, in output order.
	Classes      []string `json:"classes,omitempty"`
	FeatureNames []string `json:"feature_names,omitempty"`
	// TargetMean and TargetStd standardise a regression target: the model
	// predicts (y - mean) / std.
	TargetMean float64 `json:"target_mean,omitempty"`
	TargetStd  float64 `json:"target_std,omitempty"`

	Train TrainInfo `json:"train"`
}

// CNN is the geometry of the LeNet-5 style network: two blocks of
// convolution, ReLU and 2×2 max pooling, then three linear layers.
type CNN struct {
	Channels [2]int `json:"channels"` // output channels of the two convolutions (6, 16)
	Kernel   [2]int `json:"kernel"`   // kernel sizes of the two convolutions
	Padding  [2]int `json:"padding"`  // paddings of the two convolutions
	FC       [2]int `json:"fc"`       // widths of the two hidden linear layers (120, 84)
	Flat     int    `json:"flat"`     // features after the second pooling
}

// Norm maps a raw sample x to the model's input (x·Scale - Mean) / Std.
// Mean and Std hold one value per feature, or a single value for all.
type Norm struct {
	Scale float64   `json:"scale"`
	Mean  []float64 `json:"mean"`
	Std   []float64 `json:"std"`
}

// TrainInfo records how the model was trained, for the record and so that
// eval can rebuild the same held-out split.
type TrainInfo struct {
	Epochs    int     `json:"epochs"`
	BatchSize int     `json:"batch_size"`
	Optimizer string  `json:"optimizer"`
	LR        float64 `json:"lr"`
	Seed      uint64  `json:"seed"`
	Params    int     `json:"params"`
}

// Apply normalises the raw samples in x (any number, one after another)
// in place.
func (n *Norm) Apply(x []float32) {
	f := len(n.Mean)
	if f == 0 {
		return
	}
	for i := range x {
		j := i % f
		x[i] = float32((float64(x[i])*n.Scale - n.Mean[j]) / n.Std[j])
	}
}

// Fit computes the normalisation statistics of the nf-feature samples in x:
// per feature when perFeature is set, over all values otherwise. Features
// that never vary get Std 1.
func Fit(x []float32, nf int, scale float64, perFeature bool) Norm {
	k := 1
	if perFeature {
		k = nf
	}
	sum := make([]float64, k)
	sq := make([]float64, k)
	count := make([]float64, k)
	for i, v := range x {
		j := 0
		if perFeature {
			j = i % nf
		}
		s := float64(v) * scale
		sum[j] += s
		sq[j] += s * s
		count[j]++
	}
	n := Norm{Scale: scale, Mean: make([]float64, k), Std: make([]float64, k)}
	for j := range k {
		if count[j] == 0 {
			n.Std[j] = 1
			continue
		}
		m := sum[j] / count[j]
		v := sq[j]/count[j] - m*m
		n.Mean[j] = m
		n.Std[j] = 1
		if v > 1e-12 {
			n.Std[j] = math.Sqrt(v)
		}
	}
	return n
}

// Bounds on a model's configuration. They are far above what the command
// trains (the digits MLP has 25 K parameters, LeNet-5 on Fashion-MNIST
// 62 K), and they keep a hand-edited or hostile config.json from asking
// for a model of gigabytes.
const (
	MaxFeatures   = 1 << 24 // features per sample (a 4096×4096 image)
	MaxWidth      = 1 << 16 // a hidden layer's width, a CNN's channels or linear widths
	MaxLayers     = 64      // hidden layers of an MLP
	MaxClasses    = 100_000 // classes of a classifier (--classes)
	MaxParams     = 1 << 28 // parameters of the whole model (1 GiB of float32)
	MaxKernel     = 31      // a CNN's kernel size
	maxClassName  = 1 << 10 // bytes of a class or feature name
	maxShapeRanks = 4
)

// Validate checks a config read from a file: a hand-edited, corrupt or
// hostile config.json gives an error naming the field instead of a panic
// or a huge allocation later. Every size is bounded (see MaxFeatures and
// the other limits), every number must be finite, and the CNN's geometry
// must follow from its input shape.
func (c *Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("config: "+format, a...)
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case c.Version != Version:
		return bad("version %d, want %d", c.Version, Version)
	case c.Generation < 0:
		return bad("generation %d", c.Generation)
	case c.Task != Classification && c.Task != Regression:
		return bad("unknown task %q", c.Task)
	case !slices.Contains(Kinds, c.Model):
		return bad("unknown model %q", c.Model)
	case len(c.FeatureShape) == 0 || len(c.FeatureShape) > maxShapeRanks || len(c.InputShape) == 0 || len(c.InputShape) > maxShapeRanks:
		return bad("feature shape %v and input shape %v: want 1 to %d dimensions", c.FeatureShape, c.InputShape, maxShapeRanks)
	case c.NumFeatures <= 0 || c.NumFeatures > MaxFeatures:
		return bad("num_features %d out of range [1, %d]", c.NumFeatures, MaxFeatures)
	case prod(c.FeatureShape) != c.NumFeatures:
		return bad("feature shape %v does not hold %d features", c.FeatureShape, c.NumFeatures)
	case prod(c.InputShape) != c.NumFeatures:
		return bad("input shape %v does not hold %d features", c.InputShape, c.NumFeatures)
	case c.Outputs <= 0 || c.Outputs > MaxClasses || c.Task == Regression && c.Outputs != 1:
		return bad("%d outputs for %s (want 1 for regression, 2 to %d classes)", c.Outputs, c.Task, MaxClasses)
	case c.Task == Classification && len(c.Classes) != c.Outputs:
		return bad("%d class names for %d outputs", len(c.Classes), c.Outputs)
	case len(c.FeatureNames) != 0 && len(c.FeatureNames) != c.NumFeatures:
		return bad("%d feature names for %d features", len(c.FeatureNames), c.NumFeatures)
	case c.Model != "cnn" && c.CNN != nil, c.Model == "cnn" && (c.CNN == nil || len(c.InputShape) != 3):
		return bad("model %s: a cnn needs its geometry and a [C H W] input shape, and only a cnn has one", c.Model)
	case c.Model != "mlp" && len(c.Hidden) > 0:
		return bad("model %s has no hidden layers", c.Model)
	case len(c.Hidden) > MaxLayers:
		return bad("%d hidden layers, more than %d", len(c.Hidden), MaxLayers)
	case len(c.Norm.Mean) != len(c.Norm.Std) || len(c.Norm.Mean) != 1 && len(c.Norm.Mean) != c.NumFeatures:
		return bad("normalization has %d means and %d deviations for %d features", len(c.Norm.Mean), len(c.Norm.Std), c.NumFeatures)
	case !(c.Norm.Scale > 0) || !finite(c.Norm.Scale):
		return bad("normalization scale %g: want a finite number > 0", c.Norm.Scale)
	case !(c.PixelMax >= 0) || !finite(c.PixelMax):
		return bad("pixel_max %g: want a finite number ≥ 0", c.PixelMax)
	case c.Task == Regression && (!(c.TargetStd > 0) || !finite(c.TargetStd) || !finite(c.TargetMean)):
		return bad("regression target mean %g and deviation %g: want finite numbers, the deviation > 0", c.TargetMean, c.TargetStd)
	case !(c.Data.TestFrac > 0 && c.Data.TestFrac < 1):
		return bad("data.test_frac %g: want a fraction between 0 and 1 (exclusive)", c.Data.TestFrac)
	case c.Data.Limit < 0:
		return bad("data.limit %d: want 0 or more", c.Data.Limit)
	case c.Data.Name != "csv" && c.Data.Name != "idx" && !slices.Contains(Builtin, c.Data.Name):
		return bad("unknown data %q", c.Data.Name)
	}
	for _, d := range append(slices.Clone(c.FeatureShape), c.InputShape...) {
		if d <= 0 || d > MaxFeatures {
			return bad("dimension %d in the feature or input shape", d)
		}
	}
	for _, h := range c.Hidden {
		if h <= 0 || h > MaxWidth {
			return bad("hidden width %d out of range [1, %d]", h, MaxWidth)
		}
	}
	for i := range c.Norm.Std {
		if s := c.Norm.Std[i]; !(s > 0) || !finite(s) || !finite(c.Norm.Mean[i]) {
			return bad("normalization of feature %d: mean %g, deviation %g: want finite numbers, the deviation > 0", i+1, c.Norm.Mean[i], s)
		}
	}
	for _, n := range append(slices.Clone(c.Classes), c.FeatureNames...) {
		if len(n) > maxClassName {
			return bad("a class or feature name of %d bytes, more than %d", len(n), maxClassName)
		}
	}
	if c.Model == "cnn" {
		if err := c.CNN.check(c.InputShape); err != nil {
			return bad("cnn: %v", err)
		}
	}
	if n, ok := c.numParams(); !ok || n > MaxParams {
		return bad("the model would have more than %d parameters", MaxParams)
	}
	return nil
}

// check validates the CNN's geometry for inputs of shape chw: bounded
// sizes, and Flat as the two blocks compute it.
func (g *CNN) check(chw []int) error {
	if chw[0] > MaxWidth {
		return fmt.Errorf("%d input channels, more than %d", chw[0], MaxWidth)
	}
	h, w := chw[1], chw[2]
	for i := range 2 {
		switch {
		case g.Channels[i] <= 0 || g.Channels[i] > MaxWidth:
			return fmt.Errorf("channels %v out of range [1, %d]", g.Channels, MaxWidth)
		case g.Kernel[i] <= 0 || g.Kernel[i] > MaxKernel:
			return fmt.Errorf("kernel %v out of range [1, %d]", g.Kernel, MaxKernel)
		case g.Padding[i] < 0 || g.Padding[i] >= g.Kernel[i]:
			return fmt.Errorf("padding %v: want 0 ≤ padding < kernel", g.Padding)
		case g.FC[i] <= 0 || g.FC[i] > MaxWidth:
			return fmt.Errorf("fc %v out of range [1, %d]", g.FC, MaxWidth)
		}
		h = (h + 2*g.Padding[i] - g.Kernel[i] + 1) / 2
		w = (w + 2*g.Padding[i] - g.Kernel[i] + 1) / 2
		if h < 1 || w < 1 {
			return fmt.Errorf("images of %d×%d are too small for kernel %v and padding %v", chw[1], chw[2], g.Kernel, g.Padding)
		}
	}
	if want := g.Channels[1] * h * w; g.Flat != want {
		return fmt.Errorf("flat %d, but the second pooling gives %d×%d×%d = %d features", g.Flat, g.Channels[1], h, w, want)
	}
	return nil
}

// TensorShape is the name and shape of one tensor of a model's checkpoint.
type TensorShape struct {
	Name  string
	Shape []int
}

// Tensors returns the names and shapes of the tensors in the checkpoint of
// the model c describes, as nn.Save names them, without building it. The
// sizes in c must be valid (see Validate).
func (c *Config) Tensors() []TensorShape {
	var ts []TensorShape
	layer := 0
	linear := func(in, out int) {
		n := strconv.Itoa(layer)
		ts = append(ts, TensorShape{n + ".weight", []int{out, in}}, TensorShape{n + ".bias", []int{out}})
	}
	switch c.Model {
	case "linear":
		linear(c.NumFeatures, c.Outputs)
	case "mlp":
		in := c.NumFeatures
		for _, h := range c.Hidden {
			linear(in, h)
			layer += 2 // Linear, ReLU
			in = h
		}
		linear(in, c.Outputs)
	case "cnn":
		g := c.CNN
		in := c.InputShape[0]
		for i := range 2 {
			n := strconv.Itoa(layer)
			k := g.Kernel[i]
			ts = append(ts, TensorShape{n + ".weight", []int{g.Channels[i], in, k, k}}, TensorShape{n + ".bias", []int{g.Channels[i]}})
			layer += 3 // Conv2d, ReLU, MaxPool2d
			in = g.Channels[i]
		}
		layer++ // Flatten
		linear(g.Flat, g.FC[0])
		layer += 2
		linear(g.FC[0], g.FC[1])
		layer += 2
		linear(g.FC[1], c.Outputs)
	}
	return ts
}

// numParams returns the number of parameters of the model c describes,
// and false if it overflows.
func (c *Config) numParams() (int, bool) {
	total := 0
	for _, t := range c.Tensors() {
		n := 1
		for _, d := range t.Shape {
			if d <= 0 || n > MaxParams/d {
				return 0, false
			}
			n *= d
		}
		total += n
		if total > MaxParams {
			return 0, false
		}
	}
	return total, true
}

// Build returns the layers c describes, initialised from rng. A config
// whose geometry does not fit its input gives an error.
func (c *Config) Build(rng *rand.Rand) (m *nn.Sequential, err error) {
	err = nabla.Maybe(func() { m = c.build(rng) })
	return m, err
}

func (c *Config) build(rng *rand.Rand) *nn.Sequential {
	var layers []nn.Module
	switch c.Model {
	case "linear":
		layers = append(layers, nn.NewLinear(rng, c.NumFeatures, c.Outputs))
	case "mlp":
		in := c.NumFeatures
		for _, h := range c.Hidden {
			layers = append(layers, nn.NewLinear(rng, in, h), nn.ReLU{})
			in = h
		}
		layers = append(layers, nn.NewLinear(rng, in, c.Outputs))
	case "cnn":
		g := c.CNN
		in := c.InputShape[0]
		for i := range 2 {
			layers = append(layers,
				nn.NewConv2d(rng, in, g.Channels[i], [2]int{g.Kernel[i], g.Kernel[i]},
					nabla.ConvOptions{Padding: [2]int{g.Padding[i], g.Padding[i]}}),
				nn.ReLU{},
				nn.NewMaxPool2d([2]int{2, 2}, [2]int{}, [2]int{}))
			in = g.Channels[i]
		}
		layers = append(layers, nn.NewFlatten(),
			nn.NewLinear(rng, g.Flat, g.FC[0]), nn.ReLU{},
			nn.NewLinear(rng, g.FC[0], g.FC[1]), nn.ReLU{},
			nn.NewLinear(rng, g.FC[1], c.Outputs))
	default:
		panic(&nabla.ValueError{Op: "model", Reason: fmt.Sprintf("unknown model %q", c.Model)})
	}
	return nn.NewSequential(layers...)
}

// SetModel fills in the model fields of c (Model, InputShape, Hidden, CNN)
// for the given kind and hidden widths, from c's FeatureShape.
func (c *Config) SetModel(kind string, hidden []int) error {
	c.Model = kind
	c.InputShape = []int{c.NumFeatures}
	c.Hidden, c.CNN = nil, nil
	switch kind {
	case "linear":
	case "mlp":
		c.Hidden = slices.Clone(hidden)
	case "cnn":
		fs := c.FeatureShape
		var chw []int
		switch len(fs) {
		case 2:
			chw = []int{1, fs[0], fs[1]}
		case 3:
			chw = slices.Clone(fs)
		default:
			return fmt.Errorf("model cnn needs image data (samples of shape [H W] or [C H W]); %s samples have shape %v", c.Data.Name, fs)
		}
		h, w := chw[1], chw[2]
		g := &CNN{Channels: [2]int{6, 16}, Kernel: [2]int{5, 5}, Padding: [2]int{2, 0}, FC: [2]int{120, 84}}
		if min(h, w) < 16 { // small images (digits, 8×8): 3×3 kernels that keep the size
			g.Kernel, g.Padding = [2]int{3, 3}, [2]int{1, 1}
		}
		for i := range 2 {
			h = (h + 2*g.Padding[i] - g.Kernel[i] + 1) / 2
			w = (w + 2*g.Padding[i] - g.Kernel[i] + 1) / 2
		}
		if h < 1 || w < 1 {
			return fmt.Errorf("model cnn: images of %d×%d are too small", chw[1], chw[2])
		}
		g.Flat = g.Channels[1] * h * w
		c.InputShape, c.CNN = chw, g
	default:
		return fmt.Errorf("unknown model %q (want %s)", kind, strings.Join(Kinds, ", "))
	}
	return nil
}

// JSON returns c as indented JSON.
func (c *Config) JSON() []byte {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		panic(err) // cannot happen: a Config holds only plain values
	}
	return append(b, '\n')
}

// WriteConfig writes c as indented JSON to path, atomically (see
// WriteAtomic).
func WriteConfig(path string, c *Config) error {
	return WriteAtomic(path, func(w io.Writer) error {
		_, err := w.Write(c.JSON())
		return err
	})
}

// ReadConfig reads and validates the config.json at path.
func ReadConfig(path string) (*Config, error) {
	b, err := ReadLimited(path, MaxConfigBytes)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, missingError("no model configuration " + path + " (a train run writes it beside the checkpoint)")
		}
		return nil, err
	}
	return ParseConfig(path, b)
}

// missingError is the error of a missing file: IsNotExist holds for it.
type missingError string

func (e missingError) Error() string { return string(e) }
func (e missingError) Unwrap() error { return os.ErrNotExist }

// ParseConfig decodes and validates a configuration read from name.
func ParseConfig(name string, b []byte) (*Config, error) {
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		// A syntax error quotes the file's text; say only where it is.
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%s: corrupt configuration: not valid JSON at byte %d", name, se.Offset)
		}
		return nil, fmt.Errorf("%s: corrupt configuration: %v", name, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return &c, nil
}

func prod(s []int) int {
	if len(s) == 0 {
		return 0
	}
	p := 1
	for _, v := range s {
		if v <= 0 || p > MaxFeatures/v {
			return -1
		}
		p *= v
	}
	return p
}
