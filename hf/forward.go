package hf

import (
	"math"
	"slices"
	"strconv"

	"github.com/nabla-go/nabla"
)

// Cache holds the keys and values of the tokens a model has seen, layer by
// layer, so that each generated token costs one step over one token rather
// than a rerun of the whole prefix. Rows may be left-padded (a batch of
// prompts of different lengths): pads[b] leading positions of row b are
// padding, never attended to, and its real tokens take positions from 0.
type Cache struct {
	k, v []*nabla.Tensor // per layer: (B, H, S, hd) for GPT-2, (B, Hkv, 1, S, hd) for Llama
	// per layer, outside a graph: buffers whose first S rows k and v view
	kbuf, vbuf []*nabla.Tensor
	pads       []int
	n          int // S, the positions cached

	// arena, when set (by Generate), holds the activations of a step:
	// the caller resets it once it has read the step's logits
	arena *nabla.Arena
}

// NewCache returns an empty cache for batch rows with the given left
// padding (nil for none). len(pads) must be the batch size when given.
func (m *Model) NewCache(pads []int) *Cache {
	return &Cache{pads: pads}
}

// Len returns the number of positions the cache holds.
func (c *Cache) Len() int { return c.n }

// Forward maps token ids (B, T) to logits (B, T, V), with no cache. It
// implements nn.Module.
func (m *Model) Forward(ids *nabla.Tensor) *nabla.Tensor {
	return m.Logits(m.Hidden(ids, nil))
}

// Step returns the logits (B, T, V) of the new tokens ids (B, T), which
// follow the c.Len() tokens the cache holds, and adds them to c.
func (m *Model) Step(ids *nabla.Tensor, c *Cache) *nabla.Tensor {
	return m.Logits(m.Hidden(ids, c))
}

// Logits projects final hidden states (B, T, H) to the vocabulary.
func (m *Model) Logits(h *nabla.Tensor) *nabla.Tensor {
	head := m.w("lm_head.weight")
	if head == nil {
		if m.family == GPT2 {
			head = m.w("transformer.wte.weight")
		} else {
			head = m.w("model.embed_tokens.weight")
		}
	}
	s := h.Shape()
	return h.Reshape(-1, s[len(s)-1]).MatMul(head.T()).Reshape(s[0], s[1], -1)
}

// Hidden returns the hidden states (B, T, H) after the final norm, for
// the tokens ids (B, T) following those in c (nil for none).
func (m *Model) Hidden(ids *nabla.Tensor, c *Cache) *nabla.Tensor {
	sh := ids.Shape()
	if len(sh) != 2 {
		panic(&nabla.ShapeError{Op: "hf.Model", Reason: "token ids must be (batch, time)", Shapes: [][]int{sh}})
	}
	B, T := sh[0], sh[1]
	start := 0
	var pads []int
	if c != nil {
		start, pads = c.n, c.pads
		if pads != nil && len(pads) != B {
			panic(&nabla.ShapeError{Op: "hf.Model", Reason: "the cache has padding for " + strconv.Itoa(len(pads)) + " rows, the batch has " + strconv.Itoa(B), Shapes: [][]int{sh}})
		}
	}
	if start+T > m.MaxPositions() {
		panic(&nabla.ValueError{Op: "hf.Model", Reason: "sequence of " + strconv.Itoa(start+T) + " positions is longer than the model's " + strconv.Itoa(m.MaxPositions())})
	}
	vocab := m.Config.VocabSize
	flat := ids.Ints()
	for i, id := range flat {
		if id < 0 || id >= vocab {
			panic(&nabla.ValueError{Op: "hf.Model", Reason: "token id " + strconv.Itoa(id) + " at (" + strconv.Itoa(i/T) + ", " + strconv.Itoa(i%T) + ") is outside the vocabulary of " + strconv.Itoa(vocab)})
		}
	}
	pos := make([]int, B*T)
	padded := false
	for b := range B {
		p := 0
		if pads != nil {
			p = pads[b]
			padded = padded || p > 0
		}
		for t := range T {
			pos[b*T+t] = max(0, start+t-p)
		}
	}
	at := attention{B: B, T: T, S: start + T, start: start}
	switch {
	case padded || T > 1 && start > 0:
		at.mask = attnMask(B, T, start, pads)
	case T > 1:
		at.causal = true
	}
	idx := indexTensor(flat)
	if m.family == GPT2 {
		return m.gpt2(idx, indexTensor(pos), at, c)
	}
	return m.llama(idx, indexTensor(pos), at, c)
}

// indexTensor holds ids as an Int64 index tensor.
func indexTensor(ids []int) *nabla.Tensor { return nabla.FromSlice(ids) }

type attention struct {
	B, T, S, start int
	causal         bool
	mask           *nabla.Tensor // (B, 1, T, S), 0 or -Inf
}

