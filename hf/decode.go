package hf

import (
	"math"
	"strconv"
	"sync"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/internal/half"
	"github.com/nabla-go/nabla/internal/kernel"
	"github.com/nabla-go/nabla/internal/loops"
)

// Generation with a LLaMA-style decoder runs outside the tensor ops: the
// same equations as Model.llama (forward.go), on flat float32 buffers that
// a generation reuses from step to step, calling the kernels that the ops
// call. A generation step at batch 1 is about thirty matrix-vector
// products of a few hundred rows; as tensor ops, each projection, norm,
// rotation and residual sum also allocates its output, checks shapes and
// broadcasts, which cost as much as the products themselves for a small
// model. The products, the normalization and the attention are the ops'
// own kernels (kernel.GemmF32 and GemmF32BF16, loops.RMSNormFwd and
// AttnFwd), so the logits agree with Step's to float32 rounding of a few
// additions. GPT-2, LoRA adapters and weights in other layouts take the
// tensor path.

// fastModel is a LLaMA-style model's weights as slices.
type fastModel struct {
	cfg      *Config
	embed    fastMat
	head     fastMat
	norm     []float32
	layers   []fastLayer
	cos, sin []float32 // the rotary tables, (max positions, head_dim)
}

type fastLayer struct {
	ln1, ln2                   []float32
	q, k, v, o, gate, up, down fastMat
	qb, kb, vb, ob             []float32 // biases, nil without
}

// fastMat is a weight matrix of n rows (outputs) and k columns (inputs),
// row-major, in float32 or as bfloat16 bits.
type fastMat struct {
	f32  []float32
	bf16 []uint16
	n, k int
}

// fastMatOf returns t as a fastMat, false if it is not a contiguous
// float32 or bfloat16 matrix.
func fastMatOf(t *nabla.Tensor) (fastMat, bool) {
	if t == nil || len(t.Shape()) != 2 || !t.IsContiguous() {
		return fastMat{}, false
	}
	s := t.Shape()
	switch t.DType() {
	case nabla.Float32:
		return fastMat{f32: t.Data32(), n: s[0], k: s[1]}, true
	case nabla.BFloat16:
		return fastMat{bf16: t.DataHalf(), n: s[0], k: s[1]}, true
	}
	return fastMat{}, false
}

// fastVecOf returns t's values, nil for a nil t, false if t is not a
// contiguous float32 vector.
func fastVecOf(t *nabla.Tensor) ([]float32, bool) {
	if t == nil {
		return nil, true
	}
	if len(t.Shape()) != 1 || t.DType() != nabla.Float32 || !t.IsContiguous() {
		return nil, false
	}
	return t.Data32(), true
}

// mulT sets c (m×w.n, row stride ldc) to a (m×w.k, contiguous) times wᵀ,
// plus beta·c, as x.MatMul(w.T()) computes it.
func (w fastMat) mulT(m int, a []float32, beta float32, c []float32, ldc int) {
	if w.bf16 != nil {
		kernel.GemmF32BF16(true, m, w.n, w.k, 1, a, w.k, w.bf16, w.k, beta, c, ldc)
		return
	}
	kernel.GemmF32(false, true, m, w.n, w.k, 1, a, w.k, w.f32, w.k, beta, c, ldc)
}

// row sets dst to row i of w, widened to float32.
func (w fastMat) row(i int, dst []float32) {
	if w.bf16 != nil {
		half.BFloat16ToFloat32(dst, w.bf16[i*w.k:(i+1)*w.k])
		return
	}
	copy(dst, w.f32[i*w.k:(i+1)*w.k])
}

