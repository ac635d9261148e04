package model

import (
	"fmt"
	"slices"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/data"
	"github.com/nabla-go/nabla/datasets"
)

// New returns the configuration of a model of the given kind for the data
// set: its shapes, classes and the normalisation fitted on the training
// split.
func New(src Source, set *Set, kind string, hidden []int) (*Config, error) {
	tr := set.Train
	c := &Config{
		Version:      Version,
		Data:         src,
		Task:         set.Task,
		FeatureShape: slices.Clone(tr.FeatureShape),
		NumFeatures:  tr.NumFeatures,
		PixelMax:     set.PixelMax,
		FeatureNames: tr.FeatureNames,
	}
	if err := c.SetModel(kind, hidden); err != nil {
		return nil, err
	}
	if set.Task == Classification {
		c.Outputs = max(tr.NumClasses, set.Test.NumClasses)
		c.Classes = slices.Clone(tr.ClassNames)
		for len(c.Classes) < c.Outputs {
			c.Classes = append(c.Classes, fmt.Sprint(len(c.Classes)))
		}
		if c.Outputs < 2 {
			return nil, fmt.Errorf("%s: %d class: classification needs at least 2", tr.Name, c.Outputs)
		}
	} else {
		c.Outputs = 1
		t := Fit(tr.Y, 1, 1, false)
		c.TargetMean, c.TargetStd = t.Mean[0], t.Std[0]
	}
	if c.PixelMax > 0 {
		c.Norm = Fit(tr.X, c.NumFeatures, 1/c.PixelMax, false)
	} else {
		c.Norm = Fit(tr.X, c.NumFeatures, 1, true)
	}
	return c, nil
}

// Check reports whether the data set d fits the model c: the same number
// of features and labels within its classes.
func (c *Config) Check(d *datasets.Dataset) error {
	if d.NumFeatures != c.NumFeatures {
		return fmt.Errorf("%s has %d features per sample; the model takes %d", d.Name, d.NumFeatures, c.NumFeatures)
	}
	if c.Task == Regression {
		if d.Y == nil {
			return fmt.Errorf("%s has no regression targets", d.Name)
		}
		return nil
	}
	if d.Labels == nil {
		return fmt.Errorf("%s has no class labels", d.Name)
	}
	for i, y := range d.Labels {
		if y < 0 || y >= c.Outputs {
			return fmt.Errorf("%s: sample %d: label %d out of range [0, %d)", d.Name, i+1, y, c.Outputs)
		}
	}
	return nil
}

// Inputs returns the model's input for the raw samples x (one after
// another): normalised, shaped (N, InputShape...). x is not modified.
func (c *Config) Inputs(x []float32) *nabla.Tensor {
	v := slices.Clone(x)
	c.Norm.Apply(v)
	return nabla.FromSlice(v, append([]int{len(v) / c.NumFeatures}, c.InputShape...)...)
}

// Batch returns the inputs and targets of the samples idx of d: class
// indices of shape (N) for classification, standardised targets of
// shape (N, 1) for regression.
func (c *Config) Batch(d *datasets.Dataset, idx []int) (x, y *nabla.Tensor) {
	raw := make([]float32, 0, len(idx)*c.NumFeatures)
	t := make([]float32, len(idx))
	for k, i := range idx {
		raw = append(raw, d.Row(i)...)
		if c.Task == Regression {
			t[k] = float32((float64(d.Y[i]) - c.TargetMean) / c.TargetStd)
		} else {
			t[k] = float32(d.Labels[i])
		}
	}
	x = c.Inputs(raw)
	if c.Task == Regression {
		return x, nabla.FromSlice(t, len(idx), 1)
	}
	return x, nabla.FromSlice(t, len(idx))
}

// Target converts the model's regression output back to the target's
// units.
func (c *Config) Target(out float64) float64 { return out*c.TargetStd + c.TargetMean }

// Dataset returns d preprocessed for the model, as a data.Dataset for a
// data.Loader: normalised inputs of shape InputShape, and class indices
// (shape []) or standardised targets (shape [1]).
func (c *Config) Dataset(d *datasets.Dataset) (*data.TensorDataset, error) {
	if err := c.Check(d); err != nil {
		return nil, err
	}
	x := slices.Clone(d.X)
	c.Norm.Apply(x)
	y := make([]float32, d.NumSamples)
	yShape := []int{d.NumSamples}
	for i := range y {
		if c.Task == Regression {
			y[i] = float32((float64(d.Y[i]) - c.TargetMean) / c.TargetStd)
		} else {
			y[i] = float32(d.Labels[i])
		}
	}
	if c.Task == Regression {
		yShape = append(yShape, 1)
	}
	return data.FromFloat32s(x, append([]int{d.NumSamples}, c.InputShape...), y, yShape)
}
