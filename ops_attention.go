package nabla

import (
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/nabla-go/nabla/internal/loops"
)

// AttentionOptions are the optional arguments of [ScaledDotProductAttention],
// named after those of PyTorch 2's F.scaled_dot_product_attention. The zero
// value is no mask, no dropout and the scale 1/√E.
type AttentionOptions struct {
	// Mask, if not nil, broadcasts to the scores' shape (…, L, S): a
	// float mask is added to the scores, with -Inf where a key must not
	// be seen, and may require a gradient; a Bool mask is true where a
	// query may see a key (PyTorch 2's attn_mask: the opposite of
	// nn.MultiheadAttention's Bool masks).
	Mask *Tensor
	// Causal masks out the keys after each query: query i sees keys
	// j <= i (the upper-left triangle when L != S), as is_causal.
	Causal bool
	// Dropout is the probability of dropping an attention weight (the
	// kept ones are scaled by 1/(1-Dropout)); it needs Rng.
	Dropout float64
	// Rng draws the dropout mask: one number per call.
	Rng *rand.Rand
	// Scale multiplies q·kᵀ; 0 means 1/√E.
	Scale float64
}

// ScaledDotProductAttention returns softmax(q·kᵀ·scale + mask)·v for q of
// shape (…, L, E), k (…, S, E) and v (…, S, Ev), whose leading (batch)
// dimensions broadcast: an output of shape (…, L, Ev). It is one fused op:
// the forward pass works on blocks of queries against blocks of keys with
// an online softmax, so that it never holds more than one block of scores
// per batch entry, and saves one log-sum-exp per query for the backward
// pass, which recomputes the blocks. A recorded backward pass (CreateGraph),
// or one that needs the mask's gradient, is composed of ops instead, so
// that it can be differentiated again.
//
// It panics with a *ShapeError if the inputs have fewer than two
// dimensions or their sizes do not agree, or the mask does not broadcast
// to (…, L, S), and with a *ValueError if the inputs are not floats, the
// mask neither float nor Bool, or Dropout outside [0, 1) or positive
// without Rng. Float16 and BFloat16 inputs are computed in float32.
func ScaledDotProductAttention(q, k, v *Tensor, o AttentionOptions) *Tensor {
	const op = "ScaledDotProductAttention"
	r := len(q.shape)
	if r < 2 || len(k.shape) != r || len(v.shape) != r {
		panicShape(op, "q, k and v need the same rank, at least 2 ((…, L, E), (…, S, E), (…, S, Ev))", q.shape, k.shape, v.shape)
	}
	L, E, S, Ev := q.shape[r-2], q.shape[r-1], k.shape[r-2], v.shape[r-1]
	if k.shape[r-1] != E || v.shape[r-2] != S {
		panicShape(op, "want q (…, L, E), k (…, S, E), v (…, S, Ev): k's last dimension must be q's ("+strconv.Itoa(E)+") and v's rows k's ("+strconv.Itoa(S)+")", q.shape, k.shape, v.shape)
	}
	batch := broadcastShapes(op, broadcastShapes(op, q.shape[:r-2], k.shape[:r-2]), v.shape[:r-2])
	full := append(append([]int(nil), batch...), L, S)
	if o.Mask != nil {
		m := o.Mask.shape
		if !broadcastsTo(m, full) {
			panicShape(op, "mask does not broadcast to the scores' shape (…, L, S) = "+shapeString(full), m, full)
		}
	}
	if !(o.Dropout >= 0 && o.Dropout < 1) {
		panicValue(op, "dropout probability %v is outside [0, 1)", o.Dropout)
	}
	if o.Dropout > 0 && o.Rng == nil {
		panicValue(op, "dropout %v needs an Rng", o.Dropout)
	}
	dt := promote(promote(q.dtype, k.dtype), v.dtype)
	switch {
	case dt == Float16 || dt == BFloat16:
		// Half precision is a storage format: compute in float32.
		return ScaledDotProductAttention(q.To(Float32), k.To(Float32), v.To(Float32), o).To(dt)
	case dt != Float32 && dt != Float64:
		panicValue(op, "q, k and v are %v, %v and %v; attention needs floats", q.dtype, k.dtype, v.dtype)
	}
	q, k, v = q.To(dt), k.To(dt), v.To(dt)
	mask := o.Mask
	if mask != nil && mask.dtype == Bool {
		mask = Where(mask, FullOf(dt, 0), FullOf(dt, math.Inf(-1)))
	} else if mask != nil {
		if !mask.dtype.IsFloat() {
			panicValue(op, "mask is %v, want a float or Bool mask", mask.dtype)
		}
		mask = mask.To(dt)
	}
	a := loops.Attn{B: numel(batch), L: L, S: S, E: E, Ev: Ev, Scale: o.Scale, Causal: o.Causal, P: o.Dropout}
	if a.Scale == 0 {
		a.Scale = 1 / math.Sqrt(float64(E))
	}
	if o.Dropout > 0 {
		a.Seed = o.Rng.Uint64()
	}
	oshape := append(append([]int(nil), batch...), L, Ev)
	var out *Tensor
	if S == 0 {
		// No keys: the weights are empty and the output is zeros, as
		// softmax over nothing times an empty v gives in PyTorch.
		out = newZeroed(arenaOf(q, k), dt, oshape, contiguousStrides(oshape))
	} else {
		out = newShared(arenaOf(q, k), dt, oshape, contiguousStrides(oshape))
	}
	lse := make([]float64, a.B*L)
	if out.Len() > 0 && S > 0 {
		qm, km, vm := attnMat(q, batch), attnMat(k, batch), attnMat(v, batch)
		if dt == Float64 {
			loops.AttnFwd(a, loops.ContigMat(out.f64, a.B, L, Ev), lse, mat64(qm), mat64(km), mat64(vm), mask64(mask, full))
		} else {
			loops.AttnFwd(a, loops.ContigMat(out.f32, a.B, L, Ev), lse, mat32(qm), mat32(km), mat32(vm), mask32(mask, full))
		}
	}
	return record(op, out, func(g, y *Tensor, in []*Tensor) []*Tensor {
		if !g.noGraph || (in[3] != nil && wantsGrad(in[3])) {
			return attentionGradOps(g, in[0], in[1], in[2], in[3], a, batch)
		}
		return attentionGrad(g, y, lse, in[0], in[1], in[2], in[3], a, batch, full)
	}, q, k, v, mask)
}

