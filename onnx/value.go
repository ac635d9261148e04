package onnx

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"

	"github.com/nabla-go/nabla"
)

// maxElements bounds the element count of any tensor a model describes or
// computes from values in the file: a file that claims more is rejected
// before anything is allocated. 2^30 float32 elements are 4 GiB. (A
// variable so that the fuzz tests can lower it.)
var maxElements int64 = 1 << 30

// value is what flows along a graph edge: floating-point data as a nabla
// tensor (differentiable), or integer and bool data as host integers.
// nabla tensors hold only float32 and float64, and integer values in the
// models this package runs are shapes, axes and indices: shape arithmetic
// that is computed on the host and never differentiated.
type value struct {
	t *nabla.Tensor
	i *ints
}

// ints is an integer or bool tensor held on the host, row-major.
type ints struct {
	shape  []int
	v      []int64
	isBool bool
	dtype  int32 // the ONNX element type, for Cast and the outputs
}

func (v value) ok() bool { return v.t != nil || v.i != nil }

func (v value) shape() []int {
	if v.t != nil {
		return v.t.Shape()
	}
	return v.i.shape
}

func (v value) kind() string {
	if v.t != nil {
		return v.t.DType().String()
	}
	return typeName(v.i.dtype)
}

// count returns the number of elements of shape, or an error if a
// dimension is negative or the count exceeds maxElements.
func count(shape []int64) (int, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d in shape %v", d, shape)
		}
		if d > 0 && n > maxElements/d {
			return 0, fmt.Errorf("shape %v has more than %d elements", shape, int64(maxElements))
		}
		n *= d
	}
	if n > maxElements {
		return 0, fmt.Errorf("shape %v has more than %d elements", shape, int64(maxElements))
	}
	return int(n), nil
}

func toInts(s []int64) []int {
	out := make([]int, len(s))
	for i, v := range s {
		out[i] = int(v)
	}
	return out
}

// newInts returns an int tensor of the given shape and values.
func newInts(shape []int, v []int64) *ints {
	return &ints{shape: shape, v: v, dtype: typeInt64}
}

// scalarInts is a 0-d int64.
func scalarInts(v int64) *ints { return newInts([]int{}, []int64{v}) }

// tensorOf returns v as a float tensor of dtype dt (used for an int
// operand of a float op); a float tensor is returned as it is.
func (v value) tensorOf(dt nabla.DType) *nabla.Tensor {
	if v.t != nil {
		return v.t
	}
	if dt == nabla.Float64 {
		f := make([]float64, len(v.i.v))
		for k, x := range v.i.v {
			f[k] = float64(x)
		}
		return nabla.FromSlice(f, v.i.shape...)
	}
	f := make([]float32, len(v.i.v))
	for k, x := range v.i.v {
		f[k] = float32(x)
	}
	return nabla.FromSlice(f, v.i.shape...)
}

// tensor returns i as a nabla tensor of the dtype closest to its ONNX
// element type: Bool, Uint8 and Int32 as themselves, every other integer
// type as Int64 (a uint64 above 2^63-1 wraps, as in PyTorch, which has no
// uint64).
func (i *ints) tensor() *nabla.Tensor {
	t := nabla.FromSlice(i.v, i.shape...)
	switch {
	case i.isBool || i.dtype == 9:
		return t.To(nabla.Bool)
	case i.dtype == 2:
		return t.To(nabla.Uint8)
	case i.dtype == 6:
		return t.To(nabla.Int32)
	}
	return t
}

// intsOf returns v's values as integers, truncating floats toward zero as
// ONNX's Cast does.
func (v value) intsOf() *ints {
	if v.i != nil {
		return v.i
	}
	if v.t.Len() > maxInts {
		fail("an integer tensor of shape %v has more than %d elements", v.t.Shape(), maxInts)
	}
	f := v.t.Float64s()
	out := make([]int64, len(f))
	for k, x := range f {
		out[k] = int64(x)
	}
	return newInts(v.t.Shape(), out)
}

// externalReader opens external data files inside one folder only.
type externalReader struct {
	root  *os.Root // nil: external data is not allowed
	dir   string
	files map[string]*os.File
}

func (r *externalReader) close() {
	for _, f := range r.files {
		f.Close()
	}
	if r.root != nil {
		r.root.Close()
	}
}

