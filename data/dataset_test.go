package data_test

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/data"
)

func TestNewTensorDataset(t *testing.T) {
	x := nabla.Arange(0, 24, 1).Reshape(4, 2, 3)
	y := nabla.FromSlice([]float64{3, 1, 2, 0})
	ds, err := data.NewTensorDataset(x, y)
	if err != nil {
		t.Fatal(err)
	}
	xs, ys := ds.Shapes()
	if ds.Len() != 4 || !slices.Equal(xs, []int{2, 3}) || len(ys) != 0 {
		t.Fatalf("Len %d, Shapes %v %v; want 4, [2 3] []", ds.Len(), xs, ys)
	}
	xb, yb := make([]float32, 6), make([]float32, 1)
	ds.Get(2, xb, yb)
	if !slices.Equal(xb, []float32{12, 13, 14, 15, 16, 17}) || yb[0] != 2 {
		t.Errorf("Get(2) = %v %v", xb, yb)
	}
	bx, by := data.Collate(ds, []int{3, 0})
	if !slices.Equal(bx.Shape(), []int{2, 2, 3}) || !slices.Equal(by.Float32s(), []float32{0, 3}) || bx.At(0, 1, 2) != 23 {
		t.Errorf("Collate = %v %v", bx, by)
	}
	if err := nabla.Maybe(func() { ds.Get(4, xb, yb) }); err == nil {
		t.Error("Get(4) of 4 samples did not panic")
	}
}

func TestFromFloat32sErrors(t *testing.T) {
	for _, tt := range []struct {
		name   string
		x      []float32
		xShape []int
		y      []float32
		yShape []int
		want   string
	}{
		{"rows", make([]float32, 6), []int{3, 2}, make([]float32, 2), []int{2}, "3 feature rows"},
		{"length", make([]float32, 5), []int{3, 2}, make([]float32, 3), []int{3}, "holds 6 values, have 5"},
		{"empty-shape", nil, nil, nil, []int{0}, "shape is empty"},
		{"negative", nil, []int{-1, 2}, nil, []int{0}, "negative"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := data.FromFloat32s(tt.x, tt.xShape, tt.y, tt.yShape)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v; want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestCheckLabels(t *testing.T) {
	if err := data.CheckLabels([]float32{0, 9, 3}, 10); err != nil {
		t.Errorf("valid labels: %v", err)
	}
	for _, tt := range []struct {
		y    []float64
		want string
	}{
		{[]float64{0, 1, 10, 2}, "label 10 at index 2 is outside [0, 10)"},
		{[]float64{-1}, "label -1 at index 0 is outside [0, 10)"},
		{[]float64{1, 2.5}, "label 2.5 at index 1 is not a whole number"},
	} {
		err := data.CheckLabels(tt.y, 10)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CheckLabels(%v) = %v; want %q", tt.y, err, tt.want)
		}
	}
	if err := data.CheckLabels([]int{4}, 3); err == nil {
		t.Error("int label 4 of 3 classes accepted")
	}
}

func TestSubset(t *testing.T) {
	ds := indexDataset(t, 10)
	s := data.NewSubset(ds, []int{7, 2})
	x, y := data.Collate(s, []int{0, 1})
	if !slices.Equal(y.Float32s(), []float32{7, 2}) || x.At(1, 1) != 20 {
		t.Errorf("subset batch = %v %v", x, y)
	}
	if err := nabla.Maybe(func() { data.NewSubset(ds, []int{10}) }); err == nil {
		t.Error("NewSubset with index 10 of 10 did not panic")
	}
}

func TestByteDataset(t *testing.T) {
	ds, err := data.FromBytes([]uint8{0, 255, 51, 102}, []int{2, 2}, 1.0/255, []float32{3, 7}, []int{2})
	if err != nil {
		t.Fatal(err)
	}
	x, y := make([]float32, 2), make([]float32, 1)
	ds.Get(1, x, y)
	if math.Abs(float64(x[0])-0.2) > 1e-6 || math.Abs(float64(x[1])-0.4) > 1e-6 || y[0] != 7 {
		t.Errorf("Get(1) = %v, %v; want [0.2 0.4], [7]", x, y)
	}
	if _, err := data.FromBytes([]uint8{1, 2, 3}, []int{2, 2}, 1, []float32{0, 1}, []int{2}); err == nil {
		t.Error("FromBytes with 3 bytes for shape [2 2] succeeded; want an error")
	}
	bx, by := data.Collate(ds, []int{0, 1})
	if got := bx.Float32s(); got[1] != 1 || by.Float32s()[1] != 7 {
		t.Errorf("Collate = %v, %v", got, by.Float32s())
	}
}
