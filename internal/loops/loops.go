// Package loops holds the element-wise, broadcasting and reduction loops of
// nabla's tensors, written on raw slices with strides. It knows nothing of
// autograd; the root package chooses the loop and the fast path.
package loops

import (
	"math"
	"runtime"

	"github.com/nabla-go/nabla/internal/kernel"
)

// Float is the element type of a float tensor's storage, which the math
// loops (softmax, convolution, layer norm) run on.
type Float interface{ ~float32 | ~float64 }

// Real is the element type of the storage of every dtype that arithmetic
// runs on: the floats and the integers (Bool is stored as uint8 0 or 1).
// Half-precision tensors are widened to float32 first.
type Real interface {
	~float32 | ~float64 | ~int64 | ~int32 | ~uint8
}

// Elem is any storage element type: Real, and uint16 for the bit patterns
// of Float16 and BFloat16. The loops that only move elements take it.
type Elem interface {
	~float32 | ~float64 | ~int64 | ~int32 | ~uint8 | ~uint16
}

// isInt reports whether T is an integer type (the storage of Int64, Int32,
// Uint8 and Bool).
func isInt[T Real]() bool {
	switch any(*new(T)).(type) {
	case int64, int32, uint8:
		return true
	}
	return false
}

// Copy copies the strided view of src starting at off with the given shape
// and strides into dst, which is contiguous and holds exactly the view's
// elements.
func Copy[T Elem](dst, src []T, off int, shape, strides []int) {
	if len(shape) == 0 {
		dst[0] = src[off]
		return
	}
	if copyTransposed(dst, src, off, shape, strides) {
		return
	}
	Each(shape, func(di, n int, offs [3]int) {
		s := strides[len(strides)-1]
		si := offs[0]
		d := dst[di : di+n]
		if s == 1 {
			copy(d, src[si:si+n])
			return
		}
		for i := range d {
			d[i] = src[si]
			si += s
		}
	}, [3]int{off}, [3][]int{strides})
}

// Each walks the row-major index space of shape one innermost row at a time.
// For each row it calls row with the flat index of the row's first element
// in a contiguous array of that shape, the row length, and the starting
// offsets of up to three strided operands (their base offsets advanced along
// their strides). shape must have rank at least 1.
func Each(shape []int, row func(di, n int, offs [3]int), base [3]int, strides [3][]int) {
	r := len(shape)
	n := shape[r-1]
	total := 1
	for _, d := range shape {
		total *= d
	}
	if total == 0 {
		return
	}
	if r == 1 {
		row(0, n, base)
		return
	}
	var buf [8]int // no allocation for ranks up to 9
	var idx []int
	if r-1 <= len(buf) {
		idx = buf[:r-1]
	} else {
		idx = make([]int, r-1)
	}
	offs := base
	for di := 0; di < total; di += n {
		row(di, n, offs)
		// advance the multi-index over the outer dims
		for ax := r - 2; ax >= 0; ax-- {
			idx[ax]++
			for k := 0; k < 3; k++ {
				if strides[k] != nil {
					offs[k] += strides[k][ax]
				}
			}
			if idx[ax] < shape[ax] {
				break
			}
			for k := 0; k < 3; k++ {
				if strides[k] != nil {
					offs[k] -= strides[k][ax] * shape[ax]
				}
			}
			idx[ax] = 0
		}
	}
}

// UnaryOp names an element-wise function of one argument.
type UnaryOp uint8

