package nabla

import (
	"strconv"

	"github.com/nabla-go/nabla/internal/kernel"
)

// MatMul returns the matrix product of t and u with NumPy's matmul rules: two
// 1-d tensors give their dot product (a scalar); a 1-d operand is treated as
// a row (left) or column (right) vector and that axis is removed from the
// result; tensors of rank 3 or more are stacks of matrices whose leading
// (batch) dimensions broadcast. It panics with a *ShapeError if the inner
// dimensions differ or the batch dimensions do not broadcast.
//
// Integer operands (Int64, Int32, Uint8) multiply in their dtype, wrapping
// around on overflow as PyTorch does, and the result never requires grad.
// Operands of different dtypes are promoted first, as in [Tensor.Add]
// (PyTorch refuses them): an Int64 matrix times a Float32 one is Float32,
// and the gradient reaches the float operand. Bool operands (both Bool)
// panic with a *ValueError, as in PyTorch.
func (t *Tensor) MatMul(u *Tensor) *Tensor {
	if len(t.shape) == 0 || len(u.shape) == 0 {
		panicShape("MatMul", "both operands need at least one dimension", t.shape, u.shape)
	}
	if dt := promote(t.dtype, u.dtype); !dt.IsFloat() {
		return matmulInt(t, u, dt) // ops_linalg_int.go
	}
	if dt := promote(t.dtype, u.dtype); floatKernel("MatMul", dt) {
		return t.To(Float32).MatMul(u.To(Float32)).To(dt)
	}
	switch {
	case len(t.shape) == 1 && len(u.shape) == 1:
		return t.Unsqueeze(0).matmul(u.Unsqueeze(1)).Reshape()
	case len(t.shape) == 1:
		return t.Unsqueeze(0).matmul(u).Squeeze(-2)
	case len(u.shape) == 1:
		return t.matmul(u.Unsqueeze(1)).Squeeze(-1)
	}
	return t.matmul(u)
}

// Dot returns the inner product of two 1-d tensors of the same length.
func (t *Tensor) Dot(u *Tensor) *Tensor {
	if len(t.shape) != 1 || len(u.shape) != 1 {
		panicShape("Dot", "both operands must be 1-d", t.shape, u.shape)
	}
	return t.MatMul(u)
}

// matmul is the primitive: both operands have rank >= 2.
func (t *Tensor) matmul(u *Tensor) *Tensor {
	a, b := t, u
	// float32 activations times a bfloat16 weight matrix: the weight is
	// read as it is stored (kernel.GemmF32BF16), never converted whole
	mixed := a.dtype == Float32 && b.dtype == BFloat16 && len(b.shape) == 2
	if a.dtype != b.dtype && !mixed {
		dt := promote(a.dtype, b.dtype)
		a, b = a.To(dt), b.To(dt)
	}
	ra, rb := len(a.shape), len(b.shape)
	m, k := a.shape[ra-2], a.shape[ra-1]
	k2, n := b.shape[rb-2], b.shape[rb-1]
	if k != k2 {
		panicShape("MatMul", "inner dimensions differ ("+strconv.Itoa(k)+" != "+strconv.Itoa(k2)+")", t.shape, u.shape)
	}
	batch := broadcastShapes("MatMul", a.shape[:ra-2], b.shape[:rb-2])
	shape := append(append([]int(nil), batch...), m, n)
	out := newShared(arenaOf(a, b), a.dtype, shape, contiguousStrides(shape))
	switch {
	case out.Len() == 0:
	case mixed:
		gemmBF16(out, a, b, m, n, k)
	default:
		gemmBatched(out, a, b, batch, m, n, k)
	}
	return record("MatMul", out, func(g, _ *Tensor, in []*Tensor) []*Tensor {
		// Each gradient is computed in the memory layout of its operand:
		// for an operand that is a transposed view (as a linear layer's
		// weight.T()), the product is formed transposed, so that the
		// gradient reaching the weight itself is contiguous.
		var ga, gb *Tensor
		if wantsGrad(in[0]) {
			if isTransposed(in[0]) {
				ga = in[1].matmul(g.T()).T()
			} else {
				ga = g.matmul(in[1].T())
			}
			ga = ga.SumTo(in[0].shape...)
		}
		if wantsGrad(in[1]) && len(in[1].shape) == 2 && len(in[0].shape) > 2 {
			// A batch of matrices times one matrix (a linear layer on a
			// sequence): the gradient is one product over all the rows,
			// instead of one per batch entry summed by SumTo afterwards.
			af := in[0].Reshape(-1, k)
			gf := g.Reshape(-1, n)
			if isTransposed(in[1]) {
				gb = gf.T().matmul(af).T()
			} else {
				gb = af.T().matmul(gf)
			}
		} else if wantsGrad(in[1]) {
			if isTransposed(in[1]) {
				gb = g.T().matmul(in[0]).T()
			} else {
				gb = in[0].T().matmul(g)
			}
			gb = gb.SumTo(in[1].shape...)
		}
		return []*Tensor{ga, gb}
	}, a, b)
}

