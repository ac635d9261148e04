package nabla

import (
	"math"

	"github.com/nabla-go/nabla/internal/half"
	"github.com/nabla-go/nabla/internal/loops"
)

// This file holds the storage of the dtypes other than Float32 and Float64
// and the one place that switches on the storage element type.
//
// Float32 and Float64 tensors keep their values in the f32 and f64 fields,
// as they always have, so the float fast paths read them directly. Every
// other dtype keeps its slice in the field other: []int64 (Int64), []int32
// (Int32), []uint8 (Uint8, and Bool as 0 or 1) or []uint16 (the bit
// patterns of Float16 and BFloat16), boxed in an otherStorage. The box costs
// one allocation when such a storage is made, none when a view shares it,
// and keeps the Tensor header one pointer bigger: small enough that a
// one-element float32 tensor and its values fit the 160-byte size class
// (see small32), as they did before there were other dtypes. An interface
// would cost the same allocation but 16 bytes, and push every scalar op of
// eager code into the 192-byte class (W2 measured 20% more bytes).
type otherStorage struct {
	i64 []int64
	i32 []int32
	u8  []uint8
	u16 []uint16
}

// boxStorage boxes a storage slice of a non-float dtype for Tensor.other.
func boxStorage[T elem](s []T) *otherStorage {
	o := new(otherStorage)
	switch s := any(s).(type) {
	case []int64:
		o.i64 = s
	case []int32:
		o.i32 = s
	case []uint8:
		o.u8 = s
	case []uint16:
		o.u16 = s
	default:
		panic("nabla: boxStorage: a float storage")
	}
	return o
}

// elem is the storage element type of some dtype.
type elem = loops.Elem

// makeStorage returns a zeroed storage slice of n elements for the
// non-float dtype dt, boxed for Tensor.other.
func makeStorage(dt DType, n int) *otherStorage {
	switch dt {
	case Int64:
		return boxStorage(make([]int64, n))
	case Int32:
		return boxStorage(make([]int32, n))
	case Uint8, Bool:
		return boxStorage(make([]uint8, n))
	case Float16, BFloat16:
		return boxStorage(make([]uint16, n))
	}
	panic("nabla: makeStorage: " + dt.String())
}

// storage returns t's whole storage slice as []T, which must be the storage
// type of t's dtype.
func storage[T elem](t *Tensor) []T {
	switch any(*new(T)).(type) {
	case float32:
		return any(t.f32).([]T)
	case float64:
		return any(t.f64).([]T)
	case int64:
		return any(t.other.i64).([]T)
	case int32:
		return any(t.other.i32).([]T)
	case uint8:
		return any(t.other.u8).([]T)
	}
	return any(t.other.u16).([]T)
}

// byElem holds one instantiation of an op family (a generic function over
// the storage element type) per element type; of picks the one for a
// dtype. It is the dtype switch, written once: an op family is a generic
// function and a byElem table of its six instantiations.
type byElem[F any] struct{ f32, f64, i64, i32, u8, u16 F }

// of returns the instantiation for dtype dt.
func (b *byElem[F]) of(dt DType) F {
	switch dt {
	case Float32:
		return b.f32
	case Float64:
		return b.f64
	case Int64:
		return b.i64
	case Int32:
		return b.i32
	case Uint8, Bool:
		return b.u8
	}
	return b.u16
}

// byReal is byElem for the op families that do arithmetic: they run on
// every dtype but the half-precision ones, which compute in float32.
type byReal[F any] struct{ f32, f64, i64, i32, u8 F }

// of returns the instantiation for dtype dt, which must not be half.
func (b *byReal[F]) of(dt DType) F {
	switch dt {
	case Float32:
		return b.f32
	case Float64:
		return b.f64
	case Int64:
		return b.i64
	case Int32:
		return b.i32
	case Uint8, Bool:
		return b.u8
	}
	panic("nabla: internal error: " + dt.String() + " has no arithmetic loop")
}

// copyStrided copies t's strided view into the contiguous out.
func copyStrided[T elem](out, t *Tensor) {
	loops.Copy(storage[T](out), storage[T](t), t.offset, t.shape, t.strides)
}

var copyLoops = byElem[func(out, t *Tensor)]{copyStrided[float32], copyStrided[float64], copyStrided[int64], copyStrided[int32], copyStrided[uint8], copyStrided[uint16]}

// storeStrided copies (or adds, for the numeric dtypes) the contiguous src
// into the strided view (shape, strides at off) of dst.
func storeStrided[T elem](dst *Tensor, off int, shape, strides []int, src *Tensor) {
	loops.Store(storage[T](dst), off, shape, strides, storage[T](src)[src.offset:], false)
}

var storeLoops = byElem[func(dst *Tensor, off int, shape, strides []int, src *Tensor)]{storeStrided[float32], storeStrided[float64], storeStrided[int64], storeStrided[int32], storeStrided[uint8], storeStrided[uint16]}

// values returns the n contiguous elements of t from its offset as []T.
func values[T elem](t *Tensor) []T {
	return storage[T](t)[t.offset : t.offset+t.Len()]
}