// The unary ops. P is the op's parameter where it has one.
const (
	Neg       UnaryOp = iota
	Recip             // 1/x
	Exp               // e^x
	Log               // natural log
	Sin               // sine
	Cos               // cosine
	Tanh              // hyperbolic tangent
	Sigmoid           // 1/(1+e^-x)
	Relu              // max(x, 0); NaN stays NaN
	Sqrt              // square root
	Abs               // |x|
	Sign              // -1, 0 or 1
	Erf               // error function
	Softplus          // log(1+e^x), computed stably
	LeakyRelu         // x if x > 0 else P*x
	LeakyStep         // 1 if x > 0 else P: the derivative of LeakyRelu (and of Relu with P = 0)
	PowConst          // x^P
	Square            // x*x
	Scale             // x*P
	Shift             // x+P
	Gelu              // x·Φ(x), Φ the standard normal CDF
	GeluDeriv         // Φ(x) + x·φ(x), the derivative of Gelu
	GeluTanh          // x/2·(1+tanh(√(2/π)(x+0.044715x³))), GPT-2's gelu_new
)

// elemGrain is the least number of elements an element-wise loop hands to
// each goroutine: about 10–50 µs of work, against about a microsecond to
// hand it to a polling worker.
const elemGrain = 1 << 15

// eachRows calls f on ranges of the m rows of d elements: all at once on
// the calling goroutine, or split between the workers when there are at
// least 2·elemGrain elements (see elemParts).
func eachRows(m, d int, f func(lo, hi int)) {
	if m*d < 2*elemGrain || runtime.GOMAXPROCS(0) == 1 {
		f(0, m)
		return
	}
	kernel.ParallelParts(m, elemParts(m*d), f)
}

// elemParts is the number of parts an element-wise loop over n elements
// is cut into: up to kernel.ChunksPerCore per core, each of at least
// elemGrain elements. The parts are claimed by whichever goroutine is
// free, so a worker that another process slows down takes fewer of them;
// with one part per core the caller waited for the slow worker's whole
// half. The parts depend on n and GOMAXPROCS only, so the results do not
// depend on which goroutine runs which part.
func elemParts(n int) int {
	return min(kernel.ChunksPerCore*runtime.GOMAXPROCS(0), n/elemGrain)
}

// Unary sets dst[i] = op(src[i]) with parameter p. dst may alias src. Long
// slices are split between the kernel's worker goroutines.
func Unary[T Real](op UnaryOp, dst, src []T, p float64) {
	src = src[:len(dst)]
	if len(dst) >= 2*elemGrain && runtime.GOMAXPROCS(0) > 1 {
		// Captured copies: src itself is reassigned above, and a captured
		// variable that is reassigned would move to the heap on every call.
		d, s := dst, src
		kernel.ParallelFor(len(d), elemGrain, func(lo, hi int) {
			unary(op, d[lo:hi], s[lo:hi], p)
		})
		return
	}
	unary(op, dst, src, p)
}

