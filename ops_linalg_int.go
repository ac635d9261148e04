package nabla

import (
	"strconv"

	"github.com/nabla-go/nabla/internal/kernel"
	"github.com/nabla-go/nabla/internal/loops"
)

// matmulInt is MatMul for operands whose promoted dtype dt is an integer
// one or Bool. PyTorch 1.13 multiplies Int64, Int32 and Uint8 matrices in
// their own dtype, wrapping around on overflow, and refuses Bool ones
// ("addmm_impl_cpu_" not implemented for 'Bool'). It refuses operands of
// different dtypes too; nabla promotes them first (Uint8 with Int32 is
// Int32), as its float MatMul does. The result never requires grad, so
// nothing is recorded.
func matmulInt(t, u *Tensor, dt DType) *Tensor {
	if dt == Bool {
		panicValue("MatMul", "not implemented for bool tensors; convert with .To(nabla.Int64)")
	}
	a, b := t.To(dt), u.To(dt)
	switch {
	case len(a.shape) == 1 && len(b.shape) == 1:
		return matmulInt2(a.Unsqueeze(0), b.Unsqueeze(1), t, u).Reshape()
	case len(a.shape) == 1:
		return matmulInt2(a.Unsqueeze(0), b, t, u).Squeeze(-2)
	case len(b.shape) == 1:
		return matmulInt2(a, b.Unsqueeze(1), t, u).Squeeze(-1)
	}
	return matmulInt2(a, b, t, u)
}

// matmulInt2 is matmulInt on operands of the same integer dtype and rank
// >= 2; t and u are the caller's operands, for the error messages.
func matmulInt2(a, b, t, u *Tensor) *Tensor {
	ra, rb := len(a.shape), len(b.shape)
	m, k := a.shape[ra-2], a.shape[ra-1]
	k2, n := b.shape[rb-2], b.shape[rb-1]
	if k != k2 {
		panicShape("MatMul", "inner dimensions differ ("+strconv.Itoa(k)+" != "+strconv.Itoa(k2)+")", t.shape, u.shape)
	}
	batch := broadcastShapes("MatMul", a.shape[:ra-2], b.shape[:rb-2])
	shape := append(append([]int(nil), batch...), m, n)
	out := newShared(nil, a.dtype, shape, contiguousStrides(shape))
	if out.Len() == 0 {
		return out
	}
	// The loop wants rows with unit stride; anything else is copied.
	if a.shape[ra-1] > 1 && a.strides[ra-1] != 1 {
		a = a.copyContiguous()
	}
	if b.shape[rb-1] > 1 && b.strides[rb-1] != 1 {
		b = b.copyContiguous()
	}
	switch a.dtype {
	case Int64:
		matmulIntBatched[int64](out, a, b, batch, m, n, k)
	case Int32:
		matmulIntBatched[int32](out, a, b, batch, m, n, k)
	default:
		matmulIntBatched[uint8](out, a, b, batch, m, n, k)
	}
	return out
}

// matmulIntBatched fills out (contiguous, batch×m×n) with a·b over the
// broadcast batch dimensions, splitting the batch×m rows between the
// workers when the product is large.
func matmulIntBatched[T loops.Int](out, a, b *Tensor, batch []int, m, n, k int) {
	ra, rb := len(a.shape), len(b.shape)
	lda, ldb := a.strides[ra-2], b.strides[rb-2]
	aStr := (&Tensor{shape: a.shape[:ra-2], strides: a.strides[:ra-2]}).broadcastStrides(batch)
	bStr := (&Tensor{shape: b.shape[:rb-2], strides: b.strides[:rb-2]}).broadcastStrides(batch)
	as, bs, cs := storage[T](a), storage[T](b), storage[T](out)
	// offsets returns the offsets of batch entry i's matrices in a and b.
	offsets := func(i int) (ao, bo int) {
		ao, bo = a.offset, b.offset
		for d := len(batch) - 1; d >= 0; d-- {
			x := i % batch[d]
			i /= batch[d]
			ao += x * aStr[d]
			bo += x * bStr[d]
		}
		return ao, bo
	}
	// About 64K multiply-adds a part, at least one row.
	grain := max(1, 1<<16/max(1, n*k))
	kernel.ParallelFor(numel(batch)*m, grain, func(lo, hi int) {
		for r := lo; r < hi; {
			i, row := r/m, r%m
			rows := min(hi-r, m-row) // the rows of batch entry i in [lo, hi)
			ao, bo := offsets(i)
			ao += row * lda
			co := r * n
			loops.MatMulInt(cs[co:], as[ao:], bs[bo:], rows, n, k, lda, ldb, n)
			r += rows
		}
	})
}