// attnMask allows query t of row b (at position start+t) the keys j with
// pads[b] <= j <= start+t; a padding query sees only itself, so that its
// softmax (whose result is never used) stays finite.
func attnMask(B, T, start int, pads []int) *nabla.Tensor {
	S := start + T
	m := make([]float32, B*T*S)
	inf := float32(math.Inf(-1))
	for b := range B {
		p := 0
		if pads != nil {
			p = pads[b]
		}
		for t := range T {
			q := start + t
			row := m[(b*T+t)*S:][:S]
			for j := range row {
				if j > q || j < p && !(q < p && j == q) {
					row[j] = inf
				}
			}
		}
	}
	return nabla.FromSlice(m, B, 1, T, S)
}

func (m *Model) gpt2(ids, pos *nabla.Tensor, at attention, c *Cache) *nabla.Tensor {
	cfg := m.Config
	n, H := cfg.NEmbd, cfg.NHead
	hd := n / H
	B, T := at.B, at.T
	// (B·T, n); the rows of bfloat16 tables (WeightDType) widen to float32
	x := c.inArena(m.w("transformer.wte.weight").IndexSelect(0, ids).To(nabla.Float32)).Add(m.w("transformer.wpe.weight").IndexSelect(0, pos).To(nabla.Float32))
	ln := func(x *nabla.Tensor, p string) *nabla.Tensor {
		return nabla.LayerNorm(x, []int{n}, cfg.LayerNormEpsilon).Mul(m.w(p + ".weight")).Add(m.w(p + ".bias"))
	}
	conv1d := func(x *nabla.Tensor, p string) *nabla.Tensor { // GPT-2's Conv1D: x·W + b, W (in, out)
		return m.withLoRA(p, x, x.MatMul(m.w(p+".weight")).Add(m.w(p+".bias")))
	}
	for i := range cfg.NLayer {
		p := "transformer.h." + strconv.Itoa(i) + "."
		qkv := conv1d(ln(x, p+"ln_1"), p+"attn.c_attn")
		parts := qkv.Split(1, n, n, n)
		heads := func(t *nabla.Tensor) *nabla.Tensor { return t.Reshape(B, T, H, hd).Permute(0, 2, 1, 3) } // (B, H, T, hd)
		q, k, v := heads(parts[0]), heads(parts[1]), heads(parts[2])
		k, v = c.append(i, k, v, 2)
		a := nabla.ScaledDotProductAttention(q, k, v, at.options())
		a = a.Permute(0, 2, 1, 3).Reshape(B*T, n)
		x = x.Add(conv1d(a, p+"attn.c_proj"))
		h := conv1d(ln(x, p+"ln_2"), p+"mlp.c_fc").GeluTanh() // gelu_new
		x = x.Add(conv1d(h, p+"mlp.c_proj"))
	}
	if c != nil {
		c.n += T
	}
	return ln(x, "transformer.ln_f").Reshape(B, T, n)
}

func (m *Model) llama(ids, pos *nabla.Tensor, at attention, c *Cache) *nabla.Tensor {
	cfg := m.Config
	hs, hd := cfg.HiddenSize, cfg.HeadDim
	H, KV := cfg.NumAttentionHeads, cfg.NumKeyValueHeads
	G := H / KV
	B, T := at.B, at.T
	x := c.inArena(m.w("model.embed_tokens.weight").IndexSelect(0, ids).To(nabla.Float32)) // (B·T, hs), float32 from bfloat16 tables too
	cos := m.ropeCos.IndexSelect(0, pos).Reshape(B, T, 1, hd)
	sin := m.ropeSin.IndexSelect(0, pos).Reshape(B, T, 1, hd)
	rotary := func(t *nabla.Tensor) *nabla.Tensor { // t (B, T, heads, hd)
		x1, x2 := t.Slice(3, 0, hd/2, 1), t.Slice(3, hd/2, hd, 1)
		rot := nabla.Concat([]*nabla.Tensor{x2.Neg(), x1}, 3)
		return t.Mul(cos).Add(rot.Mul(sin))
	}
	rms := func(x *nabla.Tensor, p string) *nabla.Tensor {
		return rmsNorm(x, m.w(p+".weight"), cfg.RMSNormEps)
	}
	linear := func(x *nabla.Tensor, p string) *nabla.Tensor {
		y := x.MatMul(m.w(p + ".weight").T())
		if b := m.w(p + ".bias"); b != nil {
			y = y.Add(b)
		}
		return m.withLoRA(p, x, y)
	}
	for i := range cfg.NumHiddenLayers {
		p := "model.layers." + strconv.Itoa(i) + "."
		h := rms(x, p+"input_layernorm")
		q := rotary(linear(h, p+"self_attn.q_proj").Reshape(B, T, H, hd))
		k := rotary(linear(h, p+"self_attn.k_proj").Reshape(B, T, KV, hd))
		v := linear(h, p+"self_attn.v_proj")
		// grouped-query attention as a broadcast: q (B, KV, G, T, hd)
		// against k and v (B, KV, 1, S, hd); query head h uses key head
		// h / G, as transformers' repeat_kv
		q = q.Reshape(B, T, KV, G, hd).Permute(0, 2, 3, 1, 4)
		k = k.Reshape(B, T, KV, 1, hd).Permute(0, 2, 3, 1, 4)
		v = v.Reshape(B, T, KV, 1, hd).Permute(0, 2, 3, 1, 4)
		k, v = c.append(i, k, v, 3)
		o := at.options()
		if o.Mask != nil {
			o.Mask = o.Mask.Unsqueeze(1) // (B, 1, 1, T, S)
		}
		a := nabla.ScaledDotProductAttention(q, k, v, o) // (B, KV, G, T, hd)
		a = a.Permute(0, 3, 1, 2, 4).Reshape(B*T, H*hd)
		x = x.Add(linear(a, p+"self_attn.o_proj"))
		h = rms(x, p+"post_attention_layernorm")
		g := linear(h, p+"mlp.gate_proj")
		x = x.Add(linear(g.Mul(g.Sigmoid()).Mul(linear(h, p+"mlp.up_proj")), p+"mlp.down_proj"))
	}
	if c != nil {
		c.n += T
	}
	return rms(x, "model.norm").Reshape(B, T, hs)
}