func unary[T Real](op UnaryOp, dst, src []T, p float64) {
	if unaryF32(op, dst, src, p) {
		return
	}
	switch op {
	case Neg:
		for i, v := range src {
			dst[i] = -v
		}
	case Recip:
		for i, v := range src {
			dst[i] = 1 / v
		}
	case Exp:
		for i, v := range src {
			dst[i] = T(math.Exp(float64(v)))
		}
	case Log:
		for i, v := range src {
			dst[i] = T(math.Log(float64(v)))
		}
	case Sin:
		for i, v := range src {
			dst[i] = T(math.Sin(float64(v)))
		}
	case Cos:
		for i, v := range src {
			dst[i] = T(math.Cos(float64(v)))
		}
	case Tanh:
		for i, v := range src {
			dst[i] = T(math.Tanh(float64(v)))
		}
	case Sigmoid:
		for i, v := range src {
			x := float64(v)
			if x >= 0 {
				dst[i] = T(1 / (1 + math.Exp(-x)))
			} else {
				e := math.Exp(x)
				dst[i] = T(e / (1 + e))
			}
		}
	case Relu:
		for i, v := range src {
			if v < 0 {
				v = 0
			}
			dst[i] = v
		}
	case Sqrt:
		for i, v := range src {
			dst[i] = T(math.Sqrt(float64(v)))
		}
	case Abs:
		if isInt[T]() {
			for i, v := range src {
				if v < 0 {
					v = -v // exact, unlike the float64 round trip
				}
				dst[i] = v
			}
			break
		}
		for i, v := range src {
			dst[i] = T(math.Abs(float64(v)))
		}
	case Sign:
		var zero T
		for i, v := range src {
			switch {
			case v > 0:
				dst[i] = 1
			case v < 0:
				dst[i] = zero - 1
			default:
				dst[i] = v * 0 // keeps NaN
			}
		}
	case Erf:
		for i, v := range src {
			dst[i] = T(math.Erf(float64(v)))
		}
	case Gelu:
		for i, v := range src {
			dst[i] = T(gelu(float64(v)))
		}
	case GeluDeriv:
		for i, v := range src {
			dst[i] = T(geluDeriv(float64(v)))
		}
	case GeluTanh:
		for i, v := range src {
			dst[i] = T(geluTanh(float64(v)))
		}
	case Softplus:
		for i, v := range src {
			x := float64(v)
			dst[i] = T(math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))))
		}
	case LeakyRelu:
		a := T(p)
		for i, v := range src {
			if v > 0 {
				dst[i] = v
			} else {
				dst[i] = a * v
			}
		}
	case LeakyStep:
		a := T(p)
		for i, v := range src {
			if v > 0 {
				dst[i] = 1
			} else {
				dst[i] = a
			}
		}
	case PowConst:
		switch p {
		case 2:
			for i, v := range src {
				dst[i] = v * v
			}
		case 0.5:
			for i, v := range src {
				dst[i] = T(math.Sqrt(float64(v)))
			}
		case -1:
			for i, v := range src {
				dst[i] = 1 / v
			}
		default:
			for i, v := range src {
				dst[i] = T(math.Pow(float64(v), p))
			}
		}
	case Square:
		for i, v := range src {
			dst[i] = v * v
		}
	case Scale:
		a := T(p)
		for i, v := range src {
			dst[i] = v * a
		}
	case Shift:
		a := T(p)
		for i, v := range src {
			dst[i] = v + a
		}
	default:
		panic("loops: unknown unary op")
	}
}

// BinaryOp names an element-wise function of two arguments.
type BinaryOp uint8

// The binary ops. Comparisons give 1 for true and 0 for false.
const (
	Add BinaryOp = iota
	Sub
	Mul
	Div
	Maximum
	Minimum
	Pow
	Equal
	NotEqual
	Less
	LessEqual
	Greater
	GreaterEqual
	GeluGrad    // x·GeluDeriv(y): the gradient x of gelu's input y
	TanhGrad    // x*(1-y²): the gradient x of tanh's output y
	SigmoidGrad // x*y*(1-y): the gradient x of sigmoid's output y
	ReluGrad    // x where y > 0, else 0: the gradient x of relu's input y
	FloorDiv    // floor(x/y), as torch.floor_divide (integers: y != 0, checked by the caller)
	Remainder   // x - floor(x/y)*y, the sign of y, as torch.remainder
	Fmod        // x - trunc(x/y)*y, the sign of x, as torch.fmod
	LogicalAnd  // 1 if x != 0 and y != 0, else 0
	LogicalOr   // 1 if x != 0 or y != 0, else 0
	LogicalXor  // 1 if exactly one of x and y is non-zero, else 0

	GeluTanhGrad // x·GeluTanh'(y): the gradient x of gelu_tanh's input y
)

// binaryRow computes n elements of dst from a (start ai, stride sa) and b
// (start bi, stride sb).
func binaryRow[T Real](op BinaryOp, dst []T, a []T, ai, sa int, b []T, bi, sb int) {
	n := len(dst)
	if sa == 1 && sb == 1 {
		binaryFlat(op, dst, a[ai:ai+n], b[bi:bi+n])
		return
	}
	if sa == 1 && sb == 0 {
		binaryScalarRight(op, dst, a[ai:ai+n], b[bi])
		return
	}
	if sa == 0 && sb == 1 && (op == Add || op == Mul) {
		// Commutative: s op b = b op s (a broadcast row or scalar times a
		// contiguous row, as in the gradient of a reduction).
		binaryScalarRight(op, dst, b[bi:bi+n], a[ai])
		return
	}
	for i := range dst {
		dst[i] = binaryOne(op, a[ai], b[bi])
		ai += sa
		bi += sb
	}
}

