// Package model holds what the nabla command needs to rebuild a trained
// model: its configuration (written to config.json beside the checkpoint),
// the layers it describes, the data sets it was trained on and the
// preprocessing of their inputs. It never prints.
package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
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
	Version int    `json:"version"`
	Data    Source `json:"data"`
	Task    string `json:"task"`  // Classification or Regression
	Model   string `json:"model"` // one of Kinds

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

// Validate checks a config read from a file: a hand-edited or corrupt
// config.json gives an error instead of a panic later.
func (c *Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("config: "+format, a...)
	}
	switch {
	case c.Version != Version:
		return bad("version %d, want %d", c.Version, Version)
	case c.Task != Classification && c.Task != Regression:
		return bad("unknown task %q", c.Task)
	case !slices.Contains(Kinds, c.Model):
		return bad("unknown model %q", c.Model)
	case c.NumFeatures <= 0 || prod(c.FeatureShape) != c.NumFeatures:
		return bad("feature shape %v does not hold %d features", c.FeatureShape, c.NumFeatures)
	case prod(c.InputShape) != c.NumFeatures:
		return bad("input shape %v does not hold %d features", c.InputShape, c.NumFeatures)
	case c.Outputs <= 0 || c.Task == Regression && c.Outputs != 1:
		return bad("%d outputs for %s", c.Outputs, c.Task)
	case c.Task == Classification && len(c.Classes) != c.Outputs:
		return bad("%d class names for %d outputs", len(c.Classes), c.Outputs)
	case c.Model == "cnn" && (c.CNN == nil || len(c.InputShape) != 3):
		return bad("cnn needs its geometry and a [C H W] input shape")
	case len(c.Norm.Mean) != len(c.Norm.Std) || len(c.Norm.Mean) != 1 && len(c.Norm.Mean) != c.NumFeatures:
		return bad("normalization has %d means and %d deviations for %d features", len(c.Norm.Mean), len(c.Norm.Std), c.NumFeatures)
	case c.Task == Regression && c.TargetStd <= 0:
		return bad("regression target deviation %g", c.TargetStd)
	}
	for _, h := range c.Hidden {
		if h <= 0 {
			return bad("hidden width %d", h)
		}
	}
	for _, s := range c.Norm.Std {
		if !(s > 0) {
			return bad("normalization deviation %g", s)
		}
	}
	return nil
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

// WriteConfig writes c as indented JSON to path.
func WriteConfig(path string, c *Config) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadConfig reads and validates the config.json at path.
func ReadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no model configuration %s (a train run writes it beside the checkpoint)", path)
		}
		return nil, err
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: corrupt configuration: %v", path, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return &c, nil
}

func prod(s []int) int {
	if len(s) == 0 {
		return 0
	}
	p := 1
	for _, v := range s {
		if v <= 0 {
			return -1
		}
		p *= v
	}
	return p
}
