package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/nabla-go/nabla/internal/half"
)

// NumElements returns the number of elements t's shape describes (1 for a
// scalar), or an error if the shape has a negative dimension or overflows.
func (t Tensor) NumElements() (int, error) {
	size := t.DType.Size()
	if size == 0 {
		size = 1
	}
	return numElements(t.Shape, size)
}

// check validates t's dtype and data length before a conversion and returns
// its element count.
func (t Tensor) check() (int, error) {
	size := t.DType.Size()
	if size == 0 {
		return 0, fmt.Errorf("safetensors: tensor %q: unknown dtype %q", t.Name, t.DType)
	}
	n, err := numElements(t.Shape, size)
	if err != nil {
		return 0, fmt.Errorf("safetensors: tensor %q: %v", t.Name, err)
	}
	if len(t.Data) != n*size {
		return 0, fmt.Errorf("safetensors: tensor %q: data has %d bytes, but dtype %s and shape %v need %d",
			t.Name, len(t.Data), t.DType, t.Shape, n*size)
	}
	return n, nil
}

// float16 converts IEEE-754 half-precision bits to a float32 exactly.
func float16(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // infinity or NaN
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0: // signed zero
		return math.Float32frombits(sign)
	}
	// Subnormal half: mant * 2^-24, exactly representable as a float32.
	v := float32(mant) * (1.0 / (1 << 24))
	if sign != 0 {
		v = -v
	}
	return v
}

// float8e4m3 converts an F8_E4M3 (the "FN" variant: no infinities, NaN when
// all exponent and mantissa bits are set) byte to a float32.
func float8e4m3(b byte) float32 {
	exp := int(b>>3) & 0xf
	mant := float32(b & 7)
	var v float32
	switch {
	case exp == 0xf && b&7 == 7:
		v = float32(math.NaN())
	case exp == 0:
		v = mant / 8 * (1.0 / 64) // subnormal: mant/8 * 2^-6
	default:
		v = (1 + mant/8) * float32(math.Ldexp(1, exp-7))
	}
	if b&0x80 != 0 {
		v = -v
	}
	return v
}

// element returns element i of data, interpreted as dtype d, as a float64.
// d must be valid and data long enough.
func element(d DType, data []byte, i int) float64 {
	le := binary.LittleEndian
	switch d {
	case Bool, U8:
		return float64(data[i])
	case I8:
		return float64(int8(data[i]))
	case F8E5M2:
		return float64(float16(uint16(data[i]) << 8))
	case F8E4M3:
		return float64(float8e4m3(data[i]))
	case I16:
		return float64(int16(le.Uint16(data[2*i:])))
	case U16:
		return float64(le.Uint16(data[2*i:]))
	case F16:
		return float64(float16(le.Uint16(data[2*i:])))
	case BF16:
		return float64(math.Float32frombits(uint32(le.Uint16(data[2*i:])) << 16))
	case I32:
		return float64(int32(le.Uint32(data[4*i:])))
	case U32:
		return float64(le.Uint32(data[4*i:]))
	case F32:
		return float64(math.Float32frombits(le.Uint32(data[4*i:])))
	case F64:
		return math.Float64frombits(le.Uint64(data[8*i:]))
	case I64:
		return float64(int64(le.Uint64(data[8*i:])))
	case U64:
		return float64(le.Uint64(data[8*i:]))
	}
	panic("safetensors: element: invalid dtype " + string(d))
}

// Float32s returns t's elements as float32 values. Any dtype converts:
// floating-point values are widened or rounded to the nearest float32,
// integers converted (large 32- and 64-bit integers may lose precision),
// and BOOL gives 0 or 1. It fails if t's dtype is unknown or its data
// length does not match its dtype and shape.
func Float32s(t Tensor) ([]float32, error) {
	n, err := t.check()
	if err != nil {
		return nil, err
	}
	out := make([]float32, n)
	switch t.DType {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
		}
	case F16, BF16:
		// The vector conversions of internal/half (which, as x86 does,
		// return a signaling NaN quiet).
		bits := make([]uint16, n)
		for i := range bits {
			bits[i] = binary.LittleEndian.Uint16(t.Data[2*i:])
		}
		if t.DType == F16 {
			half.Float16ToFloat32(out, bits)
		} else {
			half.BFloat16ToFloat32(out, bits)
		}
	default:
		for i := range out {
			out[i] = float32(element(t.DType, t.Data, i))
		}
	}
	return out, nil
}