func binaryOne[T Real](op BinaryOp, x, y T) T {
	switch op {
	case Add:
		return x + y
	case Sub:
		return x - y
	case Mul:
		return x * y
	case Div:
		return x / y
	case Maximum:
		if x >= y || x != x {
			return x
		}
		return y
	case Minimum:
		if x <= y || x != x {
			return x
		}
		return y
	case Pow:
		if isInt[T]() {
			return T(powInt(int64(x), int64(y)))
		}
		return T(math.Pow(float64(x), float64(y)))
	case FloorDiv:
		if isInt[T]() {
			return T(floorDivInt(int64(x), int64(y)))
		}
		return T(floorDivFloat(float64(x), float64(y)))
	case Remainder:
		if isInt[T]() {
			return T(remInt(int64(x), int64(y)))
		}
		return T(remFloat(float64(x), float64(y)))
	case Fmod:
		if isInt[T]() {
			return T(int64(x) % int64(y))
		}
		return T(math.Mod(float64(x), float64(y)))
	case LogicalAnd:
		return b2f[T](x != 0 && y != 0)
	case LogicalOr:
		return b2f[T](x != 0 || y != 0)
	case LogicalXor:
		return b2f[T]((x != 0) != (y != 0))
	case Equal:
		return b2f[T](x == y)
	case NotEqual:
		return b2f[T](x != y)
	case Less:
		return b2f[T](x < y)
	case LessEqual:
		return b2f[T](x <= y)
	case Greater:
		return b2f[T](x > y)
	case GreaterEqual:
		return b2f[T](x >= y)
	case TanhGrad:
		return x * (1 - y*y)
	case GeluGrad:
		return x * T(geluDeriv(float64(y)))
	case GeluTanhGrad:
		return x * T(geluTanhDeriv(float64(y)))
	case SigmoidGrad:
		return x * y * (1 - y)
	case ReluGrad:
		if y > 0 {
			return x
		}
		return 0
	}
	panic("loops: unknown binary op")
}

func b2f[T Real](b bool) T {
	if b {
		return 1
	}
	return 0
}

// binaryFlat is the contiguous, same-shape fast path.
func binaryFlat[T Real](op BinaryOp, dst, a, b []T) {
	a = a[:len(dst)]
	b = b[:len(dst)]
	if binaryFlatF32(op, dst, a, b) {
		return
	}
	switch op {
	case Add:
		for i := range dst {
			dst[i] = a[i] + b[i]
		}
	case Sub:
		for i := range dst {
			dst[i] = a[i] - b[i]
		}
	case Mul:
		for i := range dst {
			dst[i] = a[i] * b[i]
		}
	case Div:
		for i := range dst {
			dst[i] = a[i] / b[i]
		}
	case ReluGrad:
		for i := range dst {
			if b[i] > 0 {
				dst[i] = a[i]
			} else {
				dst[i] = 0
			}
		}
	case TanhGrad:
		for i := range dst {
			dst[i] = a[i] * (1 - b[i]*b[i])
		}
	case SigmoidGrad:
		for i := range dst {
			dst[i] = a[i] * b[i] * (1 - b[i])
		}
	default:
		for i := range dst {
			dst[i] = binaryOne(op, a[i], b[i])
		}
	}
}

func binaryScalarRight[T Real](op BinaryOp, dst, a []T, s T) {
	a = a[:len(dst)]
	if binaryScalarRightF32(op, dst, a, s) {
		return
	}
	switch op {
	case Add:
		for i := range dst {
			dst[i] = a[i] + s
		}
	case Sub:
		for i := range dst {
			dst[i] = a[i] - s
		}
	case Mul:
		for i := range dst {
			dst[i] = a[i] * s
		}
	case Div:
		for i := range dst {
			dst[i] = a[i] / s
		}
	default:
		for i := range dst {
			dst[i] = binaryOne(op, a[i], s)
		}
	}
}

