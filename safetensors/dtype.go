package safetensors

// DType is the element type of a tensor, spelled as in the file header,
// e.g. "F32".
type DType string

// The element types of the safetensors format.
const (
	Bool   DType = "BOOL"    // one byte per element, 0 or 1
	U8     DType = "U8"      // unsigned 8-bit integer
	I8     DType = "I8"      // signed 8-bit integer
	F8E5M2 DType = "F8_E5M2" // 8-bit float: 1 sign, 5 exponent, 2 mantissa bits
	F8E4M3 DType = "F8_E4M3" // 8-bit float: 1 sign, 4 exponent, 3 mantissa bits, no infinities
	I16    DType = "I16"     // signed 16-bit integer
	U16    DType = "U16"     // unsigned 16-bit integer
	F16    DType = "F16"     // IEEE-754 half precision
	BF16   DType = "BF16"    // bfloat16: the top 16 bits of a float32
	I32    DType = "I32"     // signed 32-bit integer
	U32    DType = "U32"     // unsigned 32-bit integer
	F32    DType = "F32"     // IEEE-754 single precision
	F64    DType = "F64"     // IEEE-754 double precision
	I64    DType = "I64"     // signed 64-bit integer
	U64    DType = "U64"     // unsigned 64-bit integer
)

// Size returns the size of one element in bytes, or 0 if d is not a
// dtype this package knows.
func (d DType) Size() int {
	switch d {
	case Bool, U8, I8, F8E5M2, F8E4M3:
		return 1
	case I16, U16, F16, BF16:
		return 2
	case I32, U32, F32:
		return 4
	case F64, I64, U64:
		return 8
	}
	return 0
}

// Valid reports whether d is a dtype this package knows.
func (d DType) Valid() bool { return d.Size() != 0 }

// writeOrder lists the dtypes in the order of the reference implementation's
// Dtype enum, which sorts by increasing alignment (element size). Encode
// stores tensors by descending position in this list, then by name, as the
// reference writer does, so that equal inputs give equal bytes; sorting by
// size alone would order an I32 before an F32 of the same size.
var writeOrder = [...]DType{Bool, U8, I8, F8E5M2, F8E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64}

// rank returns d's position in writeOrder, or -1 if d is unknown.
func (d DType) rank() int {
	for i, x := range writeOrder {
		if x == d {
			return i
		}
	}
	return -1
}