func (at attention) options() nabla.AttentionOptions {
	return nabla.AttentionOptions{Causal: at.causal, Mask: at.mask}
}

// inArena returns x in the cache's arena, if it has one, so that the ops
// of the step that follow take their outputs' memory from it.
func (c *Cache) inArena(x *nabla.Tensor) *nabla.Tensor {
	if c == nil || c.arena == nil {
		return x
	}
	return x.InArena(c.arena)
}

// append adds one layer's new keys and values to the cache along axis (the
// sequence axis, next to last) and returns all of them; a nil cache
// returns k and v. Outside a recorded graph the cache is a buffer with
// room to grow, written in place, and the result a view of its filled
// part, so that a step copies only its new rows; with gradients it
// concatenates, as a graph needs.
func (c *Cache) append(layer int, k, v *nabla.Tensor, axis int) (*nabla.Tensor, *nabla.Tensor) {
	if c == nil {
		return k, v
	}
	for len(c.k) <= layer {
		c.k, c.v = append(c.k, nil), append(c.v, nil)
		c.kbuf, c.vbuf = append(c.kbuf, nil), append(c.vbuf, nil)
	}
	if k.RequiresGrad() || v.RequiresGrad() {
		if c.k[layer] != nil {
			k = nabla.Concat([]*nabla.Tensor{c.k[layer], k}, axis)
			v = nabla.Concat([]*nabla.Tensor{c.v[layer], v}, axis)
		}
		c.k[layer], c.v[layer] = k, v
		return k, v
	}
	c.kbuf[layer] = grow(c.kbuf[layer], k, c.n, axis)
	c.vbuf[layer] = grow(c.vbuf[layer], v, c.n, axis)
	n := c.n + k.Shape()[axis]
	c.k[layer] = c.kbuf[layer].Slice(axis, 0, n, 1)
	c.v[layer] = c.vbuf[layer].Slice(axis, 0, n, 1)
	return c.k[layer], c.v[layer]
}

// grow writes x's rows along axis after the first n rows of buf (a
// contiguous float32 buffer of x's shape but for a longer axis), making
// a buffer twice as long when they do not fit, and returns it.
func grow(buf, x *nabla.Tensor, n, axis int) *nabla.Tensor {
	xs := x.Shape()
	t := xs[axis]
	if buf == nil || buf.Shape()[axis] < n+t {
		size := slices.Clone(xs)
		size[axis] = max(2*(n+t), 64)
		nb := nabla.Zeros(size...)
		if buf != nil {
			copyRows(nb, buf, 0, n, axis)
		}
		buf = nb
	}
	copyRows(buf, x, n, t, axis)
	return buf
}

// copyRows copies rows [0, t) of src along axis (all axes before it are
// outer, the ones after it inner) to rows [at, at+t) of the contiguous dst.
func copyRows(dst, src *nabla.Tensor, at, t, axis int) {
	ds := dst.Shape()
	s := src
	if s.Shape()[axis] != t {
		s = s.Slice(axis, 0, t, 1)
	}
	vals := s.Contiguous().Data32()
	outer, inner := 1, 1
	for _, d := range ds[:axis] {
		outer *= d
	}
	for _, d := range ds[axis+1:] {
		inner *= d
	}
	d := dst.Data32()
	rows := ds[axis]
	for o := range outer {
		copy(d[(o*rows+at)*inner:][:t*inner], vals[o*t*inner:][:t*inner])
	}
}

// rmsNorm is x / √(mean(x²) + eps) · w over the last axis, as LLaMA's
// RMSNorm.
func rmsNorm(x, w *nabla.Tensor, eps float64) *nabla.Tensor {
	s := x.Shape()
	return nabla.RMSNorm(x, s[len(s)-1:], eps).Mul(w)
}
