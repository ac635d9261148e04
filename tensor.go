package nabla

import (
	"math"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"unsafe"

	"github.com/nabla-go/nabla/internal/half"
	"github.com/nabla-go/nabla/internal/loops"
)

// Tensor is an n-dimensional array of values of one [DType] that also
// carries the state of automatic differentiation: whether it requires a
// gradient, the gradient accumulated by Backward, and the op that made it.
//
// A tensor is a view of a storage slice with a shape, strides (in elements)
// and an offset, so reshape, permute, slice and expand share memory with
// their source. Tensors are not safe for concurrent mutation, but any number
// of goroutines may read the same tensor, and goroutines that work on
// different tensors never interfere.
type Tensor struct {
	// The one-byte fields come first, together, so that they share one
	// word: the header's size decides the size class of every scalar op's
	// allocation (see small32).
	dtype        DType
	requiresGrad bool
	noGraph      bool // a gradient of a backward pass without CreateGraph: ops on it record nothing
	gradOwned    bool // grad's memory is ours to add into

	f32     []float32     // storage when dtype == Float32
	f64     []float64     // storage when dtype == Float64
	other   *otherStorage // storage of the other dtypes (see storage.go)
	shape   []int
	strides []int
	offset  int

	grad  *Tensor
	node  *node  // the op that produced this tensor; nil for leaves
	arena *Arena // where the ops on this tensor take their outputs' memory; nil for the heap

	version atomic.Pointer[storageVersion] // the storage's write count, shared by its views; nil until needed (inplace.go)
}