// Binary sets dst = op(a, b) over shape, where dst is contiguous and a and b
// are strided views (stride 0 on broadcast dimensions). A rank-0 shape is a
// single element.
func Binary[T Real](op BinaryOp, dst []T, shape []int, a []T, aOff int, aStr []int, b []T, bOff int, bStr []int) {
	if len(shape) == 0 {
		dst[0] = binaryOne(op, a[aOff], b[bOff])
		return
	}
	if len(shape) > maxParallelRank {
		binary(op, dst, shape, a, aOff, aStr, b, bOff, bStr)
		return
	}
	// The shape and strides go by value: were the slices captured by the
	// closures, every caller's slices would move to the heap.
	var sh, as, bs [maxParallelRank]int
	rank := coalesceDims(shape, aStr, bStr, &sh, &as, &bs)
	if len(dst) >= 2*elemGrain && runtime.GOMAXPROCS(0) > 1 {
		binaryParallel(op, dst, rank, sh, a, aOff, as, b, bOff, bs)
		return
	}
	binary(op, dst, sh[:rank], a, aOff, as[:rank], b, bOff, bs[:rank])
}

// coalesceDims copies shape and the strides into sh, as and bs with
// adjacent dimensions merged where both operands step through them as
// through one (stride[i] == stride[i+1]·shape[i+1]; the contiguous dst
// always does) and dimensions of length 1 dropped, and returns the rank
// left (at least 1). A broadcast over an image's rows and columns, as
// (N, C, H, W) times (1, C, 1, 1), then runs rows of H·W elements instead
// of W: the rows of a 56×56 image went to the kernels 56 elements at a
// time.
func coalesceDims(shape, aStr, bStr []int, sh, as, bs *[maxParallelRank]int) int {
	r := 0
	for i, d := range shape {
		if d == 1 && len(shape) > 1 {
			continue
		}
		if r > 0 && as[r-1] == aStr[i]*d && bs[r-1] == bStr[i]*d {
			sh[r-1] *= d
			as[r-1], bs[r-1] = aStr[i], bStr[i]
			continue
		}
		sh[r], as[r], bs[r] = d, aStr[i], bStr[i]
		r++
	}
	if r == 0 { // every dimension of length 1
		sh[0], as[0], bs[0] = 1, 0, 0
		r = 1
	}
	return r
}

// maxParallelRank is the largest rank Binary splits between goroutines.
const maxParallelRank = 8

// binaryParallel is Binary split along its outer axis between the kernel's
// workers: ranges of whole rows (or of elements, for rank 1).
func binaryParallel[T Real](op BinaryOp, dst []T, rank int, shape [maxParallelRank]int, a []T, aOff int, aStr [maxParallelRank]int, b []T, bOff int, bStr [maxParallelRank]int) {
	rows := shape[0]
	inner := len(dst) / rows
	kernel.ParallelParts(rows, elemParts(len(dst)), func(lo, hi int) {
		sh := shape
		sh[0] = hi - lo
		binary(op, dst[lo*inner:hi*inner], sh[:rank], a, aOff+lo*aStr[0], aStr[:rank], b, bOff+lo*bStr[0], bStr[:rank])
	})
}

// binary is Binary on the calling goroutine.
func binary[T Real](op BinaryOp, dst []T, shape []int, a []T, aOff int, aStr []int, b []T, bOff int, bStr []int) {
	r := len(shape) - 1
	sa, sb := aStr[r], bStr[r]
	Each(shape, func(di, n int, offs [3]int) {
		binaryRow(op, dst[di:di+n], a, offs[0], sa, b, offs[1], sb)
	}, [3]int{aOff, bOff}, [3][]int{aStr, bStr})
}