// Float64s returns t's elements as float64 values. Every dtype except I64
// and U64 converts exactly; 64-bit integers beyond 2^53 are rounded. It
// fails if t's dtype is unknown or its data length does not match its dtype
// and shape.
func Float64s(t Tensor) ([]float64, error) {
	n, err := t.check()
	if err != nil {
		return nil, err
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = element(t.DType, t.Data, i)
	}
	return out, nil
}

// Int64s returns the elements of an integer or BOOL tensor as int64
// values. It fails for floating-point dtypes, for U64 values above
// math.MaxInt64, and if t's data length does not match its dtype and shape.
func Int64s(t Tensor) ([]int64, error) {
	n, err := t.check()
	if err != nil {
		return nil, err
	}
	switch t.DType {
	case Bool, U8, I8, I16, U16, I32, U32, I64, U64:
	default:
		return nil, fmt.Errorf("safetensors: tensor %q: Int64s needs an integer dtype, not %s", t.Name, t.DType)
	}
	le := binary.LittleEndian
	out := make([]int64, n)
	for i := range out {
		switch t.DType {
		case Bool, U8:
			out[i] = int64(t.Data[i])
		case I8:
			out[i] = int64(int8(t.Data[i]))
		case I16:
			out[i] = int64(int16(le.Uint16(t.Data[2*i:])))
		case U16:
			out[i] = int64(le.Uint16(t.Data[2*i:]))
		case I32:
			out[i] = int64(int32(le.Uint32(t.Data[4*i:])))
		case U32:
			out[i] = int64(le.Uint32(t.Data[4*i:]))
		case I64:
			out[i] = int64(le.Uint64(t.Data[8*i:]))
		case U64:
			u := le.Uint64(t.Data[8*i:])
			if u > math.MaxInt64 {
				return nil, fmt.Errorf("safetensors: tensor %q: element %d (%d) overflows int64", t.Name, i, u)
			}
			out[i] = int64(u)
		}
	}
	return out, nil
}

// FromFloat32s returns an F32 tensor holding a copy of v with the given
// name and shape (copied too). The shape's element count should equal
// len(v); if it does not, [Encode] and the conversion functions report the
// mismatch.
func FromFloat32s(name string, shape []int, v []float32) Tensor {
	data := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(x))
	}
	return Tensor{Name: name, DType: F32, Shape: append([]int{}, shape...), Data: data}
}

// FromFloat64s returns an F64 tensor holding a copy of v with the given
// name and shape (copied too); see [FromFloat32s].
func FromFloat64s(name string, shape []int, v []float64) Tensor {
	data := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(data[8*i:], math.Float64bits(x))
	}
	return Tensor{Name: name, DType: F64, Shape: append([]int{}, shape...), Data: data}
}

// FromInt64s returns an I64 tensor holding a copy of v with the given name
// and shape (copied too); see [FromFloat32s].
func FromInt64s(name string, shape []int, v []int64) Tensor {
	data := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(data[8*i:], uint64(x))
	}
	return Tensor{Name: name, DType: I64, Shape: append([]int{}, shape...), Data: data}
}

// FromInt32s returns an I32 tensor holding a copy of v with the given name
// and shape (copied too); see [FromFloat32s].
func FromInt32s(name string, shape []int, v []int32) Tensor {
	data := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(data[4*i:], uint32(x))
	}
	return Tensor{Name: name, DType: I32, Shape: append([]int{}, shape...), Data: data}
}

// FromUint8s returns a U8 tensor holding a copy of v with the given name
// and shape (copied too); see [FromFloat32s].
func FromUint8s(name string, shape []int, v []uint8) Tensor {
	return Tensor{Name: name, DType: U8, Shape: append([]int{}, shape...), Data: append([]byte{}, v...)}
}