// newTensor allocates a contiguous, zeroed tensor.
func newTensor(dt DType, shape []int) *Tensor {
	n := numel(shape)
	t := &Tensor{dtype: dt, shape: shape, strides: contiguousStrides(shape)}
	switch dt {
	case Float32:
		t.f32 = make([]float32, n)
	case Float64:
		t.f64 = make([]float64, n)
	default:
		t.other = makeStorage(dt, n)
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
// The dtype follows the element type: float32 gives Float32, float64
// Float64, int64 and int Int64 (Go's int is PyTorch's default integer),
// int32 Int32, uint8 Uint8, bool Bool. With no shape, the result is
// one-dimensional. It panics with a *ShapeError if the shape does not hold
// len(data) elements.
func FromSlice[T float32 | float64 | int64 | int | int32 | uint8 | bool](data []T, shape ...int) *Tensor {
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
	case []int64:
		t.dtype, t.other = Int64, boxStorage(append([]int64(nil), d...))
	case []int:
		s := make([]int64, len(d))
		for i, v := range d {
			s[i] = int64(v)
		}
		t.dtype, t.other = Int64, boxStorage(s)
	case []int32:
		t.dtype, t.other = Int32, boxStorage(append([]int32(nil), d...))
	case []uint8:
		t.dtype, t.other = Uint8, boxStorage(append([]uint8(nil), d...))
	case []bool:
		s := make([]uint8, len(d))
		for i, v := range d {
			if v {
				s[i] = 1
			}
		}
		t.dtype, t.other = Bool, boxStorage(s)
	}
	return t
}

// FromHalfBits returns a new Float16 or BFloat16 tensor holding a copy of
// the bit patterns bits (as safetensors files and PyTorch store them). It
// panics with a *ValueError for any other dtype and a *ShapeError if the
// shape does not hold len(bits) elements.
func FromHalfBits(dt DType, bits []uint16, shape ...int) *Tensor {
	if !dt.isHalf() {
		panicValue("FromHalfBits", "dtype %v is not Float16 or BFloat16", dt)
	}
	if shape == nil {
		shape = []int{len(bits)}
	}
	shape = checkShape("FromHalfBits", shape)
	if numel(shape) != len(bits) {
		panicShape("FromHalfBits", "shape holds "+strconv.Itoa(numel(shape))+" elements, data has "+strconv.Itoa(len(bits)), shape)
	}
	return &Tensor{dtype: dt, other: boxStorage(append([]uint16(nil), bits...)), shape: shape, strides: contiguousStrides(shape)}
}

// Scalar returns a 0-d float32 tensor holding v. In a binary op it acts as
// a Python float does in PyTorch: a 0-d tensor counts only by its category
// (see [Tensor.Add]), so an Int64 tensor plus Scalar(1) is Float32, and a
// Float64 or Float16 tensor plus Scalar(1) keeps its dtype.
func Scalar(v float64) *Tensor { return Full(v) }

// ScalarInt returns a 0-d Int64 tensor holding v; in a binary op it acts as
// a Python int does in PyTorch: an Int32 or Uint8 tensor plus ScalarInt(1)
// keeps its dtype, a float tensor too, and a Bool tensor becomes Int64.
func ScalarInt(v int64) *Tensor {
	t := newTensor(Int64, []int{})
	storage[int64](t)[0] = v
	return t
}

// ScalarBool returns a 0-d Bool tensor holding v.
func ScalarBool(v bool) *Tensor {
	t := newTensor(Bool, []int{})
	if v {
		storage[uint8](t)[0] = 1
	}
	return t
}

// Full returns a float32 tensor of the given shape filled with v.
func Full(v float64, shape ...int) *Tensor {
	return FullOf(Float32, v, shape...)
}

// FullOf returns a tensor of the given dtype and shape filled with v,
// converted to dt as [Tensor.To] converts.
func FullOf(dt DType, v float64, shape ...int) *Tensor {
	t := newTensor(dt, checkShape("Full", shape))
	if v != 0 {
		t.fill(v)
	}
	return t
}

// fill sets every element of the contiguous t to v converted to t's dtype.
func (t *Tensor) fill(v float64) {
	switch t.dtype {
	case Float32:
		f := float32(v)
		for i := range t.f32 {
			t.f32[i] = f
		}
	case Float64:
		for i := range t.f64 {
			t.f64[i] = v
		}
	default:
		one := &Tensor{dtype: t.dtype, other: makeStorage(t.dtype, 1), shape: []int{1}, strides: []int{1}}
		convert(one, &Tensor{dtype: Float64, f64: []float64{v}, shape: []int{1}, strides: []int{1}})
		fillLoops.of(t.dtype)(t, one)
	}
}

func fillFrom[T elem](t, one *Tensor) {
	s, v := storage[T](t), storage[T](one)[0]
	for i := range s {
		s[i] = v
	}
}

var fillLoops = byElem[func(t, one *Tensor)]{fillFrom[float32], fillFrom[float64], fillFrom[int64], fillFrom[int32], fillFrom[uint8], fillFrom[uint16]}

// Zeros returns a float32 tensor of zeros. Zeros() is a 0-d scalar.
func Zeros(shape ...int) *Tensor { return FullOf(Float32, 0, shape...) }

// ZerosOf returns a tensor of zeros of the given dtype and shape.
func ZerosOf(dt DType, shape ...int) *Tensor { return FullOf(dt, 0, shape...) }

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
		out.fill(v)
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

// ArangeOf returns start, start+step, ... below stop (above stop for a
// negative step) in dtype dt, as torch.arange(start, stop, step, dtype=dt).
// With an integer dtype the values are computed exactly in int64 arithmetic.
// It panics if step is 0.
func ArangeOf(dt DType, start, stop, step float64) *Tensor {
	if step == 0 {
		panicValue("Arange", "step is 0")
	}
	if !dt.IsFloat() && start == math.Trunc(start) && step == math.Trunc(step) {
		n := max(int(math.Ceil((stop-start)/step)), 0)
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(start) + int64(i)*int64(step)
		}
		return FromSlice(v).To(dt)
	}
	a := Arange(start, stop, step)
	if dt == Float64 {
		a = FromSlice(make([]float64, a.Len()))
		for i := range a.f64 {
			a.f64[i] = start + float64(i)*step
		}
	}
	return a.To(dt)
}

