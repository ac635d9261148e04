package data

import (
	"fmt"
	"math"
	"slices"

	"github.com/nabla-go/nabla"
)

// Scaler maps each feature of a sample as x' = (x - Shift)/Scale, with
// one Shift and Scale per element of the sample's features. [Standardize]
// and [MinMaxScale] fit one on a training set; [Scaler.Apply] then applies
// it to that set and to others (validation, test), so that every split is
// scaled with the training set's statistics.
type Scaler struct {
	Shift []float32
	Scale []float32
}

// Normalize returns the scaler that subtracts mean and divides by std,
// given per feature (torchvision's Normalize). It panics with a
// *nabla.ValueError if their lengths differ or a std is zero.
func Normalize(mean, std []float32) *Scaler {
	if len(mean) != len(std) {
		panic(&nabla.ValueError{Op: "Normalize", Reason: fmt.Sprintf("%d means but %d standard deviations", len(mean), len(std))})
	}
	if i := slices.Index(std, 0); i >= 0 {
		panic(&nabla.ValueError{Op: "Normalize", Reason: fmt.Sprintf("standard deviation %d is zero", i)})
	}
	return &Scaler{Shift: slices.Clone(mean), Scale: slices.Clone(std)}
}

// Standardize returns the scaler that gives every feature of ds zero mean
// and unit standard deviation (the population one, dividing by N, as
// scikit-learn's StandardScaler). A constant feature gets scale 1. It
// fails if ds is empty or a feature's values are not all finite.
func Standardize(ds Dataset) (*Scaler, error) {
	n := ds.Len()
	if n == 0 {
		return nil, fmt.Errorf("data: Standardize: empty dataset")
	}
	xs, ys := ds.Shapes()
	f := numel(xs)
	x, y := make([]float32, f), make([]float32, numel(ys))
	mean, m2 := make([]float64, f), make([]float64, f)
	// Welford's update, in float64
	for i := range n {
		ds.Get(i, x, y)
		for j, v := range x {
			d := float64(v) - mean[j]
			mean[j] += d / float64(i+1)
			m2[j] += d * (float64(v) - mean[j])
		}
	}
	s := &Scaler{Shift: make([]float32, f), Scale: make([]float32, f)}
	for j := range f {
		sd := math.Sqrt(m2[j] / float64(n))
		if math.IsNaN(sd) || math.IsInf(sd, 0) || math.IsNaN(mean[j]) || math.IsInf(mean[j], 0) {
			return nil, fmt.Errorf("data: Standardize: feature %d has non-finite values", j)
		}
		if sd == 0 {
			sd = 1
		}
		s.Shift[j], s.Scale[j] = float32(mean[j]), float32(sd)
	}
	return s, nil
}

// MinMaxScale returns the scaler that maps every feature of ds onto
// [0, 1], from its minimum to its maximum. A constant feature gets scale
// 1. It fails if ds is empty or a feature's values are not all finite.
func MinMaxScale(ds Dataset) (*Scaler, error) {
	n := ds.Len()
	if n == 0 {
		return nil, fmt.Errorf("data: MinMaxScale: empty dataset")
	}
	xs, ys := ds.Shapes()
	f := numel(xs)
	x, y := make([]float32, f), make([]float32, numel(ys))
	lo, hi := make([]float32, f), make([]float32, f)
	for i := range n {
		ds.Get(i, x, y)
		for j, v := range x {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("data: MinMaxScale: feature %d of sample %d is %v", j, i, v)
			}
			if i == 0 || v < lo[j] {
				lo[j] = v
			}
			if i == 0 || v > hi[j] {
				hi[j] = v
			}
		}
	}
	s := &Scaler{Shift: lo, Scale: make([]float32, f)}
	for j := range f {
		s.Scale[j] = hi[j] - lo[j]
		if s.Scale[j] == 0 {
			s.Scale[j] = 1
		}
	}
	return s, nil
}

// Transform scales the features x of one sample in place.
func (s *Scaler) Transform(x []float32) {
	sh, sc := s.Shift[:len(x)], s.Scale[:len(x)]
	for j := range x {
		x[j] = (x[j] - sh[j]) / sc[j]
	}
}

// Apply returns ds with its features scaled as the samples are read; ds is
// not changed. It panics with a *nabla.ValueError if ds's samples do not
// have as many features as the scaler.
func (s *Scaler) Apply(ds Dataset) Dataset {
	xs, _ := ds.Shapes()
	if f := numel(xs); f != len(s.Shift) || f != len(s.Scale) {
		panic(&nabla.ValueError{Op: "Scaler.Apply", Reason: fmt.Sprintf("samples have %d features, scaler %d", f, len(s.Shift))})
	}
	return Map(ds, func(x, _ []float32) { s.Transform(x) })
}

// Map returns ds with f applied to every sample as it is read: f gets the
// copies of the sample's features and target and may change them in place
// (their lengths are fixed). f runs on the goroutine that reads the
// dataset, a [Loader]'s own, so it must be safe for concurrent use if the
// result is shared by several loaders.
func Map(ds Dataset, f func(x, y []float32)) Dataset {
	return &mapped{ds: ds, f: f}
}

type mapped struct {
	ds Dataset
	f  func(x, y []float32)
}

func (m *mapped) Len() int             { return m.ds.Len() }
func (m *mapped) Shapes() (x, y []int) { return m.ds.Shapes() }
func (m *mapped) Get(i int, x, y []float32) {
	m.ds.Get(i, x, y)
	m.f(x, y)
}