// --- conversions ---

// Conversions between dtypes follow PyTorch: float to integer truncates
// toward zero; NaN, ±Inf and values out of the integer's range give the
// smallest value of Int64 or Int32 (what x86 hardware, and so PyTorch on
// x86, gives), and a Uint8 takes the low 8 bits of the Int64 conversion
// (so NaN gives 0); integers narrow by keeping their low bits; anything to
// Bool is x != 0 (NaN is true); Bool is 0 or 1; float64 to Float16 or
// BFloat16 goes through float32, as in PyTorch, and float32 to them rounds
// to nearest even.

// floatToInt truncates f toward zero into [lo, hi], or gives lo when f is
// NaN, infinite or out of that range.
func floatToInt(f float64, lo, hi int64) int64 {
	if !(f > float64(lo)-1 && f < float64(hi)+1) {
		return lo
	}
	return int64(f) // truncates; in range
}

// convertNum converts numeric values of any Real type to another.
func convertNum[D, S loops.Real](dst []D, src []S) {
	dst = dst[:len(src)]
	var s S
	switch any(s).(type) {
	case float32, float64:
		var d D
		switch any(d).(type) {
		case int64:
			for i, v := range src {
				dst[i] = D(floatToInt(float64(v), math.MinInt64, math.MaxInt64))
			}
			return
		case int32:
			for i, v := range src {
				dst[i] = D(floatToInt(float64(v), math.MinInt32, math.MaxInt32))
			}
			return
		case uint8:
			for i, v := range src {
				dst[i] = D(uint8(floatToInt(float64(v), math.MinInt64, math.MaxInt64)))
			}
			return
		}
	}
	for i, v := range src {
		dst[i] = D(v)
	}
}

// nonZero sets dst[i] to 1 where src[i] != 0: the conversion to Bool.
func nonZero[S loops.Real](dst []uint8, src []S) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = 0
		if v != 0 {
			dst[i] = 1
		}
	}
}

// convertFrom writes the numeric values src into the contiguous out, of any
// dtype but a half one.
func convertFrom[S loops.Real](out *Tensor, src []S) {
	switch out.dtype {
	case Float32:
		convertNum(out.f32, src)
	case Float64:
		convertNum(out.f64, src)
	case Int64:
		convertNum(storage[int64](out), src)
	case Int32:
		convertNum(storage[int32](out), src)
	case Uint8:
		convertNum(storage[uint8](out), src)
	case Bool:
		nonZero(storage[uint8](out), src)
	}
}

var convertLoops = byReal[func(out, src *Tensor)]{
	func(out, src *Tensor) { convertFrom(out, values[float32](src)) },
	func(out, src *Tensor) { convertFrom(out, values[float64](src)) },
	func(out, src *Tensor) { convertFrom(out, values[int64](src)) },
	func(out, src *Tensor) { convertFrom(out, values[int32](src)) },
	func(out, src *Tensor) { convertFrom(out, values[uint8](src)) },
}

// convert writes the contiguous src's values into out, a new contiguous
// tensor of the same shape and any dtype.
func convert(out, src *Tensor) {
	switch {
	case src.dtype.isHalf():
		w := widen(src)
		if out.dtype == Float32 {
			copy(out.f32, w)
			return
		}
		convert(out, &Tensor{dtype: Float32, f32: w, shape: src.shape, strides: src.strides})
	case out.dtype.isHalf():
		var w []float32
		if src.dtype == Float32 {
			w = values[float32](src)
		} else {
			w = make([]float32, src.Len()) // one rounding to float32, then one to half
			convertLoops.of(src.dtype)(&Tensor{dtype: Float32, f32: w}, src)
		}
		narrow(storage[uint16](out)[:len(w)], w, out.dtype)
	default:
		convertLoops.of(src.dtype)(out, src)
	}
}

// widen returns the values of the contiguous half tensor t as float32.
func widen(t *Tensor) []float32 {
	h := values[uint16](t)
	w := make([]float32, len(h))
	if t.dtype == Float16 {
		half.Float16ToFloat32(w, h)
	} else {
		half.BFloat16ToFloat32(w, h)
	}
	return w
}

// narrow rounds f into the bit patterns dst of the half dtype dt.
func narrow(dst []uint16, f []float32, dt DType) {
	if dt == Float16 {
		half.Float32ToFloat16(dst, f)
	} else {
		half.Float32ToBFloat16(dst, f)
	}
}

// floatKernel guards the ops that have only float32 and float64 kernels
// (MatMul, Softmax, LogSoftmax, LayerNorm, Conv2d, Unfold and the
// pools): for operands of dtype dt it
// reports whether the op must compute in float32 and round back (a half
// dtype), and panics with a *ValueError naming op for an integer or Bool
// dtype, which PyTorch's float kernels refuse too.
func floatKernel(op string, dt DType) bool {
	switch {
	case dt == Float32 || dt == Float64:
		return false
	case dt.isHalf():
		return true
	}
	panicValue(op, "not implemented for %v tensors; convert with .To(nabla.Float32)", dt)
	return false
}