// RandInt returns an Int64 tensor of values drawn uniformly from [lo, hi)
// using rng, as torch.randint. It panics with a *ValueError if hi <= lo.
func RandInt(rng *rand.Rand, lo, hi int64, shape ...int) *Tensor {
	if hi <= lo {
		panicValue("RandInt", "empty range [%d, %d)", lo, hi)
	}
	t := newTensor(Int64, checkShape("RandInt", shape))
	s := storage[int64](t)
	for i := range s {
		s[i] = lo + rng.Int64N(hi-lo)
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
// converted from t's dtype if needed.
func (t *Tensor) Float32s() []float32 {
	c := t.contiguous()
	if c.dtype == Float32 {
		return append([]float32(nil), c.f32[c.offset:c.offset+c.Len()]...)
	}
	return c.valuesAs(Float32).f32
}

// Float64s returns t's values in row-major order as a new []float64.
func (t *Tensor) Float64s() []float64 {
	c := t.contiguous()
	if c.dtype == Float64 {
		return append([]float64(nil), c.f64[c.offset:c.offset+c.Len()]...)
	}
	return c.valuesAs(Float64).f64
}

// Int64s returns t's values in row-major order as a new []int64, converted
// as [Tensor.To] converts (floats truncate toward zero).
func (t *Tensor) Int64s() []int64 {
	c := t.contiguous()
	if c.dtype == Int64 {
		return append([]int64(nil), values[int64](c)...)
	}
	return storage[int64](c.valuesAs(Int64))
}

// valuesAs returns the values of the contiguous t converted to dt, in new
// heap memory (not t's arena: the caller keeps them), recording nothing.
func (t *Tensor) valuesAs(dt DType) *Tensor {
	out := newTensor(dt, t.shape)
	convert(out, t)
	return out
}

// Bools returns t's values in row-major order as a new []bool: x != 0.
func (t *Tensor) Bools() []bool {
	v := storage[uint8](t.contiguous().valuesAs(Bool))
	out := make([]bool, len(v))
	for i, x := range v {
		out[i] = x != 0
	}
	return out
}

// Ints returns t's values as ints, for tensors that hold indices or labels:
// exactly for the integer dtypes, rounded toward zero for the floats.
func (t *Tensor) Ints() []int {
	v := t.Int64s()
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
func (t *Tensor) Data32() []float32 { return dataOf[float32](t, Float32, "Data32") }

// Data64 is Data32 for float64 tensors.
func (t *Tensor) Data64() []float64 { return dataOf[float64](t, Float64, "Data64") }

// DataInt64 is Data32 for Int64 tensors.
func (t *Tensor) DataInt64() []int64 { return dataOf[int64](t, Int64, "DataInt64") }

// DataInt32 is Data32 for Int32 tensors.
func (t *Tensor) DataInt32() []int32 { return dataOf[int32](t, Int32, "DataInt32") }

// DataUint8 is Data32 for Uint8 tensors.
func (t *Tensor) DataUint8() []uint8 { return dataOf[uint8](t, Uint8, "DataUint8") }

// DataBool is Data32 for Bool tensors. Only true and false may be written
// through it.
func (t *Tensor) DataBool() []bool {
	u := dataOf[uint8](t, Bool, "DataBool")
	if len(u) == 0 {
		return []bool{}
	}
	// A Go bool is one byte holding 0 or 1, which is how Bool is stored.
	return unsafe.Slice((*bool)(unsafe.Pointer(&u[0])), len(u))
}

// DataHalf is Data32 for Float16 and BFloat16 tensors: their IEEE binary16
// or bfloat16 bit patterns, as safetensors files hold them.
func (t *Tensor) DataHalf() []uint16 {
	if !t.dtype.isHalf() {
		panicValue("DataHalf", "tensor is %v, want float16 or bfloat16", t.dtype)
	}
	return dataOf[uint16](t, t.dtype, "DataHalf")
}

func dataOf[T elem](t *Tensor, dt DType, op string) []T {
	if t.dtype != dt {
		panicValue(op, "tensor is %v, want %v", t.dtype, dt)
	}
	if !t.IsContiguous() {
		panicShape(op, "tensor is not contiguous", t.shape)
	}
	n := t.Len()
	return storage[T](t)[t.offset : t.offset+n : t.offset+n]
}

// load returns the element at storage offset off as a float64 (exactly,
// except Int64 values beyond 2^53, which round).
func (t *Tensor) load(off int) float64 {
	switch t.dtype {
	case Float32:
		return float64(t.f32[off])
	case Float64:
		return t.f64[off]
	case Int64:
		return float64(storage[int64](t)[off])
	case Int32:
		return float64(storage[int32](t)[off])
	case Uint8, Bool:
		return float64(storage[uint8](t)[off])
	case Float16:
		return float64(half.Float16(storage[uint16](t)[off]).Float32())
	}
	return float64(half.BFloat16(storage[uint16](t)[off]).Float32())
}

// offsetOf returns the storage offset of the element at idx, checking it.
func (t *Tensor) offsetOf(op string, idx []int) int {
	if len(idx) != len(t.shape) {
		panicShape(op, "got "+strconv.Itoa(len(idx))+" indices for rank "+strconv.Itoa(len(t.shape)), t.shape)
	}
	off := t.offset
	for i, x := range idx {
		if x < 0 || x >= t.shape[i] {
			panicShape(op, "index "+strconv.Itoa(x)+" out of range for axis "+strconv.Itoa(i), t.shape)
		}
		off += x * t.strides[i]
	}
	return off
}

// Item returns the single value of a one-element tensor as a float64
// (Bool as 0 or 1; Int64 values beyond 2^53 round: use [Tensor.ItemInt]).
// It panics with a *ShapeError if t has more than one element.
func (t *Tensor) Item() float64 {
	if t.Len() != 1 {
		panicShape("Item", "tensor has "+strconv.Itoa(t.Len())+" elements, want 1", t.shape)
	}
	return t.load(t.offset)
}

// ItemInt returns the single value of a one-element tensor as an int64,
// exactly for the integer dtypes and converted as [Tensor.To] converts for
// the floats. It panics with a *ShapeError if t has more than one element.
func (t *Tensor) ItemInt() int64 {
	if t.Len() != 1 {
		panicShape("ItemInt", "tensor has "+strconv.Itoa(t.Len())+" elements, want 1", t.shape)
	}
	return t.view([]int{}, []int{}, t.offset).valuesAs(Int64).other.i64[0]
}

// At returns the element at the given index, one coordinate per dimension,
// as a float64.
func (t *Tensor) At(idx ...int) float64 { return t.load(t.offsetOf("At", idx)) }

// Set stores v at the given index, in place, converted to t's dtype as
// [Tensor.To] converts. It records nothing in the graph, but counts as a
// write to t's storage (see [Tensor.Version]): a backward pass that needs
// the old value panics.
func (t *Tensor) Set(v float64, idx ...int) {
	off := t.offsetOf("Set", idx)
	switch t.dtype {
	case Float32:
		t.f32[off] = float32(v)
	case Float64:
		t.f64[off] = v
	default:
		one := FromSlice([]float64{v}).To(t.dtype)
		storeLoops.of(t.dtype)(t, off, []int{}, []int{}, one)
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
	v := &Tensor{dtype: t.dtype, f32: t.f32, f64: t.f64, other: t.other, shape: shape, strides: strides, offset: offset, arena: t.arena}
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
	switch t.dtype {
	case Float32:
		loops.Copy(out.f32, t.f32, t.offset, t.shape, t.strides)
	case Float64:
		loops.Copy(out.f64, t.f64, t.offset, t.shape, t.strides)
	default:
		copyLoops.of(t.dtype)(out, t)
	}
	return out
}
