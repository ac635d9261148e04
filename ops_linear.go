package nabla

// Linear returns x·wᵀ + b, as torch.nn.functional.linear: x is (…, in),
// w is (out, in) and b is (out) or nil; the result is (…, out). It is one
// op: the rows of the output start as b and the product is added to them
// by the GEMM, instead of a product followed by an addition that reads and
// writes the whole output again. Its backward pass is that of the product
// and the sum: x gets g·w, w gets gᵀ·x over all the rows at once and b the
// column sums of g; a recorded pass (CreateGraph) composes them of ops, so
// higher orders hold.
//
// Operands that are not all Float32 or all Float64 (half precision,
// bfloat16 weights, integers) are computed as x.MatMul(w.T()).Add(b). It
// panics with a *ShapeError if the sizes do not fit.
func Linear(x, w, b *Tensor) *Tensor {
	if len(x.shape) == 0 || len(w.shape) != 2 || x.shape[len(x.shape)-1] != w.shape[1] ||
		(b != nil && (len(b.shape) != 1 || b.shape[0] != w.shape[0])) {
		shapes := [][]int{x.shape, w.shape}
		if b != nil {
			shapes = append(shapes, b.shape)
		}
		panicShape("Linear", "want x (…, in), w (out, in) and b (out) or none", shapes...)
	}
	dt := x.dtype
	if (dt != Float32 && dt != Float64) || w.dtype != dt || (b != nil && b.dtype != dt) {
		y := x.MatMul(w.T())
		if b != nil {
			y = y.Add(b)
		}
		return y
	}
	in, out := w.shape[1], w.shape[0]
	xc := x
	if !xc.IsContiguous() {
		xc = xc.copyContiguous()
	}
	rows := xc.Len() / max(in, 1)
	shape := append(append([]int(nil), x.shape[:len(x.shape)-1]...), out)
	y := newShared(arenaOf(x, w), dt, shape, contiguousStrides(shape))
	if y.Len() > 0 {
		tb, ldb, ok := matrixLayout(w.T())
		wc := w
		if !ok {
			wc = w.copyContiguous()
			tb, ldb, _ = matrixLayout(wc.T())
		}
		if dt == Float64 {
			linearForward(y.f64, rnnData[float64](xc), storage[float64](wc)[wc.offset:], biasOf[float64](b), tb, ldb, rows, in, out)
		} else {
			linearForward(y.f32, rnnData[float32](xc), storage[float32](wc)[wc.offset:], biasOf[float32](b), tb, ldb, rows, in, out)
		}
	}
	return record("Linear", y, func(g, _ *Tensor, ins []*Tensor) []*Tensor {
		x, w, b := ins[0], ins[1], ins[2]
		var gx, gw, gb *Tensor
		if wantsGrad(x) {
			gx = g.MatMul(w)
		}
		gf := g.Reshape(-1, out)
		if wantsGrad(w) {
			gw = gf.T().MatMul(x.Reshape(-1, in))
		}
		if b != nil && wantsGrad(b) {
			gb = gf.Sum(0)
		}
		return []*Tensor{gx, gw, gb}
	}, x, w, b)
}

// linearForward sets y (rows×out) to x·op(w) + bias: bias in every row (or
// zeros), then the GEMM adds the product (op(w) is wᵀ when tb, the
// layout of w.T()).
func linearForward[T float32 | float64](y, x, w, bias []T, tb bool, ldb, rows, in, out int) {
	var beta T
	if bias != nil {
		for r := range rows {
			copy(y[r*out:(r+1)*out], bias)
		}
		beta = 1
	}
	gemmT(false, tb, rows, out, in, x, max(in, 1), w, ldb, beta, y, out)
}
