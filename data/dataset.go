package data

import (
	"fmt"
	"math"
	"slices"

	"github.com/nabla-go/nabla"
)

// Dataset is an indexed collection of samples, each a features array x and
// a target array y of fixed shapes, stored as float32 (class labels as
// whole numbers). A [Loader] assembles batches from it by copying samples
// straight into preallocated batch tensors.
//
// Get may be called from a goroutine other than the one that made the
// dataset (a Loader prepares batches on its own goroutine), and from
// several at once if the dataset is shared by several loaders; datasets
// that only read memory are safe.
type Dataset interface {
	// Len returns the number of samples.
	Len() int
	// Shapes returns the shapes of one sample's features and target; a
	// scalar target such as a class label has shape [] (empty).
	Shapes() (x, y []int)
	// Get copies sample i's features into x and its target into y, whose
	// lengths are the element counts of the shapes. It panics if i is
	// out of range.
	Get(i int, x, y []float32)
}

// TensorDataset is an in-memory [Dataset]: N samples stored contiguously,
// features in one slice and targets in another.
type TensorDataset struct {
	x, y           []float32
	xShape, yShape []int // per sample
	xSize, ySize   int
	n              int
}

var _ Dataset = (*TensorDataset)(nil)

// NewTensorDataset returns the dataset whose sample i is x[i] and y[i]:
// x and y must have the same first dimension N (y may be 1-d, for class
// labels). It copies their values as float32. It fails if either is a
// scalar or their first dimensions differ.
func NewTensorDataset(x, y *nabla.Tensor) (*TensorDataset, error) {
	if x == nil || y == nil {
		return nil, fmt.Errorf("data: NewTensorDataset: nil tensor")
	}
	return FromFloat32s(x.Float32s(), x.Shape(), y.Float32s(), y.Shape())
}

// FromFloat32s returns the dataset whose features are x, of shape xShape
// (N first), and whose targets are y, of shape yShape (N first). It keeps
// x and y without copying them. It fails if a shape is empty or has a
// negative dimension, the first dimensions differ, or a slice's length
// does not match its shape.
func FromFloat32s(x []float32, xShape []int, y []float32, yShape []int) (*TensorDataset, error) {
	n, xSize, ySize, err := checkSamples(len(x), xShape, len(y), yShape)
	if err != nil {
		return nil, err
	}
	return &TensorDataset{x: x, y: y, xShape: slices.Clone(xShape[1:]), yShape: slices.Clone(yShape[1:]), n: n, xSize: xSize, ySize: ySize}, nil
}

// checkSamples checks features of nx values with shape xShape and targets
// of ny values with shape yShape (both N first), and returns N and the
// sizes of one sample's features and target.
func checkSamples(nx int, xShape []int, ny int, yShape []int) (n, xSize, ySize int, err error) {
	check := func(what string, length int, shape []int) error {
		if len(shape) == 0 {
			return fmt.Errorf("data: %s shape is empty; want N first", what)
		}
		n := 1
		for _, d := range shape {
			if d < 0 {
				return fmt.Errorf("data: %s shape %v has a negative dimension", what, shape)
			}
			if d > 0 && n > math.MaxInt/d {
				return fmt.Errorf("data: %s shape %v is too large", what, shape)
			}
			n *= d
		}
		if n != length {
			return fmt.Errorf("data: %s shape %v holds %d values, have %d", what, shape, n, length)
		}
		return nil
	}
	if err := check("features", nx, xShape); err != nil {
		return 0, 0, 0, err
	}
	if err := check("targets", ny, yShape); err != nil {
		return 0, 0, 0, err
	}
	if xShape[0] != yShape[0] {
		return 0, 0, 0, fmt.Errorf("data: %d feature rows (shape %v) but %d targets (shape %v)", xShape[0], xShape, yShape[0], yShape)
	}
	n = xShape[0]
	return n, numel(xShape[1:]), numel(yShape[1:]), nil
}

// ByteDataset is an in-memory Dataset whose features are stored as bytes,
// such as image pixels, in a quarter of the memory float32 would take,
// and scaled to float32 as samples are read: x = float32(byte)·Scale.
type ByteDataset struct {
	x              []uint8
	y              []float32
	scale          float32
	xShape, yShape []int
	n              int
	xSize, ySize   int
}

// FromBytes returns the dataset whose features are the bytes x times
// scale, of shape xShape (N first), and whose targets are y, of shape
// yShape. It keeps x and y without copying them, and fails as FromFloat32s
// does.
func FromBytes(x []uint8, xShape []int, scale float32, y []float32, yShape []int) (*ByteDataset, error) {
	n, xSize, ySize, err := checkSamples(len(x), xShape, len(y), yShape)
	if err != nil {
		return nil, err
	}
	return &ByteDataset{x: x, y: y, scale: scale, xShape: slices.Clone(xShape[1:]), yShape: slices.Clone(yShape[1:]), n: n, xSize: xSize, ySize: ySize}, nil
}

