package nabla

import (
	"github.com/nabla-go/nabla/internal/loops"
	"math"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
)

// Tensor is an n-dimensional array of float32 or float64 values that also
// carries the state of automatic differentiation: whether it requires a
// gradient, the gradient accumulated by Backward, and the op that made it.
//
// A tensor is a view of a storage slice with a shape, strides (in elements)
// and an offset, so reshape, permute, slice and expand share memory with
// their source. Tensors are not safe for concurrent mutation, but any number
// of goroutines may read the same tensor, and goroutines that work on
// different tensors never interfere.
type Tensor struct {
	dtype   DType
	f32     []float32 // storage when dtype == Float32
	f64     []float64 // storage when dtype == Float64
	shape   []int
	strides []int
	offset  int

	requiresGrad bool
	grad         *Tensor
	node         *node  // the op that produced this tensor; nil for leaves
	noGraph      bool   // a gradient of a backward pass without CreateGraph: ops on it record nothing
	gradOwned    bool   // grad's memory is ours to add into
	arena        *Arena // where the ops on this tensor take their outputs' memory; nil for the heap

	version atomic.Pointer[storageVersion] // the storage's write count, shared by its views; nil until needed (inplace.go)
}

// newTensor allocates a contiguous, zeroed tensor.
func newTensor(dt DType, shape []int) *Tensor {
	n := numel(shape)
	t := &Tensor{dtype: dt, shape: shape, strides: contiguousStrides(shape)}
	if dt == Float64 {
		t.f64 = make([]float64, n)
	} else {
		t.f32 = make([]float32, n)
	}
	return t
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func contiguousStrides(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	return st
}

func checkShape(op string, shape []int) []int {
	for _, d := range shape {
		if d < 0 {
			panicShape(op, "negative dimension", shape)
		}
	}
	return append([]int(nil), shape...)
}

// FromSlice returns a new tensor holding a copy of data with the given shape.
// The dtype follows the element type: float32 or float64. With no shape, the
// result is one-dimensional. It panics with a *ShapeError if the shape does
// not hold len(data) elements.
func FromSlice[T float32 | float64](data []T, shape ...int) *Tensor {
	if shape == nil {
		shape = []int{len(data)}
	}
	shape = checkShape("FromSlice", shape)
	if numel(shape) != len(data) {
		panicShape("FromSlice", "shape holds "+strconv.Itoa(numel(shape))+" elements, data has "+strconv.Itoa(len(data)), shape)
	}
	t := &Tensor{shape: shape, strides: contiguousStrides(shape)}
	switch d := any(data).(type) {
	case []float32:
		t.dtype = Float32
		t.f32 = append([]float32(nil), d...)
	case []float64:
		t.dtype = Float64
		t.f64 = append([]float64(nil), d...)
	}
	return t
}

// Scalar returns a 0-d float32 tensor holding v.
func Scalar(v float64) *Tensor { return Full(v) }

// Full returns a float32 tensor of the given shape filled with v.
func Full(v float64, shape ...int) *Tensor {
	return FullOf(Float32, v, shape...)
}

// FullOf returns a tensor of the given dtype and shape filled with v.
func FullOf(dt DType, v float64, shape ...int) *Tensor {
	t := newTensor(dt, checkShape("Full", shape))
	if v != 0 {
		if dt == Float64 {
			for i := range t.f64 {
				t.f64[i] = v
			}
		} else {
			f := float32(v)
			for i := range t.f32 {
				t.f32[i] = f
			}
		}
	}
	return t
}

// Zeros returns a float32 tensor of zeros. Zeros() is a 0-d scalar.
func Zeros(shape ...int) *Tensor { return FullOf(Float32, 0, shape...) }

// Ones returns a float32 tensor of ones. Ones() is a 0-d scalar.
func Ones(shape ...int) *Tensor { return FullOf(Float32, 1, shape...) }

// ZerosLike returns zeros with the shape and dtype of t, in t's arena if it
// has one.
func ZerosLike(t *Tensor) *Tensor { return fullLike(t, 0) }

// OnesLike returns ones with the shape and dtype of t, in t's arena if it
// has one.
func OnesLike(t *Tensor) *Tensor { return fullLike(t, 1) }

func fullLike(t *Tensor, v float64) *Tensor {
	out := newZeroed(t.arena, t.dtype, t.shape, contiguousStrides(t.shape))
	if v != 0 {
		if t.dtype == Float64 {
			for i := range out.f64 {
				out.f64[i] = v
			}
		} else {
			for i := range out.f32 {
				out.f32[i] = float32(v)
			}
		}
	}
	return out
}

// Arange returns the float32 values start, start+step, ... below stop (above
// stop for a negative step), as NumPy's arange. It panics if step is 0.
func Arange(start, stop, step float64) *Tensor {
	if step == 0 {
		panicValue("Arange", "step is 0")
	}
	n := int(math.Ceil((stop - start) / step))
	if n < 0 {
		n = 0
	}
	t := newTensor(Float32, []int{n})
	for i := range t.f32 {
		t.f32[i] = float32(start + float64(i)*step)
	}
	return t
}

// Linspace returns n float32 values evenly spaced from start to stop, both
// included.
func Linspace(start, stop float64, n int) *Tensor {
	if n < 0 {
		panicValue("Linspace", "negative count %d", n)
	}
	t := newTensor(Float32, []int{n})
	for i := range t.f32 {
		if n == 1 {
			t.f32[i] = float32(start)
			break
		}
		t.f32[i] = float32(start + (stop-start)*float64(i)/float64(n-1))
	}
	return t
}

// Rand returns a float32 tensor of values drawn uniformly from [0, 1) using rng.
func Rand(rng *rand.Rand, shape ...int) *Tensor {
	return Uniform(rng, 0, 1, shape...)
}

// Uniform returns a float32 tensor of values drawn uniformly from [lo, hi).
func Uniform(rng *rand.Rand, lo, hi float64, shape ...int) *Tensor {
	t := newTensor(Float32, checkShape("Uniform", shape))
	for i := range t.f32 {
		t.f32[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return t
}

// RandN returns a float32 tensor of values drawn from the standard normal
// distribution using rng.
func RandN(rng *rand.Rand, shape ...int) *Tensor {
	return Normal(rng, 0, 1, shape...)
}

// Normal returns a float32 tensor of values drawn from a normal distribution
// with the given mean and standard deviation.
func Normal(rng *rand.Rand, mean, std float64, shape ...int) *Tensor {
	t := newTensor(Float32, checkShape("Normal", shape))
	for i := range t.f32 {
		t.f32[i] = float32(mean + std*rng.NormFloat64())
	}
	return t
}

// DType returns the element type of t.
func (t *Tensor) DType() DType { return t.dtype }

// Shape returns a copy of t's shape.
func (t *Tensor) Shape() []int { return append([]int{}, t.shape...) }

// Strides returns a copy of t's strides, in elements.
func (t *Tensor) Strides() []int { return append([]int{}, t.strides...) }

// Dim returns the number of dimensions (the rank) of t.
func (t *Tensor) Dim() int { return len(t.shape) }

// Len returns the number of elements of t.
func (t *Tensor) Len() int { return numel(t.shape) }

// Size returns the length of dimension axis; a negative axis counts from the end.
func (t *Tensor) Size(axis int) int { return t.shape[t.axis("Size", axis)] }

// IsContiguous reports whether t's elements lie in row-major order with no gaps.
func (t *Tensor) IsContiguous() bool {
	s := 1
	for i := len(t.shape) - 1; i >= 0; i-- {
		if t.shape[i] != 1 && t.strides[i] != s {
			return false
		}
		s *= t.shape[i]
	}
	return true
}

// axis normalises a possibly negative axis, panicking if it is out of range.
func (t *Tensor) axis(op string, a int) int {
	r := len(t.shape)
	if a < -r || a >= r {
		panicShape(op, "axis "+strconv.Itoa(a)+" out of range for rank "+strconv.Itoa(r), t.shape)
	}
	if a < 0 {
		a += r
	}
	return a
}

// Float32s returns t's values in row-major order as a new []float32,
// converting from float64 if needed.
func (t *Tensor) Float32s() []float32 {
	c := t.contiguous()
	if c.dtype == Float32 {
		return append([]float32(nil), c.f32[c.offset:c.offset+c.Len()]...)
	}
	out := make([]float32, c.Len())
	for i, v := range c.f64[c.offset : c.offset+len(out)] {
		out[i] = float32(v)
	}
	return out
}

// Float64s returns t's values in row-major order as a new []float64.
func (t *Tensor) Float64s() []float64 {
	c := t.contiguous()
	if c.dtype == Float64 {
		return append([]float64(nil), c.f64[c.offset:c.offset+c.Len()]...)
	}
	out := make([]float64, c.Len())
	for i, v := range c.f32[c.offset : c.offset+len(out)] {
		out[i] = float64(v)
	}
	return out
}

// Ints returns t's values rounded toward zero as ints, for tensors that hold
// indices or labels.
func (t *Tensor) Ints() []int {
	v := t.Float64s()
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

// Data32 returns the storage of a contiguous float32 tensor, sharing memory:
// writes through it change t and every view of t. It is meant for optimizers
// and loaders that update values in place; changing a tensor that a graph
// still holds for Backward gives wrong gradients unless the writer calls
// [Tensor.MarkModified] (the optimizers do), which the version check of the
// backward pass then sees. It panics if t is not float32 or not contiguous.
func (t *Tensor) Data32() []float32 {
	if t.dtype != Float32 {
		panicValue("Data32", "tensor is %v", t.dtype)
	}
	if !t.IsContiguous() {
		panicShape("Data32", "tensor is not contiguous", t.shape)
	}
	return t.f32[t.offset : t.offset+t.Len() : t.offset+t.Len()]
}

// Data64 is Data32 for float64 tensors.
func (t *Tensor) Data64() []float64 {
	if t.dtype != Float64 {
		panicValue("Data64", "tensor is %v", t.dtype)
	}
	if !t.IsContiguous() {
		panicShape("Data64", "tensor is not contiguous", t.shape)
	}
	return t.f64[t.offset : t.offset+t.Len() : t.offset+t.Len()]
}

// Item returns the single value of a one-element tensor.
// It panics with a *ShapeError if t has more than one element.
func (t *Tensor) Item() float64 {
	if t.Len() != 1 {
		panicShape("Item", "tensor has "+strconv.Itoa(t.Len())+" elements, want 1", t.shape)
	}
	if t.dtype == Float64 {
		return t.f64[t.offset]
	}
	return float64(t.f32[t.offset])
}

// At returns the element at the given index, one coordinate per dimension.
func (t *Tensor) At(idx ...int) float64 {
	if len(idx) != len(t.shape) {
		panicShape("At", "got "+strconv.Itoa(len(idx))+" indices for rank "+strconv.Itoa(len(t.shape)), t.shape)
	}
	off := t.offset
	for i, x := range idx {
		if x < 0 || x >= t.shape[i] {
			panicShape("At", "index "+strconv.Itoa(x)+" out of range for axis "+strconv.Itoa(i), t.shape)
		}
		off += x * t.strides[i]
	}
	if t.dtype == Float64 {
		return t.f64[off]
	}
	return float64(t.f32[off])
}

// Set stores v at the given index, in place. It records nothing in the
// graph, but counts as a write to t's storage (see [Tensor.Version]): a
// backward pass that needs the old value panics.
func (t *Tensor) Set(v float64, idx ...int) {
	if len(idx) != len(t.shape) {
		panicShape("Set", "got "+strconv.Itoa(len(idx))+" indices for rank "+strconv.Itoa(len(t.shape)), t.shape)
	}
	off := t.offset
	for i, x := range idx {
		if x < 0 || x >= t.shape[i] {
			panicShape("Set", "index "+strconv.Itoa(x)+" out of range for axis "+strconv.Itoa(i), t.shape)
		}
		off += x * t.strides[i]
	}
	if t.dtype == Float64 {
		t.f64[off] = v
	} else {
		t.f32[off] = float32(v)
	}
	t.MarkModified()
}

// Clone returns a contiguous copy of t that shares no memory with it. The copy
// is recorded in the graph, so gradients flow back to t.
func (t *Tensor) Clone() *Tensor {
	out := t.copyContiguous()
	return record("Clone", out, func(g, _ *Tensor, _ []*Tensor) []*Tensor { return []*Tensor{g} }, t)
}

// view returns a tensor sharing t's storage with the given geometry.
func (t *Tensor) view(shape, strides []int, offset int) *Tensor {
	v := &Tensor{dtype: t.dtype, f32: t.f32, f64: t.f64, shape: shape, strides: strides, offset: offset, arena: t.arena}
	v.version.Store(t.sharedCounter())
	return v
}

// contiguous returns t itself if it is contiguous, otherwise a contiguous
// copy. It records nothing in the graph.
func (t *Tensor) contiguous() *Tensor {
	if t.IsContiguous() {
		return t
	}
	return t.copyContiguous()
}

func (t *Tensor) copyContiguous() *Tensor {
	out := newShared(t.arena, t.dtype, append([]int(nil), t.shape...), contiguousStrides(t.shape))
	if t.dtype == Float64 {
		loops.Copy(out.f64, t.f64, t.offset, t.shape, t.strides)
	} else {
		loops.Copy(out.f32, t.f32, t.offset, t.shape, t.strides)
	}
	return out
}