// read returns length bytes at offset of the file location, relative to
// the model's folder. os.Root refuses absolute paths, ".." components that
// leave the folder and symbolic links that point outside it.
func (r *externalReader) read(location string, offset, length int64) ([]byte, error) {
	if r.root == nil {
		return nil, fmt.Errorf("external data %q: the model was not loaded from a file, so there is no folder to read it from", location)
	}
	if location == "" {
		return nil, fmt.Errorf("external data without a location")
	}
	f, ok := r.files[location]
	if !ok {
		var err error
		f, err = r.root.Open(location)
		if err != nil {
			return nil, fmt.Errorf("external data %q must be a file inside the model's folder %s: %w", location, r.dir, err)
		}
		r.files[location] = f
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("external data %q is not a regular file", location)
	}
	if offset < 0 || offset > st.Size() {
		return nil, fmt.Errorf("external data %q: offset %d is outside the file (%d bytes)", location, offset, st.Size())
	}
	if length < 0 {
		length = st.Size() - offset
	}
	if length > st.Size()-offset {
		return nil, fmt.Errorf("external data %q: %d bytes at offset %d run past the end of the file (%d bytes)", location, length, offset, st.Size())
	}
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, offset); err != nil && err != io.EOF {
		return nil, fmt.Errorf("external data %q: %w", location, err)
	}
	return buf, nil
}

// elemSize is the size in bytes of one element in raw_data.
func elemSize(t int32) int {
	switch t {
	case typeFloat, typeInt32:
		return 4
	case typeInt64, typeDouble:
		return 8
	case typeUint8, typeInt8, typeBool:
		return 1
	case typeFloat16:
		return 2
	}
	return 0
}

// decodeTensorValue turns a TensorProto into a value: float32 and float64
// as nabla tensors, integer and bool types as ints. The element count
// from dims is checked against the data actually present before any
// buffer of that size is made.
func decodeTensorValue(t *tensorProto, ext *externalReader) (value, error) {
	n, err := count(t.dims)
	if err != nil {
		return value{}, err
	}
	shape := toInts(t.dims)
	size := elemSize(t.dataType)
	if size == 0 || t.dataType == typeFloat16 {
		return value{}, fmt.Errorf("element type %s is not supported", typeName(t.dataType))
	}
	if t.segment {
		return value{}, fmt.Errorf("segmented tensors are not supported")
	}
	raw, hasRaw := t.raw, t.hasRaw
	if t.location == 1 {
		loc, offset, length := "", int64(0), int64(-1)
		for _, kv := range t.external {
			var err error
			switch kv.key {
			case "location":
				loc = kv.value
			case "offset":
				offset, err = strconv.ParseInt(kv.value, 10, 64)
			case "length":
				length, err = strconv.ParseInt(kv.value, 10, 64)
			}
			if err != nil {
				return value{}, fmt.Errorf("external data: bad %s %q", kv.key, kv.value)
			}
		}
		if length >= 0 && length != int64(n)*int64(size) {
			return value{}, fmt.Errorf("external data: length %d does not match %d elements of %s", length, n, typeName(t.dataType))
		}
		if length < 0 {
			length = int64(n) * int64(size)
		}
		if raw, err = ext.read(loc, offset, length); err != nil {
			return value{}, err
		}
		hasRaw = true
	}
	var have int
	switch {
	case hasRaw:
		if len(raw) != n*size {
			return value{}, fmt.Errorf("raw data has %d bytes, shape %v of %s needs %d", len(raw), shape, typeName(t.dataType), n*size)
		}
		have = n
	case t.dataType == typeFloat:
		have = len(t.floats)
	case t.dataType == typeDouble:
		have = len(t.doubles)
	case t.dataType == typeInt64:
		have = len(t.int64s)
	default: // int32, int8, uint8, bool live in int32_data
		have = len(t.int32s)
	}
	if have != n {
		return value{}, fmt.Errorf("shape %v needs %d values of %s, the tensor holds %d", shape, n, typeName(t.dataType), have)
	}
	switch t.dataType {
	case typeFloat:
		f := make([]float32, n)
		if hasRaw {
			for k := range f {
				f[k] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:]))
			}
		} else {
			copy(f, t.floats)
		}
		return value{t: nabla.FromSlice(f, shape...)}, nil
	case typeDouble:
		f := make([]float64, n)
		if hasRaw {
			for k := range f {
				f[k] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*k:]))
			}
		} else {
			copy(f, t.doubles)
		}
		return value{t: nabla.FromSlice(f, shape...)}, nil
	}
	v := make([]int64, n)
	for k := range v {
		switch {
		case !hasRaw && t.dataType == typeInt64:
			v[k] = t.int64s[k]
		case !hasRaw:
			v[k] = int64(t.int32s[k])
		case t.dataType == typeInt64:
			v[k] = int64(binary.LittleEndian.Uint64(raw[8*k:]))
		case t.dataType == typeInt32:
			v[k] = int64(int32(binary.LittleEndian.Uint32(raw[4*k:])))
		case t.dataType == typeInt8:
			v[k] = int64(int8(raw[k]))
		default:
			v[k] = int64(raw[k])
		}
		if t.dataType == typeBool && v[k] != 0 {
			v[k] = 1
		}
	}
	return value{i: &ints{shape: shape, v: v, isBool: t.dataType == typeBool, dtype: t.dataType}}, nil
}