// Where sets dst[i] = a[i] if cond[i] != 0 else b[i], over shape, with all
// three inputs strided views.
func Where[T Elem](dst []T, shape []int, c []uint8, cOff int, cStr []int, a []T, aOff int, aStr []int, b []T, bOff int, bStr []int) {
	if len(shape) == 0 {
		if c[cOff] != 0 {
			dst[0] = a[aOff]
		} else {
			dst[0] = b[bOff]
		}
		return
	}
	r := len(shape) - 1
	sc, sa, sb := cStr[r], aStr[r], bStr[r]
	Each(shape, func(di, n int, offs [3]int) {
		ci, ai, bi := offs[0], offs[1], offs[2]
		for i := di; i < di+n; i++ {
			if c[ci] != 0 {
				dst[i] = a[ai]
			} else {
				dst[i] = b[bi]
			}
			ci += sc
			ai += sa
			bi += sb
		}
	}, [3]int{cOff, aOff, bOff}, [3][]int{cStr, aStr, bStr})
}

// ReduceOp names a reduction.
type ReduceOp uint8

// The reductions. ArgMax and ArgMin give the index of the first extreme value.
const (
	Sum ReduceOp = iota
	Max
	Min
	ArgMax
	ArgMin
)

// Reduce reduces the middle axis of a contiguous array of shape (A, R, B):
// dst[a*B+b] = op over r of src[(a*R+r)*B+b]. R must be at least 1 for Max,
// Min, ArgMax and ArgMin. NaN wins Max and Min, as in PyTorch; ArgMax and
// ArgMin give the index of the first extreme value, or of the first NaN.
//
// Large reductions (at least 2*elemGrain elements) are split between the
// kernel's worker goroutines when more than one core is used, in ways
// that give exactly the serial result (see reduceParallel and
// reduceValuesParallel), so the results are bit-identical whatever
// runtime.GOMAXPROCS is. A long float32 row is summed in blocks of
// sumBlock elements, each in float64, whose sums are then added in order,
// serially or not.
func Reduce[T Real](op ReduceOp, dst, src []T, A, R, B int) {
	if n := A * R * B; n >= 2*elemGrain && runtime.GOMAXPROCS(0) > 1 {
		if op == ArgMax || op == ArgMin {
			if parts := min(runtime.GOMAXPROCS(0), n/elemGrain); parts > 1 {
				reduceParallel(op, dst, src, A, R, B, parts)
				return
			}
		} else if reduceValuesParallel(op, dst, src, A, R, B, elemParts(n)) {
			return
		}
	}
	reduce(op, dst, src, A, R, B)
}

// reduce is Reduce on the calling goroutine.
func reduce[T Real](op ReduceOp, dst, src []T, A, R, B int) {
	if B == 1 {
		for a := 0; a < A; a++ {
			dst[a] = reduceRow(op, src[a*R:a*R+R])
		}
		return
	}
	reduceCols(op, dst, src, A, R, B, B)
}

// reduceCols is reduce for B > 1 on B of the columns of an array whose rows
// are ld elements apart: dst[a*ld+b] = op over r of src[(a*R+r)*ld+b] for b
// < B. With ld > B it reduces a range of columns, which is how
// reduceParallel splits the columns; each element sees the same operations
// in the same order whatever the range.
func reduceCols[T Real](op ReduceOp, dst, src []T, A, R, B, ld int) {
	var best []T
	if op == ArgMax || op == ArgMin {
		best = make([]T, B)
	}
	for a := 0; a < A; a++ {
		d := dst[a*ld : a*ld+B]
		base := a * R * ld
		switch op {
		case Sum:
			for i := range d {
				d[i] = 0
			}
			for r := 0; r < R; r++ {
				s := src[base+r*ld : base+r*ld+B]
				if addRowF32(d, s) {
					continue
				}
				for i := range d {
					d[i] += s[i]
				}
			}
		case Max, Min:
			copy(d, src[base:base+B])
			for r := 1; r < R; r++ {
				foldExtremes(op == Max, d, nil, src[base+r*ld:base+r*ld+B], 0)
			}
		case ArgMax, ArgMin:
			copy(best, src[base:base+B])
			for i := range d {
				d[i] = 0
			}
			for r := 1; r < R; r++ {
				foldExtremes(op == ArgMax, best, d, src[base+r*ld:base+r*ld+B], T(r))
			}
		}
	}
}

