package model

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nabla-go/nabla/data"
	"github.com/nabla-go/nabla/datasets"
	"github.com/nabla-go/nabla/nn"
)

// digitsConfig returns the configuration train makes for the digits.
func digitsConfig(t *testing.T, kind string, hidden []int) *Config {
	t.Helper()
	src := Source{Name: "digits", TestFrac: 0.2, Seed: 1}
	set, err := Load(src, Classification, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(src, set, kind, hidden)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTensorsMatchBuild: the shapes that loadCheckpoint compares with a
// checkpoint's header before building are those of the built model.
func TestTensorsMatchBuild(t *testing.T) {
	for _, tt := range []struct {
		kind   string
		hidden []int
	}{{"linear", nil}, {"mlp", []int{32, 16, 8}}, {"cnn", nil}} {
		c := digitsConfig(t, tt.kind, tt.hidden)
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: %v", tt.kind, err)
		}
		m, err := c.Build(rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		want := nn.StateDict(m)
		got := c.Tensors()
		if len(got) != len(want) {
			t.Fatalf("%s: %d tensors; the model has %d", tt.kind, len(got), len(want))
		}
		for i, p := range want {
			if got[i].Name != p.Name || !slices.Equal(got[i].Shape, p.Tensor.Shape()) {
				t.Errorf("%s: tensor %d is %s %v; the model's is %s %v", tt.kind, i, got[i].Name, got[i].Shape, p.Name, p.Tensor.Shape())
			}
		}
		if n, ok := c.numParams(); !ok || n != nn.NumParams(m) {
			t.Errorf("%s: numParams %d, %v; the model has %d", tt.kind, n, ok, nn.NumParams(m))
		}
	}
}

func TestValidateBounds(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(c *Config)
		msg  string
	}{
		{"hidden 1e9", func(c *Config) { c.Hidden = []int{1e9} }, "hidden width 1000000000"},
		{"too many layers", func(c *Config) { c.Hidden = make([]int, 65) }, "65 hidden layers"},
		{"parameters", func(c *Config) { c.Hidden = []int{65536, 65536} }, "parameters"},
		{"features 1e9", func(c *Config) { c.NumFeatures, c.FeatureShape, c.InputShape = 1e9, []int{1e9}, []int{1e9} }, "num_features"},
		{"shape overflow", func(c *Config) { c.FeatureShape = []int{1 << 31, 1 << 31, 1 << 31} }, "feature shape"},
		{"outputs", func(c *Config) { c.Outputs = 1e9 }, "1000000000 outputs"},
		{"test_frac 0", func(c *Config) { c.Data.TestFrac = 0 }, "test_frac 0"},
		{"test_frac 1", func(c *Config) { c.Data.TestFrac = 1 }, "test_frac 1"},
		{"NaN mean", func(c *Config) { c.Norm.Mean[0] = math.NaN() }, "normalization of feature 1"},
		{"infinite std", func(c *Config) { c.Norm.Std[0] = math.Inf(1) }, "normalization of feature 1"},
		{"zero scale", func(c *Config) { c.Norm.Scale = 0 }, "normalization scale"},
		{"NaN pixel_max", func(c *Config) { c.PixelMax = math.NaN() }, "pixel_max"},
		{"unknown data", func(c *Config) { c.Data.Name = "/etc" }, "unknown data"},
		{"long class name", func(c *Config) { c.Classes[0] = strings.Repeat("x", 2000) }, "class or feature name"},
		{"hidden on linear", func(c *Config) { c.Model = "linear" }, "no hidden layers"},
		{"negative generation", func(c *Config) { c.Generation = -1 }, "generation"},
	} {
		c := digitsConfig(t, "mlp", []int{16})
		tt.edit(c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: %v; want an error naming %q", tt.name, err, tt.msg)
		}
	}
	for _, tt := range []struct {
		name string
		edit func(g *CNN)
		msg  string
	}{
		{"channels", func(g *CNN) { g.Channels[0] = 100000 }, "channels"},
		{"kernel", func(g *CNN) { g.Kernel[1] = 99 }, "kernel"},
		{"padding", func(g *CNN) { g.Padding[0] = 7 }, "padding"},
		{"fc", func(g *CNN) { g.FC[1] = 0 }, "fc"},
		{"flat", func(g *CNN) { g.Flat++ }, "flat"},
	} {
		c := digitsConfig(t, "cnn", nil)
		tt.edit(c.CNN)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("cnn %s: %v; want an error naming %q", tt.name, err, tt.msg)
		}
	}
}

func TestCheckFinite(t *testing.T) {
	d := &datasets.Dataset{Name: "x", NumFeatures: 1, FeatureShape: []int{1}}
	if err := checkFinite(d); err != nil {
		t.Errorf("an empty set is finite: %v", err)
	}
	d.X, d.NumSamples = []float32{1, float32(math.Inf(-1))}, 2
	if err := checkFinite(d); err == nil || !strings.Contains(err.Error(), "x: sample 2, feature 1: the value -Inf") {
		t.Errorf("checkFinite: %v", err)
	}
}

// TestLoadRefusesEmptySplits: a folder of MNIST-named IDX files holding no
// samples is an error, not a model trained on nothing.
func TestLoadRefusesEmptySplits(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []struct {
		name string
		x    *data.IDX
	}{
		{"train-images-idx3-ubyte", &data.IDX{Type: data.IDXUint8, Dims: []int{0, 28, 28}}},
		{"train-labels-idx1-ubyte", &data.IDX{Type: data.IDXUint8, Dims: []int{0}}},
		{"t10k-images-idx3-ubyte", &data.IDX{Type: data.IDXUint8, Dims: []int{0, 28, 28}}},
		{"t10k-labels-idx1-ubyte", &data.IDX{Type: data.IDXUint8, Dims: []int{0}}},
	} {
		fh, err := os.Create(filepath.Join(dir, f.name))
		if err != nil {
			t.Fatal(err)
		}
		if err := data.WriteIDX(fh, f.x); err != nil {
			t.Fatal(err)
		}
		fh.Close()
	}
	_, err := Load(Source{Name: "idx", Path: dir, TestFrac: 0.2}, Classification, 0)
	if err == nil || !strings.Contains(err.Error(), "no samples") {
		t.Errorf("Load of empty files: %v; want no samples", err)
	}
}