// broadcastsTo reports whether shape broadcasts to full without growing it.
func broadcastsTo(shape, full []int) bool {
	if len(shape) > len(full) {
		return false
	}
	k := len(full) - len(shape)
	for i, d := range shape {
		if d != 1 && d != full[k+i] {
			return false
		}
	}
	return true
}

// attnOperand is an input's storage and layout for the kernel: the offset
// of each batch entry's matrix, its row stride and whether it is stored
// transposed.
type attnOperand struct {
	t     *Tensor
	off   []int
	ld    int
	trans bool
}

// attnMat lays x out for the kernel over the broadcast batch dimensions,
// copying it only if neither of its last two axes has unit stride.
func attnMat(x *Tensor, batch []int) attnOperand {
	trans, ld, ok := matrixLayout(x)
	if !ok {
		x = x.copyContiguous()
		trans, ld, _ = matrixLayout(x)
	}
	r := len(x.shape)
	return attnOperand{t: x, off: batchOffsets(x.offset, x.shape[:r-2], x.strides[:r-2], batch), ld: ld, trans: trans}
}

// batchOffsets returns, for each index of the broadcast batch shape in
// row-major order, the storage offset of x's matrix (shape and strides
// are x's batch dimensions).
func batchOffsets(base int, shape, strides, batch []int) []int {
	st := (&Tensor{shape: shape, strides: strides}).broadcastStrides(batch)
	n := numel(batch)
	offs := make([]int, n)
	idx := make([]int, len(batch))
	for i := range n {
		o := base
		for d, x := range idx {
			o += x * st[d]
		}
		offs[i] = o
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < batch[d] {
				break
			}
			idx[d] = 0
		}
	}
	return offs
}

