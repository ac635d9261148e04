package nabla

// DType is the element type of a tensor. Float32 is the default; Float64 is
// used for gradient checks and wherever precision matters more than speed.
type DType uint8

const (
	// Float32 is IEEE-754 single precision, the default dtype.
	Float32 DType = iota
	// Float64 is IEEE-754 double precision.
	Float64
)

// String returns "float32" or "float64".
func (d DType) String() string {
	switch d {
	case Float32:
		return "float32"
	case Float64:
		return "float64"
	}
	return "invalid"
}

// Size returns the size of one element in bytes.
func (d DType) Size() int {
	if d == Float64 {
		return 8
	}
	return 4
}

// promote returns the dtype two operands are computed in, as PyTorch does:
// float64 wins.
func promote(a, b DType) DType {
	if a == Float64 || b == Float64 {
		return Float64
	}
	return Float32
}