// fast returns the model's weights for the generation loop, or nil when
// it must take the tensor path: GPT-2, LoRA adapters, or a weight that is
// not a contiguous float32 (bfloat16 for matrices) tensor.
func (m *Model) fast() *fastModel {
	if m.family != Llama || len(m.lora) > 0 {
		return nil
	}
	ok := true
	mat := func(name string) fastMat {
		w, good := fastMatOf(m.w(name))
		ok = ok && good
		return w
	}
	vec := func(name string) []float32 {
		v, good := fastVecOf(m.w(name))
		ok = ok && good
		return v
	}
	cfg := m.Config
	f := &fastModel{cfg: cfg, embed: mat("model.embed_tokens.weight"), norm: vec("model.norm.weight")}
	if m.w("lm_head.weight") != nil {
		f.head = mat("lm_head.weight")
	} else {
		f.head = f.embed
	}
	for i := range cfg.NumHiddenLayers {
		p := "model.layers." + strconv.Itoa(i) + "."
		f.layers = append(f.layers, fastLayer{
			ln1: vec(p + "input_layernorm.weight"), ln2: vec(p + "post_attention_layernorm.weight"),
			q: mat(p + "self_attn.q_proj.weight"), k: mat(p + "self_attn.k_proj.weight"),
			v: mat(p + "self_attn.v_proj.weight"), o: mat(p + "self_attn.o_proj.weight"),
			gate: mat(p + "mlp.gate_proj.weight"), up: mat(p + "mlp.up_proj.weight"), down: mat(p + "mlp.down_proj.weight"),
			qb: vec(p + "self_attn.q_proj.bias"), kb: vec(p + "self_attn.k_proj.bias"),
			vb: vec(p + "self_attn.v_proj.bias"), ob: vec(p + "self_attn.o_proj.bias"),
		})
	}
	cos, good1 := fastVecOf(m.ropeCos.Reshape(-1))
	sin, good2 := fastVecOf(m.ropeSin.Reshape(-1))
	if !ok || !good1 || !good2 {
		return nil
	}
	f.cos, f.sin = cos, sin
	return f
}

// fastGen is one generation's state: the key-value cache of every layer,
// (B, KV, capacity, head_dim) each, and the scratch of a step.
type fastGen struct {
	*fastModel
	B, n, cap int // batch, positions cached, positions the cache holds
	pads      []int
	padded    bool
	kc, vc    [][]float32

	x, h, q, k, v, att, out, g, u, mask, last, logits []float32
	lse, rstd                                         []float64
	pos, offQ, offK, offM                             []int
}

var fastGens sync.Pool // *fastGen, whose buffers a generation reuses

// newFastGen returns the state of a generation of B rows with the given
// left padding and room for positions tokens, or nil when the model takes
// the tensor path. Call release when done.
func (m *Model) newFastGen(B, positions int, pads []int) *fastGen {
	fm := m.fast()
	if fm == nil {
		return nil
	}
	f, _ := fastGens.Get().(*fastGen)
	if f == nil {
		f = &fastGen{}
	}
	c := fm.cfg
	f.fastModel, f.B, f.n, f.cap, f.pads, f.padded = fm, B, 0, positions, pads, false
	for _, p := range pads {
		f.padded = f.padded || p > 0
	}
	size := B * c.NumKeyValueHeads * positions * c.HeadDim
	for len(f.kc) < c.NumHiddenLayers {
		f.kc, f.vc = append(f.kc, nil), append(f.vc, nil)
	}
	for i := range c.NumHiddenLayers {
		f.kc[i], f.vc[i] = buf(f.kc[i], size), buf(f.vc[i], size)
	}
	return f
}

// release drops the model from f and puts it back in the pool.
func (f *fastGen) release() {
	f.fastModel, f.pads = nil, nil
	fastGens.Put(f)
}

