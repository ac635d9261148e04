package loops

import "github.com/nabla-go/nabla/internal/kernel"

// The float32 fast paths: contiguous float32 rows go to the vectorized
// kernels of internal/kernel. Each function reports whether it handled the
// op; float64 and the other ops stay with the generic loops.

// binaryFlatF32 is binaryFlat for float32 on the ops with a kernel.
func binaryFlatF32[T Real](op BinaryOp, dst, a, b []T) bool {
	d, ok := any(dst).([]float32)
	if !ok {
		return false
	}
	x, y := any(a).([]float32), any(b).([]float32)
	switch op {
	case Add:
		kernel.AddF32(d, x, y)
	case Sub:
		kernel.SubF32(d, x, y)
	case Mul:
		kernel.MulF32(d, x, y)
	case ReluGrad:
		kernel.ReluGradF32(d, x, y)
	case GeluGrad:
		kernel.GeluGradF32(d, x, y) // one pass: the derivative is not stored
	case GeluTanhGrad:
		geluTanhGradF32(d, x, y)
	default:
		return false
	}
	return true
}

// binaryScalarRightF32 is binaryScalarRight for float32 on the ops with a
// kernel. x - s is computed as x + (-s), which rounds identically.
func binaryScalarRightF32[T Real](op BinaryOp, dst, a []T, s T) bool {
	d, ok := any(dst).([]float32)
	if !ok {
		return false
	}
	x, c := any(a).([]float32), float32(s)
	switch op {
	case Add:
		kernel.AddConstF32(d, x, c)
	case Sub:
		kernel.AddConstF32(d, x, -c)
	case Mul:
		kernel.MulConstF32(d, x, c)
	default:
		return false
	}
	return true
}

// unaryF32 is Unary for float32 on the ops with a kernel. Exp, Sigmoid,
// Tanh, Log and Softplus are within one ulp of the generic loops (which round math's float64
// result), not always bit-identical to them.
func unaryF32[T Real](op UnaryOp, dst, src []T, p float64) bool {
	d, ok := any(dst).([]float32)
	if !ok {
		return false
	}
	x := any(src).([]float32)
	switch op {
	case Relu:
		kernel.ReluF32(d, x)
	case Scale:
		kernel.MulConstF32(d, x, float32(p))
	case Shift:
		kernel.AddConstF32(d, x, float32(p))
	case Exp:
		kernel.ExpF32(d, x)
	case Sigmoid:
		kernel.SigmoidF32(d, x)
	case Tanh:
		kernel.TanhF32(d, x)
	case Log:
		kernel.LogF32(d, x)
	case Softplus:
		kernel.SoftplusF32(d, x)
	case Gelu:
		kernel.GeluF32(d, x)
	case GeluDeriv:
		kernel.GeluDerivF32(d, x)
	case GeluTanh:
		geluTanhF32(d, x)
	default:
		return false
	}
	return true
}

// reduceRowF32 is reduceRow for float32 on the ops with a kernel. Sums
// accumulate in float64 (sumRowF32), as the generic loop does.
func reduceRowF32[T Real](op ReduceOp, s []T) (T, bool) {
	x, ok := any(s).([]float32)
	if !ok {
		return 0, false
	}
	switch op {
	case Sum:
		return T(sumRowF32(x)), true
	case Max:
		return T(kernel.MaxF32(x)), true
	}
	return 0, false
}

// sum64F32 is sum64 for float32, through the kernel that reduceRowF32
// uses, so that the pieces of a row split along R sum as whole rows do.
func sum64F32[T Real](s []T) (float64, bool) {
	x, ok := any(s).([]float32)
	if !ok {
		return 0, false
	}
	return sumRowF32(x), true
}

// addRowF32 sets d[i] += s[i] for float32 and reports whether it did.
func addRowF32[T Real](d, s []T) bool {
	x, ok := any(d).([]float32)
	if !ok {
		return false
	}
	kernel.AddF32(x, x, any(s).([]float32))
	return true
}
