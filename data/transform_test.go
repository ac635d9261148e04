package data_test

import (
	"math"
	"slices"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/data"
)

// stats returns the mean and population standard deviation of each
// feature of ds.
func stats(ds data.Dataset) (mean, std []float64) {
	x, _ := data.Collate(ds, seq(ds.Len()))
	n, f := x.Size(0), x.Size(1)
	v := x.Float64s()
	mean, std = make([]float64, f), make([]float64, f)
	for j := range f {
		for i := range n {
			mean[j] += v[i*f+j] / float64(n)
		}
		for i := range n {
			std[j] += (v[i*f+j] - mean[j]) * (v[i*f+j] - mean[j]) / float64(n)
		}
		std[j] = math.Sqrt(std[j])
	}
	return mean, std
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func TestStandardize(t *testing.T) {
	// features: i, 10i, 100i, and a constant
	n := 50
	x := make([]float32, 4*n)
	for i := range n {
		x[4*i], x[4*i+1], x[4*i+2], x[4*i+3] = float32(i), float32(10*i), float32(100*i), 7
	}
	ds, err := data.FromFloat32s(x, []int{n, 4}, make([]float32, n), []int{n})
	if err != nil {
		t.Fatal(err)
	}
	train, val := data.Split(ds, 0.7, 1)
	sc, err := data.Standardize(train)
	if err != nil {
		t.Fatal(err)
	}
	mean, std := stats(sc.Apply(train))
	for j := range 3 {
		if math.Abs(mean[j]) > 1e-5 || math.Abs(std[j]-1) > 1e-5 {
			t.Errorf("feature %d after Standardize: mean %v std %v; want 0 and 1", j, mean[j], std[j])
		}
	}
	if mean[3] != 0 || std[3] != 0 || sc.Scale[3] != 1 {
		t.Errorf("constant feature: mean %v std %v scale %v; want 0, 0, 1", mean[3], std[3], sc.Scale[3])
	}
	// validation uses the training statistics
	trainMean, _ := stats(train)
	valMean, _ := stats(val)
	got, _ := stats(sc.Apply(val))
	if want := (valMean[0] - trainMean[0]) / float64(sc.Scale[0]); math.Abs(got[0]-want) > 1e-4 {
		t.Errorf("scaled validation mean = %v; want %v", got[0], want)
	}
	// the dataset itself is not changed
	if xb, _ := data.Collate(ds, []int{3}); !slices.Equal(xb.Float32s(), []float32{3, 30, 300, 7}) {
		t.Errorf("Apply changed the dataset: %v", xb)
	}
}

func TestMinMaxScale(t *testing.T) {
	ds := indexDataset(t, 11)
	sc, err := data.MinMaxScale(ds)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := data.Collate(sc.Apply(ds), []int{0, 5, 10})
	if want := []float32{0, 0, 0, 0.5, 0.5, 0.5, 1, 1, 1}; !slices.Equal(x.Float32s(), want) {
		t.Errorf("scaled = %v; want %v", x.Float32s(), want)
	}
}

func TestScalerErrors(t *testing.T) {
	empty := indexDataset(t, 0)
	if _, err := data.Standardize(empty); err == nil {
		t.Error("Standardize of an empty dataset succeeded")
	}
	if _, err := data.MinMaxScale(empty); err == nil {
		t.Error("MinMaxScale of an empty dataset succeeded")
	}
	bad, _ := data.FromFloat32s([]float32{1, float32(math.NaN())}, []int{2, 1}, []float32{0, 0}, []int{2})
	if _, err := data.Standardize(bad); err == nil {
		t.Error("Standardize accepted NaN")
	}
	if _, err := data.MinMaxScale(bad); err == nil {
		t.Error("MinMaxScale accepted NaN")
	}
	if err := nabla.Maybe(func() { data.Normalize([]float32{0}, []float32{1}).Apply(indexDataset(t, 2)) }); err == nil {
		t.Error("a 1-feature scaler applied to 3 features did not panic")
	}
	if err := nabla.Maybe(func() { data.Normalize([]float32{0}, []float32{0}) }); err == nil {
		t.Error("Normalize with std 0 did not panic")
	}
}