// buf returns s resized to n elements, reallocated if it is too small.
func buf[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// step runs the tokens ids (B rows of T) that follow the f.n cached ones
// and returns the logits of each row's last position (B×V), valid until
// the next step.
func (f *fastGen) step(ids []int, T int) []float32 {
	c := f.cfg
	B, hs, hd := f.B, c.HiddenSize, c.HeadDim
	H, KV := c.NumAttentionHeads, c.NumKeyValueHeads
	nq, nkv, inter := H*hd, KV*hd, c.IntermediateSize
	R, start := B*T, f.n
	S := start + T
	f.x, f.h = buf(f.x, R*hs), buf(f.h, R*hs)
	f.q, f.k, f.v = buf(f.q, R*nq), buf(f.k, R*nkv), buf(f.v, R*nkv)
	f.att, f.out = buf(f.att, R*nq), buf(f.out, R*nq)
	f.g, f.u = buf(f.g, R*inter), buf(f.u, R*inter)
	f.rstd = buf(f.rstd, R)
	x, h := f.x, f.h
	for r, id := range ids {
		f.embed.row(id, x[r*hs:(r+1)*hs])
	}
	// positions: a row's real tokens count from 0 after its padding
	f.pos = buf(f.pos, R)
	for b := range B {
		p := 0
		if f.pads != nil {
			p = f.pads[b]
		}
		for t := range T {
			f.pos[b*T+t] = max(0, start+t-p)
		}
	}
	at, mask := f.attention(T, S)
	for li := range f.layers {
		L := &f.layers[li]
		f.rms(h, x, L.ln1, R)
		L.q.mulT(R, h, 0, f.q, nq)
		L.k.mulT(R, h, 0, f.k, nkv)
		L.v.mulT(R, h, 0, f.v, nkv)
		addBias(f.q, L.qb)
		addBias(f.k, L.kb)
		addBias(f.v, L.vb)
		f.rotary(f.q, R, H)
		f.rotary(f.k, R, KV)
		// the new keys and values after the cached ones, per head
		kc, vc := f.kc[li], f.vc[li]
		for b := range B {
			for t := range T {
				r := b*T + t
				for j := range KV {
					dst := ((b*KV+j)*f.cap + start + t) * hd
					copy(kc[dst:dst+hd], f.k[r*nkv+j*hd:][:hd])
					copy(vc[dst:dst+hd], f.v[r*nkv+j*hd:][:hd])
				}
			}
		}
		f.attend(li, at, mask, T)
		L.o.mulT(R, f.att, 1, x, hs) // x += attention · Woᵀ
		addBias(x, L.ob)
		f.rms(h, x, L.ln2, R)
		L.gate.mulT(R, h, 0, f.g, inter)
		L.up.mulT(R, h, 0, f.u, inter)
		f.silu(R * inter)             // SwiGLU: silu(gate)·up, into f.g
		L.down.mulT(R, f.g, 1, x, hs) // x += mlp · Wdᵀ
	}
	// the last position of each row, normalized, to the vocabulary
	f.last = buf(f.last, B*hs)
	for b := range B {
		copy(f.last[b*hs:(b+1)*hs], x[(b*T+T-1)*hs:(b*T+T)*hs])
	}
	hl := f.h[:B*hs]
	f.rms(hl, f.last, f.norm, B)
	V := f.head.n
	f.logits = buf(f.logits, B*V)
	f.head.mulT(B, hl, 0, f.logits, V)
	f.n = S
	return f.logits
}

// rms sets dst (rows×d) to RMSNorm(x)·w over each row, as rmsNorm does.
func (f *fastGen) rms(dst, x, w []float32, rows int) {
	d := len(w)
	loops.RMSNormFwd(dst[:rows*d], x[:rows*d], f.rstd[:rows], rows, d, f.cfg.RMSNormEps)
	for r := range rows {
		row := dst[r*d : (r+1)*d]
		kernel.MulF32(row, row, w)
	}
}

// silu sets f.g[:n] to silu(g)·u = g·sigmoid(g)·u, in the order of the
// tensor ops (g.Mul(g.Sigmoid()).Mul(up)); a prompt's rows are split
// between the workers.
func (f *fastGen) silu(n int) {
	g, u := f.g[:n], f.u[:n]
	if n < 2*parallelElems {
		siluRange(g, u, 0, n)
		return
	}
	kernel.ParallelFor(n, parallelElems, func(lo, hi int) { siluRange(g, u, lo, hi) })
}

// parallelElems is the least work (elements) per worker for which the
// element-wise steps of a prompt are split.
const parallelElems = 1 << 14

func siluRange(g, u []float32, lo, hi int) {
	const chunk = 1024
	var s [chunk]float32
	for i := lo; i < hi; i += chunk {
		j := min(i+chunk, hi)
		t := s[:j-i]
		kernel.SigmoidF32(t, g[i:j])
		kernel.MulF32(g[i:j], g[i:j], t)
		kernel.MulF32(g[i:j], g[i:j], u[i:j])
	}
}

// rotary rotates the heads of t (rows × heads × head_dim) by their
// positions' angles: t·cos + rotate_half(t)·sin, with rotate_half(x1, x2)
// = (-x2, x1), as Model.llama's rotary.
func (f *fastGen) rotary(t []float32, rows, heads int) {
	per := f.cfg.HeadDim * heads
	if rows*per < 2*parallelElems {
		f.rotaryRows(t, heads, 0, rows)
		return
	}
	kernel.ParallelFor(rows, max(1, parallelElems/per), func(lo, hi int) { f.rotaryRows(t, heads, lo, hi) })
}

func (f *fastGen) rotaryRows(t []float32, heads, lo, hi int) {
	hd := f.cfg.HeadDim
	half := hd / 2
	for r := lo; r < hi; r++ {
		p := f.pos[r] * hd
		cos, sin := f.cos[p:p+hd], f.sin[p:p+hd]
		for h := range heads {
			v := t[(r*heads+h)*hd:][:hd]
			for i := range half {
				x1, x2 := v[i], v[i+half]
				v[i] = x1*cos[i] + -x2*sin[i]
				v[i+half] = x2*cos[i+half] + x1*sin[i+half]
			}
		}
	}
}

func addBias(x, b []float32) {
	if b == nil {
		return
	}
	for r := 0; r < len(x); r += len(b) {
		kernel.AddF32(x[r:r+len(b)], x[r:r+len(b)], b)
	}
}

// attention returns the layout of a step's attention, the same in every
// layer, and its mask (nil for none). One token per row (a generation
// step) attends as one entry per row and key-value head whose queries are
// the head's group, so that each key is read once per group; a prompt as
// one entry per row and query head, T queries each.
func (f *fastGen) attention(T, S int) (loops.Attn, *loops.AttnMask[float32]) {
	c := f.cfg
	B, hd := f.B, c.HeadDim
	H, KV := c.NumAttentionHeads, c.NumKeyValueHeads
	G := H / KV
	a := loops.Attn{S: S, E: hd, Ev: hd, Scale: 1 / math.Sqrt(float64(hd))}
	if T == 1 {
		a.B, a.L = B*KV, G
	} else {
		a.B, a.L = B*H, T
	}
	f.offQ, f.offK = buf(f.offQ, a.B), buf(f.offK, a.B)
	for e := range a.B {
		if T == 1 {
			b, j := e/KV, e%KV
			f.offQ[e] = b*H*hd + j*G*hd
			f.offK[e] = (b*KV + j) * f.cap * hd
		} else {
			b, h := e/H, e%H
			f.offQ[e] = b*T*H*hd + h*hd
			f.offK[e] = (b*KV + h/G) * f.cap * hd
		}
	}
	start := S - T
	switch {
	case !f.padded && T == 1:
		return a, nil
	case !f.padded && start == 0:
		a.Causal = true
		return a, nil
	}
	// as attnMask: query t of row b (position start+t) sees the keys
	// pads[b] <= j <= start+t; a padding query only itself
	f.mask = buf(f.mask, B*T*S)
	inf := float32(math.Inf(-1))
	for b := range B {
		p := 0
		if f.pads != nil {
			p = f.pads[b]
		}
		for t := range T {
			q := start + t
			row := f.mask[(b*T+t)*S:][:S]
			for j := range row {
				row[j] = 0
				if j > q || j < p && !(q < p && j == q) {
					row[j] = inf
				}
			}
		}
	}
	f.offM = buf(f.offM, a.B)
	m := &loops.AttnMask[float32]{Data: f.mask, Off: f.offM, CS: 1}
	for e := range a.B {
		if T == 1 {
			f.offM[e] = e / KV * S // every query of the group: the row's mask
		} else {
			f.offM[e] = e / H * T * S
			m.RS = S
		}
	}
	return a, m
}

// attend sets f.att (B·T × H·head_dim) to the attention of the step's
// queries f.q over layer li's cached keys and values.
func (f *fastGen) attend(li int, a loops.Attn, mask *loops.AttnMask[float32], T int) {
	c := f.cfg
	hd, H := c.HeadDim, c.NumAttentionHeads
	f.lse = buf(f.lse, a.B*a.L)
	q := loops.AttnMat[float32]{Data: f.q, Off: f.offQ, LD: hd}
	if T > 1 {
		q.LD = H * hd
	}
	k := loops.AttnMat[float32]{Data: f.kc[li], Off: f.offK, LD: hd}
	v := loops.AttnMat[float32]{Data: f.vc[li], Off: f.offK, LD: hd}
	if T == 1 {
		// entries (row, key-value head) of the group's queries: the
		// output is (B, H·head_dim) as it is
		loops.AttnFwd(a, loops.ContigMat(f.att[:a.B*a.L*hd], a.B, a.L, hd), f.lse, q, k, v, mask)
		return
	}
	out := f.out[:a.B*a.L*hd] // (B, H, T, head_dim)
	loops.AttnFwd(a, loops.ContigMat(out, a.B, a.L, hd), f.lse, q, k, v, mask)
	B := f.B
	for b := range B {
		for h := range H {
			for t := range T {
				copy(f.att[((b*T+t)*H+h)*hd:][:hd], out[((b*H+h)*T+t)*hd:][:hd])
			}
		}
	}
}