// Len returns the number of samples.
func (d *ByteDataset) Len() int { return d.n }

// Shapes returns the shapes of one sample's features and target.
func (d *ByteDataset) Shapes() (x, y []int) { return slices.Clone(d.xShape), slices.Clone(d.yShape) }

// Get writes sample i's scaled features into x and its target into y.
func (d *ByteDataset) Get(i int, x, y []float32) {
	if i < 0 || i >= d.n {
		panic(&nabla.ValueError{Op: "ByteDataset.Get", Reason: fmt.Sprintf("index %d out of range [0, %d)", i, d.n)})
	}
	x = x[:d.xSize]
	for j, b := range d.x[i*d.xSize : (i+1)*d.xSize] {
		x[j] = float32(b) * d.scale
	}
	copy(y[:d.ySize], d.y[i*d.ySize:(i+1)*d.ySize])
}

// Targets returns all targets, sharing memory with the dataset.
func (d *ByteDataset) Targets() []float32 { return d.y }

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Len returns the number of samples.
func (d *TensorDataset) Len() int { return d.n }

// Shapes returns the shapes of one sample's features and target.
func (d *TensorDataset) Shapes() (x, y []int) { return slices.Clone(d.xShape), slices.Clone(d.yShape) }

// Get copies sample i into x and y.
func (d *TensorDataset) Get(i int, x, y []float32) {
	if i < 0 || i >= d.n {
		panic(&nabla.ValueError{Op: "TensorDataset.Get", Reason: fmt.Sprintf("index %d out of range [0, %d)", i, d.n)})
	}
	copy(x[:d.xSize], d.x[i*d.xSize:(i+1)*d.xSize])
	copy(y[:d.ySize], d.y[i*d.ySize:(i+1)*d.ySize])
}

// Features returns all features, N samples one after another, sharing
// memory with the dataset.
func (d *TensorDataset) Features() []float32 { return d.x }

// Targets returns all targets, sharing memory with the dataset; for class
// labels, pass them to [CheckLabels].
func (d *TensorDataset) Targets() []float32 { return d.y }

// Collate returns fresh tensors holding the samples idx of ds: features of
// shape [len(idx), x...] and targets of shape [len(idx), y...], for the
// shapes ds.Shapes gives. A [Loader] does the same into reused buffers.
func Collate(ds Dataset, idx []int) (x, y *nabla.Tensor) {
	xs, ys := ds.Shapes()
	x = nabla.Zeros(append([]int{len(idx)}, xs...)...)
	y = nabla.Zeros(append([]int{len(idx)}, ys...)...)
	fill(ds, idx, x.Data32(), y.Data32(), numel(xs), numel(ys))
	return x, y
}

// fill copies samples idx of ds into the rows of xb and yb.
func fill(ds Dataset, idx []int, xb, yb []float32, xSize, ySize int) {
	for k, i := range idx {
		ds.Get(i, xb[k*xSize:(k+1)*xSize:(k+1)*xSize], yb[k*ySize:(k+1)*ySize:(k+1)*ySize])
	}
}

// CheckLabels checks that every value of y is a class index: a whole
// number in [0, numClasses). The error names the first offending index and
// value. Datasets of class labels call it when they are loaded.
func CheckLabels[T float32 | float64 | int](y []T, numClasses int) error {
	for i, v := range y {
		f := float64(v)
		if f != math.Trunc(f) {
			return fmt.Errorf("data: label %v at index %d is not a whole number", v, i)
		}
		if f < 0 || f >= float64(numClasses) {
			return fmt.Errorf("data: label %v at index %d is outside [0, %d)", v, i, numClasses)
		}
	}
	return nil
}

// Subset is the [Dataset] made of some samples of another, in a given
// order; [Split] makes two.
type Subset struct {
	ds  Dataset
	idx []int
}

var _ Dataset = (*Subset)(nil)

// NewSubset returns the samples idx of ds, in that order: sample i of the
// subset is sample idx[i] of ds. It keeps idx without copying it, and
// panics with a *nabla.ValueError if an index is out of range.
func NewSubset(ds Dataset, idx []int) *Subset {
	n := ds.Len()
	for k, i := range idx {
		if i < 0 || i >= n {
			panic(&nabla.ValueError{Op: "NewSubset", Reason: fmt.Sprintf("index %d (position %d) out of range [0, %d)", i, k, n)})
		}
	}
	return &Subset{ds: ds, idx: idx}
}

// Len returns the number of samples in the subset.
func (s *Subset) Len() int { return len(s.idx) }

// Shapes returns the shapes of the underlying dataset.
func (s *Subset) Shapes() (x, y []int) { return s.ds.Shapes() }

// Get copies sample i of the subset, sample Indices()[i] of the
// underlying dataset.
func (s *Subset) Get(i int, x, y []float32) { s.ds.Get(s.idx[i], x, y) }

// Indices returns the indices into the underlying dataset, sharing memory
// with the subset.
func (s *Subset) Indices() []int { return s.idx }