// FromBools returns a BOOL tensor holding v, one byte per element (1 for
// true, 0 for false, as PyTorch stores torch.bool), with the given name and
// shape (copied); see [FromFloat32s].
func FromBools(name string, shape []int, v []bool) Tensor {
	data := make([]byte, len(v))
	for i, b := range v {
		if b {
			data[i] = 1
		}
	}
	return Tensor{Name: name, DType: Bool, Shape: append([]int{}, shape...), Data: data}
}

// FromFloat16Bits returns an F16 tensor holding the IEEE-754 half-precision
// bit patterns v, stored as they are, with the given name and shape (copied
// too); see [FromFloat32s].
func FromFloat16Bits(name string, shape []int, v []uint16) Tensor {
	return from16(name, F16, shape, v)
}

// FromBFloat16Bits returns a BF16 tensor holding the bfloat16 bit patterns
// v (the top 16 bits of float32s), stored as they are, with the given name
// and shape (copied too); see [FromFloat32s].
func FromBFloat16Bits(name string, shape []int, v []uint16) Tensor {
	return from16(name, BF16, shape, v)
}

func from16(name string, d DType, shape []int, v []uint16) Tensor {
	data := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(data[2*i:], x)
	}
	return Tensor{Name: name, DType: d, Shape: append([]int{}, shape...), Data: data}
}

// Int32s returns the elements of an I32 tensor, or of a narrower integer
// or BOOL tensor (I16, U16, I8, U8, BOOL: widened exactly), as int32
// values. It fails for other dtypes (use [Int64s] for U32, I64 and U64) and
// if t's data length does not match its dtype and shape.
func Int32s(t Tensor) ([]int32, error) {
	switch t.DType {
	case Bool, U8, I8, I16, U16, I32:
	default:
		return nil, fmt.Errorf("safetensors: tensor %q: Int32s needs I32 or a narrower integer dtype, not %s", t.Name, t.DType)
	}
	v, err := Int64s(t)
	if err != nil {
		return nil, err
	}
	out := make([]int32, len(v))
	for i, x := range v {
		out[i] = int32(x) // exact: every accepted dtype fits
	}
	return out, nil
}

// Uint8s returns the bytes of a U8 or BOOL tensor (a copy). It fails for
// other dtypes and if t's data length does not match its shape.
func Uint8s(t Tensor) ([]uint8, error) {
	if t.DType != U8 && t.DType != Bool {
		return nil, fmt.Errorf("safetensors: tensor %q: Uint8s needs dtype U8 or BOOL, not %s", t.Name, t.DType)
	}
	if _, err := t.check(); err != nil {
		return nil, err
	}
	return append([]uint8{}, t.Data...), nil
}

// Bools returns the elements of a BOOL tensor. Each byte must be 0 or 1,
// the only values PyTorch writes; any other byte is an error naming the
// element, as are other dtypes and a data length that does not match the
// shape.
func Bools(t Tensor) ([]bool, error) {
	if t.DType != Bool {
		return nil, fmt.Errorf("safetensors: tensor %q: Bools needs dtype BOOL, not %s", t.Name, t.DType)
	}
	n, err := t.check()
	if err != nil {
		return nil, err
	}
	out := make([]bool, n)
	for i, b := range t.Data {
		if b > 1 {
			return nil, fmt.Errorf("safetensors: tensor %q: BOOL element %d is %d, not 0 or 1", t.Name, i, b)
		}
		out[i] = b == 1
	}
	return out, nil
}

// Float16Bits returns the bit patterns of an F16 tensor's elements,
// unconverted, so that a half-precision tensor can be loaded exactly. It
// fails for other dtypes and if t's data length does not match its shape.
func Float16Bits(t Tensor) ([]uint16, error) { return bits16(t, F16, "Float16Bits") }

// BFloat16Bits returns the bit patterns of a BF16 tensor's elements,
// unconverted; see [Float16Bits].
func BFloat16Bits(t Tensor) ([]uint16, error) { return bits16(t, BF16, "BFloat16Bits") }

func bits16(t Tensor, d DType, fn string) ([]uint16, error) {
	if t.DType != d {
		return nil, fmt.Errorf("safetensors: tensor %q: %s needs dtype %s, not %s", t.Name, fn, d, t.DType)
	}
	n, err := t.check()
	if err != nil {
		return nil, err
	}
	out := make([]uint16, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint16(t.Data[2*i:])
	}
	return out, nil
}