func mat32(m attnOperand) loops.AttnMat[float32] {
	return loops.AttnMat[float32]{Data: m.t.f32, Off: m.off, LD: m.ld, Trans: m.trans}
}

func mat64(m attnOperand) loops.AttnMat[float64] {
	return loops.AttnMat[float64]{Data: m.t.f64, Off: m.off, LD: m.ld, Trans: m.trans}
}

// maskLayout returns the offsets and row and column strides of mask
// broadcast to full = (batch…, L, S).
func maskLayout(mask *Tensor, full []int) (off []int, rs, cs int) {
	st := mask.broadcastStrides(full)
	n := len(full)
	off = batchOffsets(mask.offset, full[:n-2], st[:n-2], full[:n-2])
	return off, st[n-2], st[n-1]
}

func mask32(mask *Tensor, full []int) *loops.AttnMask[float32] {
	if mask == nil {
		return nil
	}
	off, rs, cs := maskLayout(mask, full)
	return &loops.AttnMask[float32]{Data: mask.f32, Off: off, RS: rs, CS: cs}
}

func mask64(mask *Tensor, full []int) *loops.AttnMask[float64] {
	if mask == nil {
		return nil
	}
	off, rs, cs := maskLayout(mask, full)
	return &loops.AttnMask[float64]{Data: mask.f64, Off: off, RS: rs, CS: cs}
}

// attentionGrad is the fused backward pass: the gradients of q, k and v
// (summed back over broadcast batch dimensions), carrying g's noGraph mark.
func attentionGrad(g, y *Tensor, lse []float64, q, k, v, mask *Tensor, a loops.Attn, batch, full []int) []*Tensor {
	g = g.To(y.dtype).contiguous()
	shape := func(rows, cols int) []int { return append(append([]int(nil), batch...), rows, cols) }
	mk := func(rows, cols int) *Tensor {
		alloc := newShared // the kernel writes every element
		if y.Len() == 0 || a.S == 0 {
			alloc = newZeroed
		}
		t := alloc(g.arena, y.dtype, shape(rows, cols), contiguousStrides(shape(rows, cols)))
		t.noGraph = true
		return t
	}
	dq, dk, dv := mk(a.L, a.E), mk(a.S, a.E), mk(a.S, a.Ev)
	if y.Len() > 0 && a.S > 0 {
		qm, km, vm := attnMat(q, batch), attnMat(k, batch), attnMat(v, batch)
		if y.dtype == Float64 {
			loops.AttnBwd(a, loops.ContigMat(dq.f64, a.B, a.L, a.E), loops.ContigMat(dk.f64, a.B, a.S, a.E), loops.ContigMat(dv.f64, a.B, a.S, a.Ev),
				loops.ContigMat(g.f64[g.offset:], a.B, a.L, a.Ev), loops.ContigMat(y.f64[y.offset:], a.B, a.L, a.Ev), lse, mat64(qm), mat64(km), mat64(vm), mask64(mask, full))
		} else {
			loops.AttnBwd(a, loops.ContigMat(dq.f32, a.B, a.L, a.E), loops.ContigMat(dk.f32, a.B, a.S, a.E), loops.ContigMat(dv.f32, a.B, a.S, a.Ev),
				loops.ContigMat(g.f32[g.offset:], a.B, a.L, a.Ev), loops.ContigMat(y.f32[y.offset:], a.B, a.L, a.Ev), lse, mat32(qm), mat32(km), mat32(vm), mask32(mask, full))
		}
	}
	return []*Tensor{sumToIf(q, dq), sumToIf(k, dk), sumToIf(v, dv), nil}
}

// sumToIf returns g summed to x's shape if x wants a gradient, else nil.
func sumToIf(x, g *Tensor) *Tensor {
	if !wantsGrad(x) {
		return nil
	}
	return g.SumTo(x.shape...)
}