// better reports whether v beats the current extreme cur: strictly greater
// (or smaller), or NaN where cur is not.
func better[T Real](max bool, v, cur T) bool {
	if v != v {
		return cur == cur
	}
	if max {
		return v > cur
	}
	return v < cur
}

func reduceRow[T Real](op ReduceOp, s []T) T {
	if v, ok := reduceRowF32(op, s); ok {
		return v
	}
	switch op {
	case Sum:
		if isInt[T]() {
			var acc T
			for _, v := range s {
				acc += v // exact (wrapping), unlike a float64 sum
			}
			return acc
		}
		return T(sum64(s))
	case Max, Min:
		m := s[0]
		for _, v := range s[1:] {
			if better(op == Max, v, m) {
				m = v
			}
		}
		return m
	default:
		return T(argRow(op == ArgMax, s))
	}
}

// sum64 returns the sum of s accumulated in float64: float32 sums of long
// rows would otherwise lose digits. The generic loop keeps four partial
// sums, which break the dependency chain of the adds.
func sum64[T Real](s []T) float64 {
	if v, ok := sum64F32(s); ok {
		return v
	}
	var a0, a1, a2, a3 float64
	i := 0
	for ; i+4 <= len(s); i += 4 {
		a0 += float64(s[i])
		a1 += float64(s[i+1])
		a2 += float64(s[i+2])
		a3 += float64(s[i+3])
	}
	for ; i < len(s); i++ {
		a0 += float64(s[i])
	}
	return (a0 + a1) + (a2 + a3)
}

// argRow returns the index of the first largest (max) or smallest element
// of the non-empty s, or of its first NaN.
//
// It is better(max, v, m) in a loop of a fixed direction: the generic loop
// tested max and NaN on every element. !(v <= m) is v > m or v is NaN (m
// is never NaN: the first NaN, s[0] included, ends the search), one
// comparison an element.
func argRow[T Real](max bool, s []T) int {
	m, at := s[0], 0
	if max {
		for i, v := range s {
			if !(v <= m) {
				if v != v {
					return i
				}
				m, at = v, i
			}
		}
		return at
	}
	for i, v := range s {
		if !(v >= m) {
			if v != v {
				return i
			}
			m, at = v, i
		}
	}
	return at
}

// foldExtremes folds the row s into the running extremes best (max or min) as
// better does: best[i] = s[i] where s[i] is strictly better or the first
// NaN. If at is not nil, it also sets at[i] = r there (an ArgMax or ArgMin
// over columns). The loops have a fixed direction and one comparison an
// element in the common case: !(x <= b) is x > b or either is NaN, and
// b == b keeps the first NaN.
func foldExtremes[T Real](max bool, best, at, s []T, r T) {
	s = s[:len(best)]
	switch {
	case max && at == nil:
		for i, x := range s {
			if b := best[i]; !(x <= b) && b == b {
				best[i] = x
			}
		}
	case at == nil:
		for i, x := range s {
			if b := best[i]; !(x >= b) && b == b {
				best[i] = x
			}
		}
	case max:
		at = at[:len(best)]
		for i, x := range s {
			if b := best[i]; !(x <= b) && b == b {
				best[i], at[i] = x, r
			}
		}
	default:
		at = at[:len(best)]
		for i, x := range s {
			if b := best[i]; !(x >= b) && b == b {
				best[i], at[i] = x, r
			}
		}
	}
}