// isTransposed reports whether the last two axes of x are stored
// column-major, as in the transpose of a contiguous matrix.
func isTransposed(x *Tensor) bool {
	r := len(x.shape)
	return x.strides[r-2] == 1 && x.strides[r-1] != 1 && x.shape[r-2] > 1
}

// matrixLayout tells how the last two axes of x can be handed to GEMM:
// transposed or not, with which row stride. ok is false when neither axis
// has unit stride.
func matrixLayout(x *Tensor) (trans bool, ld int, ok bool) {
	r := len(x.shape)
	rows, cols := x.shape[r-2], x.shape[r-1]
	rs, cs := x.strides[r-2], x.strides[r-1]
	switch {
	case cs == 1 || cols == 1:
		if rows == 1 {
			rs = max(cols, 1)
		}
		return false, max(rs, cols, 1), rs >= cols || rows == 1
	case rs == 1 || rows == 1:
		if cols == 1 {
			cs = max(rows, 1)
		}
		return true, max(cs, rows, 1), cs >= rows || cols == 1
	}
	return false, 0, false
}

// gemmBatched fills out (contiguous, batch×m×n) with a·b over the broadcast
// batch dimensions.
func gemmBatched(out, a, b *Tensor, batch []int, m, n, k int) {
	ta, lda, ok := matrixLayout(a)
	if !ok {
		a = a.copyContiguous()
		ta, lda, _ = matrixLayout(a)
	}
	tb, ldb, ok := matrixLayout(b)
	if !ok {
		b = b.copyContiguous()
		tb, ldb, _ = matrixLayout(b)
	}
	nb := numel(batch)
	// A batch of row-major matrices times one matrix is one tall product.
	if nb > 1 && len(b.shape) == 2 && !ta && a.IsContiguous() {
		gemm(a, b, out, false, tb, nb*m, n, k, a.offset, lda, b.offset, ldb, 0, n)
		return
	}
	ra, rb := len(a.shape), len(b.shape)
	var aStr, bStr []int
	if len(batch) > 0 {
		aStr = (&Tensor{shape: a.shape[:ra-2], strides: a.strides[:ra-2]}).broadcastStrides(batch)
		bStr = (&Tensor{shape: b.shape[:rb-2], strides: b.strides[:rb-2]}).broadcastStrides(batch)
	}
	idx := make([]int, len(batch))
	for i := 0; i < nb; i++ {
		ao, bo := a.offset, b.offset
		for d, x := range idx {
			ao += x * aStr[d]
			bo += x * bStr[d]
		}
		gemm(a, b, out, ta, tb, m, n, k, ao, lda, bo, ldb, i*m*n, n)
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < batch[d] {
				break
			}
			idx[d] = 0
		}
	}
}

// gemmBF16 fills out (contiguous, batch×m×n) with the float32 a (any
// batch dimensions) times the bfloat16 matrix b.
func gemmBF16(out, a, b *Tensor, m, n, k int) {
	if !a.IsContiguous() {
		a = a.copyContiguous()
	}
	tb, ldb, ok := matrixLayout(b)
	if !ok {
		b = b.copyContiguous()
		tb, ldb, _ = matrixLayout(b)
	}
	rows := out.Len() / n // every batch entry's m rows, as one tall product
	kernel.GemmF32BF16(tb, rows, n, k, 1, a.f32[a.offset:], k, storage[uint16](b)[b.offset:], ldb, 0, out.f32, n)
}

func gemm(a, b, c *Tensor, ta, tb bool, m, n, k, ao, lda, bo, ldb, co, ldc int) {
	if a.dtype == Float64 {
		kernel.GemmF64(ta, tb, m, n, k, 1, a.f64[ao:], lda, b.f64[bo:], ldb, 0, c.f64[co:], ldc)
	} else {
		kernel.GemmF32(ta, tb, m, n, k, 1, a.f32[ao:], lda, b.f32[bo:], ldb, 0, c.f32[co:], ldc)
	}
}