// attentionWeights returns the attention weights softmax(q·kᵀ·scale +
// mask) composed of ops, and the dropout factors (nil without dropout),
// exactly as the fused kernel computes them.
func attentionWeights(q, k, mask *Tensor, a loops.Attn, batch []int) (p, z *Tensor) {
	s := q.MatMul(k.Transpose(-2, -1)).MulScalar(a.Scale)
	if mask != nil {
		s = s.Add(mask)
	}
	if a.Causal {
		s = s.Add(causalMask(s.dtype, a.L, a.S))
	}
	p = s.Softmax(-1)
	if a.P > 0 {
		shape := append(append([]int(nil), batch...), a.L, a.S)
		z = newTensor(p.dtype, shape)
		if p.dtype == Float64 {
			loops.AttnDropMask(z.f64, a)
		} else {
			loops.AttnDropMask(z.f32, a)
		}
	}
	return p, z
}

// causalMask returns the (L, S) additive mask with -Inf above the diagonal.
func causalMask(dt DType, l, s int) *Tensor {
	m := newTensor(dt, []int{l, s})
	for i := range l {
		for j := i + 1; j < s; j++ {
			if dt == Float64 {
				m.f64[i*s+j] = math.Inf(-1)
			} else {
				m.f32[i*s+j] = float32(math.Inf(-1))
			}
		}
	}
	return m
}

// attentionGradOps is the backward pass composed of ops, recomputing the
// weights from q, k and the mask so that their dependence on the inputs
// is recorded too:
//
//	dv = (P∘Z)ᵀ·g, dP = (g·vᵀ)∘Z, dS = P∘(dP - rowsum(dP∘P)),
//	dq = scale·dS·k, dk = scale·dSᵀ·q, dmask = dS
func attentionGradOps(g, q, k, v, mask *Tensor, a loops.Attn, batch []int) []*Tensor {
	p, z := attentionWeights(q, k, mask, a, batch)
	w, dp := p, g.MatMul(v.Transpose(-2, -1))
	if z != nil {
		w, dp = p.Mul(z), dp.Mul(z)
	}
	ds := p.Mul(dp.Sub(dp.Mul(p).SumKeep(-1)))
	var dq, dk, dv, dm *Tensor
	if wantsGrad(q) {
		dq = ds.MatMul(k).MulScalar(a.Scale).SumTo(q.shape...)
	}
	if wantsGrad(k) {
		dk = ds.Transpose(-2, -1).MatMul(q).MulScalar(a.Scale).SumTo(k.shape...)
	}
	if wantsGrad(v) {
		dv = w.Transpose(-2, -1).MatMul(g).SumTo(v.shape...)
	}
	if mask != nil && wantsGrad(mask) {
		dm = ds.SumTo(mask.shape...)
	}
	return []*Tensor{dq, dk, dv, dm}
}

// AttentionComposed is [ScaledDotProductAttention] composed of ops
// (MatMul, Softmax, MatMul), for tests and comparisons: it computes the
// same function, with the same dropout mask for the same Rng state, and
// stores the whole (…, L, S) matrix of weights.
func AttentionComposed(q, k, v *Tensor, o AttentionOptions) *Tensor {
	r := len(q.shape)
	batch := broadcastShapes("AttentionComposed", broadcastShapes("AttentionComposed", q.shape[:r-2], k.shape[:r-2]), v.shape[:r-2])
	a := loops.Attn{B: numel(batch), L: q.shape[r-2], S: k.shape[r-2], E: q.shape[r-1], Ev: v.shape[r-1], Scale: o.Scale, Causal: o.Causal, P: o.Dropout}
	if a.Scale == 0 {
		a.Scale = 1 / math.Sqrt(float64(a.E))
	}
	if o.Dropout > 0 {
		a.Seed = o.Rng.Uint64()
	}
	mask := o.Mask
	if mask != nil && mask.dtype == Bool {
		mask = Where(mask, FullOf(q.dtype, 0), FullOf(q.dtype, math.Inf(-1)))
	}
	p, z := attentionWeights(q, k, mask, a, batch)
	if z != nil {
		p = p.Mul(z)
	}
	return p.MatMul(v)
}