// Store copies the contiguous src into the strided view of dst starting at
// off with the given shape and strides; if add is true it adds instead.
func Store[T Elem](dst []T, off int, shape, strides []int, src []T, add bool) {
	if len(shape) == 0 {
		if add {
			dst[off] += src[0]
		} else {
			dst[off] = src[0]
		}
		return
	}
	s := strides[len(strides)-1]
	Each(shape, func(si, n int, offs [3]int) {
		di := offs[0]
		for _, v := range src[si : si+n] {
			if add {
				dst[di] += v
			} else {
				dst[di] = v
			}
			di += s
		}
	}, [3]int{off}, [3][]int{strides})
}

// gelu and geluDeriv are the float64 definitions, through math.Erfc (the
// float32 kernels use a faster form; see kernel.GeluF32). At -Inf, gelu is
// -Inf·0 = NaN and the derivative NaN, as in PyTorch.
func gelu(x float64) float64 { return x * math.Erfc(-x/math.Sqrt2) / 2 }

func geluDeriv(x float64) float64 {
	return math.Erfc(-x/math.Sqrt2)/2 + x*math.Exp(-x*x/2)*(1/math.Sqrt(2*math.Pi))
}

// powInt is x^y for y >= 0 by repeated squaring, wrapping on overflow as
// C integer arithmetic (and PyTorch) does. The caller rejects y < 0.
func powInt(x, y int64) int64 {
	r := int64(1)
	for ; y > 0; y >>= 1 {
		if y&1 == 1 {
			r *= x
		}
		x *= x
	}
	return r
}

// floorDivInt is x/y rounded toward -Inf; y != 0.
func floorDivInt(x, y int64) int64 {
	q := x / y
	if x%y != 0 && (x < 0) != (y < 0) {
		q--
	}
	return q
}

// remInt is x mod y with the sign of y (Python's %); y != 0.
func remInt(x, y int64) int64 {
	r := x % y
	if r != 0 && (r < 0) != (y < 0) {
		r += y
	}
	return r
}

// floorDivFloat is PyTorch's div_floor for floats: through fmod, so that
// the quotient is exact, and 0 keeps the sign of x/y.
func floorDivFloat(x, y float64) float64 {
	if y == 0 {
		return x / y
	}
	mod := math.Mod(x, y)
	div := (x - mod) / y
	if mod != 0 && (y < 0) != (mod < 0) {
		div--
	}
	if div == 0 {
		return math.Copysign(0, x/y)
	}
	f := math.Floor(div)
	if div-f > 0.5 {
		f++
	}
	return f
}

// remFloat is PyTorch's remainder for floats: fmod moved to the sign of y.
func remFloat(x, y float64) float64 {
	m := math.Mod(x, y)
	if m != 0 && (y < 0) != (m < 0) {
		m += y
	}
	return m
}

// Compare sets dst to 1 where op(a, b) holds and 0 elsewhere, over shape,
// as Binary does with a comparison or logical op, but into the uint8
// storage of a Bool tensor.
func Compare[T Real](op BinaryOp, dst []uint8, shape []int, a []T, aOff int, aStr []int, b []T, bOff int, bStr []int) {
	if len(shape) == 0 {
		dst[0] = uint8(binaryOne(op, a[aOff], b[bOff]))
		return
	}
	r := len(shape) - 1
	sa, sb := aStr[r], bStr[r]
	Each(shape, func(di, n int, offs [3]int) {
		ai, bi := offs[0], offs[1]
		for i := di; i < di+n; i++ {
			dst[i] = uint8(binaryOne(op, a[ai], b[bi]))
			ai += sa
			bi += sb
		}
	}, [3]int{aOff, bOff}, [3][]int{aStr, bStr})
}

// AnyZero reports whether s holds a zero: integer division checks its
// divisor with it.
func AnyZero[T Real](s []T) bool {
	for _, v := range s {
		if v == 0 {
			return true
		}
	}
	return false
}
