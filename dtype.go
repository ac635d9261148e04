package nabla

// DType is the element type of a tensor. Float32 is the default; Float64 is
// used for gradient checks and wherever precision matters more than speed.
// Int64 is the default integer dtype (labels, indices, ArgMax), as in
// PyTorch; Bool holds masks and the results of comparisons. Float16 and
// BFloat16 are storage formats: arithmetic on them computes in float32 and
// rounds the result back.
type DType uint8

// The dtypes. Float32 is the zero value.
const (
	// Float32 is IEEE-754 single precision, the default dtype.
	Float32 DType = iota
	// Float64 is IEEE-754 double precision.
	Float64
	// Int64 is a signed 64-bit integer, the default integer dtype.
	Int64
	// Int32 is a signed 32-bit integer.
	Int32
	// Uint8 is an unsigned 8-bit integer.
	Uint8
	// Bool holds true or false, one byte an element (0 or 1).
	Bool
	// Float16 is IEEE-754 half precision (binary16), stored in 2 bytes.
	Float16
	// BFloat16 is bfloat16 (the upper half of a float32), stored in 2 bytes.
	BFloat16

	numDTypes
)

// invalidDType marks "no dtype yet" in the type promotion.
const invalidDType DType = 255

var dtypeNames = [numDTypes]string{"float32", "float64", "int64", "int32", "uint8", "bool", "float16", "bfloat16"}

var dtypeSizes = [numDTypes]int{4, 8, 8, 4, 1, 1, 2, 2}

// String returns the dtype's name as PyTorch spells it without "torch.":
// "float32", "float64", "int64", "int32", "uint8", "bool", "float16",
// "bfloat16".
func (d DType) String() string {
	if d < numDTypes {
		return dtypeNames[d]
	}
	return "invalid"
}

// Size returns the size of one element in bytes.
func (d DType) Size() int {
	if d < numDTypes {
		return dtypeSizes[d]
	}
	return 0
}

// IsFloat reports whether d is a floating-point dtype (Float32, Float64,
// Float16 or BFloat16): the dtypes that can require gradients.
func (d DType) IsFloat() bool {
	return d == Float32 || d == Float64 || d == Float16 || d == BFloat16
}

// IsInt reports whether d is an integer dtype (Int64, Int32 or Uint8; Bool
// is not).
func (d DType) IsInt() bool { return d == Int64 || d == Int32 || d == Uint8 }

// isHalf reports whether d is a 2-byte float, computed in float32.
func (d DType) isHalf() bool { return d == Float16 || d == BFloat16 }

// promote returns the dtype two tensors of dtypes a and b are computed in
// when both count fully (torch.promote_types): bool < integers < floats;
// among integers the wider one (uint8 and int32 give int32); among floats
// the wider one, with float16 and bfloat16 giving float32; an integer with
// a float gives the float.
func promote(a, b DType) DType {
	switch {
	case a == b || b == invalidDType:
		return a
	case a == invalidDType:
		return b
	case a == Bool:
		return b
	case b == Bool:
		return a
	case a.IsFloat() && b.IsFloat():
		if a == Float64 || b == Float64 {
			return Float64
		}
		return Float32 // float16 with bfloat16, or either with float32
	case a.IsFloat():
		return a
	case b.IsFloat():
		return b
	}
	// Two different integer dtypes: the wider one.
	if a == Int64 || b == Int64 {
		return Int64
	}
	return Int32
}

// resultType returns the dtype of a binary op on a and b, following
// PyTorch 1.13's result_type: tensors with at least one dimension decide the
// dtype; 0-d tensors (nabla's Scalar, ScalarInt, ScalarBool) count only when
// they are of a higher category (bool < integer < float) than every
// dimensioned operand, or when there is none. So an Int32 tensor plus
// ScalarInt(1) stays Int32, a Float32 tensor plus a 0-d Float64 stays
// Float32, and an Int64 tensor plus Scalar(0.5) is Float32.
func resultType(a, b *Tensor) DType {
	dim, zero := invalidDType, invalidDType
	for _, t := range [2]*Tensor{a, b} {
		if len(t.shape) > 0 {
			dim = promote(dim, t.dtype)
		} else {
			zero = promote(zero, t.dtype)
		}
	}
	return combineCategories(dim, zero)
}

// combineCategories is c10's combine_categories: the dtype of higher (the
// dimensioned operands) unless lower (0-d tensors or wrapped numbers) is of
// a higher category.
func combineCategories(higher, lower DType) DType {
	switch {
	case higher == invalidDType:
		return lower
	case higher.IsFloat():
		return higher
	case higher == Bool || lower != invalidDType && lower.IsFloat():
		return promote(higher, lower)
	}
	return higher
}

// wrappedFloat is the dtype a Go float constant of a scalar method
// (AddScalar, MulScalar, ...) takes, as a Python float does in PyTorch:
// the default dtype.
const wrappedFloat = Float32