// SelfAttentionPacked is multi-head self-attention over packed
// projections, as nn.MultiheadAttention computes it with batch_first for
// a query that is also the key and the value: qkv (N, L, 3E) holds each
// position's query, key and value side by side (x·in_proj_weightᵀ +
// in_proj_bias, one product), E = heads·D. The result, (N, L, E), is
// [ScaledDotProductAttention] of each head's queries qkv[…, h·D:(h+1)·D],
// keys (offset E) and values (offset 2E), with the heads side by side
// again, as out_proj reads them. Being one op, it neither copies the heads
// apart nor back together, and its backward pass writes the gradient of
// qkv whole, instead of three zero-padded slices that autograd then adds.
// The mask broadcasts to (N, heads, L, L); the options are those of
// ScaledDotProductAttention, with the same dropout mask for the same Rng
// state (batch entry n·heads + h). A recorded backward pass (CreateGraph),
// or one that needs the mask's gradient, is composed of ops.
//
// It panics with a *ShapeError if qkv is not 3-d with a last dimension
// that is a multiple of 3·heads, or the mask does not broadcast, and with
// a *ValueError as ScaledDotProductAttention does.
func SelfAttentionPacked(qkv *Tensor, heads int, o AttentionOptions) *Tensor {
	const op = "SelfAttentionPacked"
	if len(qkv.shape) != 3 || heads <= 0 || qkv.shape[2]%(3*heads) != 0 {
		panicShape(op, "want qkv (N, L, 3E) with E a multiple of heads = "+strconv.Itoa(heads), qkv.shape)
	}
	N, L, E := qkv.shape[0], qkv.shape[1], qkv.shape[2]/3
	D := E / heads
	full := []int{N, heads, L, L}
	if o.Mask != nil && !broadcastsTo(o.Mask.shape, full) {
		panicShape(op, "mask does not broadcast to the scores' shape (N, heads, L, L) = "+shapeString(full), o.Mask.shape, full)
	}
	if !(o.Dropout >= 0 && o.Dropout < 1) {
		panicValue(op, "dropout probability %v is outside [0, 1)", o.Dropout)
	}
	if o.Dropout > 0 && o.Rng == nil {
		panicValue(op, "dropout %v needs an Rng", o.Dropout)
	}
	dt := qkv.dtype
	switch {
	case dt == Float16 || dt == BFloat16:
		return SelfAttentionPacked(qkv.To(Float32), heads, o).To(dt)
	case dt != Float32 && dt != Float64:
		panicValue(op, "qkv is %v; attention needs floats", dt)
	}
	mask := o.Mask
	if mask != nil && mask.dtype == Bool {
		mask = Where(mask, FullOf(dt, 0), FullOf(dt, math.Inf(-1)))
	} else if mask != nil {
		if !mask.dtype.IsFloat() {
			panicValue(op, "mask is %v, want a float or Bool mask", mask.dtype)
		}
		mask = mask.To(dt)
	}
	a := loops.Attn{B: N * heads, L: L, S: L, E: D, Ev: D, Scale: o.Scale, Causal: o.Causal, P: o.Dropout}
	if a.Scale == 0 {
		a.Scale = 1 / math.Sqrt(float64(D))
	}
	if o.Dropout > 0 {
		a.Seed = o.Rng.Uint64()
	}
	x := qkv
	if !x.IsContiguous() {
		x = x.copyContiguous()
	}
	// packedMat is part (0: q, 1: k, 2: v) of the heads of a (N, L, w)
	// storage whose first element is at base; w is 3E for qkv, E for the
	// output and its gradient.
	packedMat := func(base, part, w int) []int {
		off := make([]int, N*heads)
		for n := range N {
			for h := range heads {
				off[n*heads+h] = base + n*L*w + part*E + h*D
			}
		}
		return off
	}
	qo, ko, vo := packedMat(x.offset, 0, 3*E), packedMat(x.offset, 1, 3*E), packedMat(x.offset, 2, 3*E)
	oo := packedMat(0, 0, E)
	out := newShared(x.arena, dt, []int{N, L, E}, []int{L * E, E, 1})
	lse := make([]float64, a.B*L)
	if out.Len() > 0 {
		if dt == Float64 {
			m := func(off []int, w int) loops.AttnMat[float64] {
				return loops.AttnMat[float64]{Data: x.f64, Off: off, LD: w}
			}
			loops.AttnFwd(a, loops.AttnMat[float64]{Data: out.f64, Off: oo, LD: E}, lse, m(qo, 3*E), m(ko, 3*E), m(vo, 3*E), mask64(mask, full))
		} else {
			m := func(off []int, w int) loops.AttnMat[float32] {
				return loops.AttnMat[float32]{Data: x.f32, Off: off, LD: w}
			}
			loops.AttnFwd(a, loops.AttnMat[float32]{Data: out.f32, Off: oo, LD: E}, lse, m(qo, 3*E), m(ko, 3*E), m(vo, 3*E), mask32(mask, full))
		}
	}
	return record(op, out, func(g, y *Tensor, in []*Tensor) []*Tensor {
		if !g.noGraph || (in[1] != nil && wantsGrad(in[1])) {
			return packedAttentionGradOps(g, in[0], in[1], heads, a)
		}
		if !wantsGrad(in[0]) {
			return []*Tensor{nil, nil}
		}
		gc := g.To(dt).contiguous()
		d := newShared(g.arena, dt, []int{N, L, 3 * E}, []int{L * 3 * E, 3 * E, 1}) // AttnBwd writes every element
		d.noGraph = true
		if d.Len() > 0 {
			gm := packedMat(gc.offset, 0, E)
			if dt == Float64 {
				m := func(s []float64, off []int, w int) loops.AttnMat[float64] {
					return loops.AttnMat[float64]{Data: s, Off: off, LD: w}
				}
				dq, dk, dv := packedMat(0, 0, 3*E), packedMat(0, 1, 3*E), packedMat(0, 2, 3*E)
				loops.AttnBwd(a, m(d.f64, dq, 3*E), m(d.f64, dk, 3*E), m(d.f64, dv, 3*E), m(gc.f64, gm, E), m(y.f64, oo, E), lse,
					m(x.f64, qo, 3*E), m(x.f64, ko, 3*E), m(x.f64, vo, 3*E), mask64(mask, full))
			} else {
				m := func(s []float32, off []int, w int) loops.AttnMat[float32] {
					return loops.AttnMat[float32]{Data: s, Off: off, LD: w}
				}
				dq, dk, dv := packedMat(0, 0, 3*E), packedMat(0, 1, 3*E), packedMat(0, 2, 3*E)
				loops.AttnBwd(a, m(d.f32, dq, 3*E), m(d.f32, dk, 3*E), m(d.f32, dv, 3*E), m(gc.f32, gm, E), m(y.f32, oo, E), lse,
					m(x.f32, qo, 3*E), m(x.f32, ko, 3*E), m(x.f32, vo, 3*E), mask32(mask, full))
			}
		}
		return []*Tensor{d, nil}
	}, qkv, mask)
}

// packedAttentionGradOps is SelfAttentionPacked's backward pass composed
// of ops: attentionGradOps on the heads split from qkv by views, the
// gradients of the three parts joined back side by side.
func packedAttentionGradOps(g, qkv, mask *Tensor, heads int, a loops.Attn) []*Tensor {
	N, L, E := qkv.shape[0], qkv.shape[1], qkv.shape[2]/3
	D := E / heads
	split := func(x *Tensor) *Tensor { return x.Reshape(N, L, heads, D).Permute(0, 2, 1, 3) }
	parts := qkv.Split(2, E, E, E)
	grads := attentionGradOps(split(g), split(parts[0]), split(parts[1]), split(parts[2]), mask, a, []int{N, heads})
	var d *Tensor
	if wantsGrad(qkv) {
		join := func(x *Tensor) *Tensor { return x.Permute(0, 2, 1, 3).Reshape(N, L, E) }
		d = Concat([]*Tensor{join(grads[0]), join(grads[1]), join(grads[2])}, 2)
	}
	return []*Tensor{d, grads[3]}
}
