package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/nabla-go/nabla"
)

// MultiheadAttention is torch.nn.MultiheadAttention: the inputs are
// projected to queries, keys and values, split into NumHeads heads of
// EmbedDim/NumHeads features, attended with
// [nabla.ScaledDotProductAttention] and projected back by OutProj.
//
// Its parameters carry PyTorch's names: "in_proj_weight" (3E, E) when
// keys and values have EmbedDim features, otherwise "q_proj_weight"
// (E, E), "k_proj_weight" (E, kdim) and "v_proj_weight" (E, vdim);
// "in_proj_bias" (3E) unless built without bias; "bias_k" and "bias_v"
// (1, 1, E) with add_bias_kv; "out_proj.weight" and "out_proj.bias".
// PyTorch's add_zero_attn is not supported.
type MultiheadAttention struct {
	EmbedDim, NumHeads int
	InProjWeight       *nabla.Tensor // (3E, E), or nil with separate projections
	QProjWeight        *nabla.Tensor // (E, E) when kdim or vdim differ from E
	KProjWeight        *nabla.Tensor // (E, kdim)
	VProjWeight        *nabla.Tensor // (E, vdim)
	InProjBias         *nabla.Tensor // (3E), or nil without bias
	BiasK, BiasV       *nabla.Tensor // (1, 1, E) with add_bias_kv, else nil
	OutProj            *Linear       // E → E

	Dropout    float64    // probability of dropping an attention weight in training
	BatchFirst bool       // inputs are (N, L, E) instead of (L, N, E)
	Training   bool       // training mode (the default) or evaluation mode
	Rng        *rand.Rand // draws the dropout masks; needed when Dropout > 0
}

// MHAConfig holds NewMultiheadAttention's optional arguments, as in
// PyTorch; zero values are PyTorch's defaults except NoBias, which is
// bias=False.
type MHAConfig struct {
	Dropout    float64
	NoBias     bool // bias=False: no in_proj_bias and no out_proj.bias
	AddBiasKV  bool // add_bias_kv=True
	KDim, VDim int  // kdim and vdim; 0 means embedDim
	BatchFirst bool
}

// NewMultiheadAttention returns a MultiheadAttention initialised as
// PyTorch does: the input projections by Xavier-uniform, their bias and
// OutProj's bias 0, OutProj's weight as [NewLinear]'s, bias_k and bias_v
// by Xavier-normal; float32, drawn from rng, which also draws the dropout
// masks. It panics with a *nabla.ValueError if embedDim is not a positive
// multiple of numHeads or the dropout is outside [0, 1).
func NewMultiheadAttention(rng *rand.Rand, embedDim, numHeads int, cfg MHAConfig) *MultiheadAttention {
	if embedDim <= 0 || numHeads <= 0 || embedDim%numHeads != 0 {
		panic(&nabla.ValueError{Op: "nn.NewMultiheadAttention", Reason: fmt.Sprintf("embed_dim %d must be a positive multiple of num_heads %d", embedDim, numHeads)})
	}
	if !(cfg.Dropout >= 0 && cfg.Dropout < 1) {
		panic(&nabla.ValueError{Op: "nn.NewMultiheadAttention", Reason: fmt.Sprintf("dropout %v is outside [0, 1)", cfg.Dropout)})
	}
	kd, vd := cfg.KDim, cfg.VDim
	if kd == 0 {
		kd = embedDim
	}
	if vd == 0 {
		vd = embedDim
	}
	m := &MultiheadAttention{EmbedDim: embedDim, NumHeads: numHeads, Dropout: cfg.Dropout, BatchFirst: cfg.BatchFirst, Training: true, Rng: rng}
	E := embedDim
	if kd == E && vd == E {
		m.InProjWeight = XavierUniform(rng, nabla.Zeros(3*E, E), 1).RequireGrad()
	} else {
		m.QProjWeight = XavierUniform(rng, nabla.Zeros(E, E), 1).RequireGrad()
		m.KProjWeight = XavierUniform(rng, nabla.Zeros(E, kd), 1).RequireGrad()
		m.VProjWeight = XavierUniform(rng, nabla.Zeros(E, vd), 1).RequireGrad()
	}
	m.OutProj = NewLinear(rng, E, E)
	if cfg.NoBias {
		m.OutProj.Bias = nil
	} else {
		m.InProjBias = nabla.Zeros(3 * E).RequireGrad()
		m.OutProj.Bias = nabla.Zeros(E).RequireGrad()
	}
	if cfg.AddBiasKV {
		m.BiasK = XavierNormal(rng, nabla.Zeros(1, 1, E), 1).RequireGrad()
		m.BiasV = XavierNormal(rng, nabla.Zeros(1, 1, E), 1).RequireGrad()
	}
	return m
}

// String describes the layer as "MultiheadAttention(E, heads=H)".
func (m *MultiheadAttention) String() string {
	return fmt.Sprintf("MultiheadAttention(%d, heads=%d)", m.EmbedDim, m.NumHeads)
}

// AttendOptions are the optional arguments of [MultiheadAttention.Attend].
type AttendOptions struct {
	// KeyPaddingMask (N, S), or (S) for an unbatched input, marks the
	// padding keys: a Bool mask true at them, or a float mask added to
	// the scores of each key (-Inf for padding), as PyTorch's
	// key_padding_mask.
	KeyPaddingMask *nabla.Tensor
	// AttnMask (L, S) or (N·H, L, S) is a Bool mask true where a query
	// must not see a key, or a float mask added to the scores, as
	// [GenerateSquareSubsequentMask] makes (PyTorch's attn_mask).
	AttnMask *nabla.Tensor
	// Causal masks out the keys after each query, as an AttnMask from
	// GenerateSquareSubsequentMask would, without building it.
	Causal bool
	// NeedWeights also returns the attention weights, (N, L, S) averaged
	// over the heads, or (N, H, L, S) with PerHeadWeights
	// (average_attn_weights=False). They are then computed by ops (the
	// whole matrix), not by the fused kernel. PyTorch's default is
	// need_weights=True; the zero value here is False.
	NeedWeights    bool
	PerHeadWeights bool
}

// Forward is self-attention, Attend(x, x, x) without masks; see [Module].
func (m *MultiheadAttention) Forward(x *nabla.Tensor) *nabla.Tensor {
	y, _ := m.Attend(x, x, x, AttendOptions{})
	return y
}

// Attend computes multi-head attention of query (L, N, E) over key
// (S, N, kdim) and value (S, N, vdim), or (N, L, E) etc. with BatchFirst,
// or unbatched (L, E), (S, kdim), (S, vdim); the output has the query's
// shape, and the weights are nil unless o.NeedWeights. It panics with a
// *nabla.ShapeError naming the layer if the shapes do not fit.
func (m *MultiheadAttention) Attend(query, key, value *nabla.Tensor, o AttendOptions) (out, weights *nabla.Tensor) {
	E, H := m.EmbedDim, m.NumHeads
	D := E / H
	kd, vd := E, E
	if m.InProjWeight == nil {
		kd, vd = m.KProjWeight.Size(1), m.VProjWeight.Size(1)
	}
	self := query == key && key == value
	unbatched := query.Dim() == 2
	want := 3
	if unbatched {
		want = 2
	}
	for _, c := range []struct {
		name string
		x    *nabla.Tensor
		d    int
	}{{"query", query, E}, {"key", key, kd}, {"value", value, vd}} {
		if c.x.Dim() != want || c.x.Size(-1) != c.d {
			panic(shapeErr(m.String(), c.x, "%s: want a %d-d input with %d features in the last dimension (query's rank sets batched or not)", c.name, want, c.d))
		}
	}
	// Work in the caller's layout, (N, L, E) or (L, N, E), so that the
	// output needs no transposing copy; an unbatched input is a batch of
	// one in (N, L, E).
	bf := m.BatchFirst || unbatched
	if unbatched {
		query, key, value = query.Unsqueeze(0), key.Unsqueeze(0), value.Unsqueeze(0)
	}
	bax, sax := 1, 0 // the batch and sequence axes
	if bf {
		bax, sax = 0, 1
	}
	L, N, S := query.Size(sax), query.Size(bax), key.Size(sax)
	if key.Size(bax) != N || value.Size(bax) != N || value.Size(sax) != S {
		panic(&nabla.ShapeError{Op: m.String(), Shapes: [][]int{query.Shape(), key.Shape(), value.Shape()}, Reason: "query, key and value must share the batch size, key and value the sequence length"})
	}
	p := 0.0
	if m.Training {
		p = m.Dropout
	}
	if self && m.InProjWeight != nil && m.BiasK == nil && !o.NeedWeights && bf {
		// Self-attention, batch first: one projection into the packed
		// (N, L, 3E) queries, keys and values, attended as they lie.
		qkv := nabla.Linear(query, m.InProjWeight, m.InProjBias)
		mask := m.mergeMasks(o, L, N, S, S, qkv.DType())
		ctx := nabla.SelfAttentionPacked(qkv, H, nabla.AttentionOptions{Mask: mask, Causal: o.Causal, Dropout: p, Rng: m.Rng})
		out = m.OutProj.Forward(ctx)
		if unbatched {
			out = out.Squeeze(0)
		}
		return out, nil
	}
	q, k, v := m.project(query, key, value)
	if m.BiasK != nil {
		shape := []int{1, N, E}
		if bf {
			shape = []int{N, 1, E}
		}
		k = nabla.Concat([]*nabla.Tensor{k, m.BiasK.Reshape(1, 1, E).BroadcastTo(shape...)}, sax)
		v = nabla.Concat([]*nabla.Tensor{v, m.BiasV.Reshape(1, 1, E).BroadcastTo(shape...)}, sax)
	}
	Sk := k.Size(sax)
	mask := m.mergeMasks(o, L, N, S, Sk, q.DType())
	// (·, ·, H·D) → (N, H, L, D): a view, which the attention kernel reads
	// without a copy.
	heads := func(x *nabla.Tensor, n int) *nabla.Tensor {
		if bf {
			return x.Reshape(N, n, H, D).Permute(0, 2, 1, 3)
		}
		return x.Reshape(n, N, H, D).Permute(1, 2, 0, 3)
	}
	qh, kh, vh := heads(q, L), heads(k, Sk), heads(v, Sk)
	var ctx *nabla.Tensor
	if o.NeedWeights {
		w := qh.MatMul(kh.Transpose(-2, -1)).MulScalar(1 / math.Sqrt(float64(D)))
		if mask != nil {
			w = w.Add(mask)
		}
		if o.Causal {
			w = w.Add(causalMask(L, Sk).To(w.DType()))
		}
		w = w.Softmax(-1)
		if p > 0 {
			w = (&Dropout{P: p, Rng: m.Rng, Training: true}).Forward(w)
		}
		ctx = w.MatMul(vh)
		weights = w
		if !o.PerHeadWeights {
			weights = w.Mean(1)
		}
		if unbatched {
			weights = weights.Squeeze(0)
		}
	} else {
		ctx = nabla.ScaledDotProductAttention(qh, kh, vh, nabla.AttentionOptions{Mask: mask, Causal: o.Causal, Dropout: p, Rng: m.Rng})
	}
	// (N, H, L, D) → the input's layout
	if bf {
		ctx = ctx.Permute(0, 2, 1, 3).Reshape(N, L, E)
	} else {
		ctx = ctx.Permute(2, 0, 1, 3).Reshape(L, N, E)
	}
	out = m.OutProj.Forward(ctx)
	if unbatched {
		out = out.Squeeze(0)
	}
	return out, weights
}

// project applies the input projections.
func (m *MultiheadAttention) project(query, key, value *nabla.Tensor) (q, k, v *nabla.Tensor) {
	E := m.EmbedDim
	var wq, wk, wv, bq, bk, bv *nabla.Tensor
	if m.InProjWeight != nil {
		ws := m.InProjWeight.Split(0, E, E, E)
		wq, wk, wv = ws[0], ws[1], ws[2]
	} else {
		wq, wk, wv = m.QProjWeight, m.KProjWeight, m.VProjWeight
	}
	if m.InProjBias != nil {
		bs := m.InProjBias.Split(0, E, E, E)
		bq, bk, bv = bs[0], bs[1], bs[2]
	}
	return nabla.Linear(query, wq, bq), nabla.Linear(key, wk, bk), nabla.Linear(value, wv, bv)
}

// mergeMasks returns the additive mask over (N, H, L, Sk) scores that the
// attention mask and the key padding mask make together, nil for none.
// Sk is S plus one for bias_k, whose column no mask hides.
func (m *MultiheadAttention) mergeMasks(o AttendOptions, L, N, S, Sk int, dt nabla.DType) *nabla.Tensor {
	H := m.NumHeads
	var mask *nabla.Tensor
	if a := o.AttnMask; a != nil {
		switch {
		case a.Dim() == 2 && a.Size(0) == L && a.Size(1) == S:
		case a.Dim() == 3 && a.Size(0) == N*H && a.Size(1) == L && a.Size(2) == S:
			a = a.Reshape(N, H, L, S)
		default:
			panic(shapeErr(m.String(), a, "attn_mask: want (L, S) = (%d, %d) or (N·H, L, S) = (%d, %d, %d)", L, S, N*H, L, S))
		}
		mask = padKeys(floatMask(m.String(), "attn_mask", a, dt), Sk-S)
	}
	if kp := o.KeyPaddingMask; kp != nil {
		switch {
		case kp.Dim() == 2 && kp.Size(0) == N && kp.Size(1) == S:
		case kp.Dim() == 1 && N == 1 && kp.Size(0) == S:
			kp = kp.Unsqueeze(0)
		default:
			panic(shapeErr(m.String(), kp, "key_padding_mask: want (N, S) = (%d, %d)", N, S))
		}
		kp = padKeys(floatMask(m.String(), "key_padding_mask", kp, dt), Sk-S).Reshape(N, 1, 1, Sk)
		if mask == nil {
			mask = kp
		} else {
			mask = mask.Add(kp)
		}
	}
	return mask
}

// floatMask returns mask as an additive float mask of dtype dt: a Bool
// mask (true where attention is not allowed, as in PyTorch 1.13) becomes
// -Inf there and 0 elsewhere.
func floatMask(layer, name string, mask *nabla.Tensor, dt nabla.DType) *nabla.Tensor {
	switch {
	case mask.DType() == nabla.Bool:
		return nabla.Where(mask, nabla.FullOf(dt, math.Inf(-1)), nabla.FullOf(dt, 0))
	case !mask.DType().IsFloat():
		panic(&nabla.ValueError{Op: layer, Reason: fmt.Sprintf("%s is %v, want a Bool or float mask", name, mask.DType())})
	}
	return mask.To(dt)
}

// padKeys appends n zero columns to the last axis of a mask (for bias_k).
func padKeys(mask *nabla.Tensor, n int) *nabla.Tensor {
	if n == 0 {
		return mask
	}
	shape := mask.Shape()
	shape[len(shape)-1] = n
	return nabla.Concat([]*nabla.Tensor{mask, nabla.FullOf(mask.DType(), 0, shape...)}, -1)
}

// Children returns "out_proj".
func (m *MultiheadAttention) Children() []Child { return []Child{{"out_proj", m.OutProj}} }

// Params lists the parameters in PyTorch's state_dict order.
func (m *MultiheadAttention) Params() []Param {
	own := params(Param{"in_proj_weight", m.InProjWeight}, Param{"q_proj_weight", m.QProjWeight},
		Param{"k_proj_weight", m.KProjWeight}, Param{"v_proj_weight", m.VProjWeight},
		Param{"in_proj_bias", m.InProjBias}, Param{"bias_k", m.BiasK}, Param{"bias_v", m.BiasV})
	return append(own, Collect(m.Children()...)...)
}

// SetParam replaces a parameter of the layer itself; see [ParamSetter].
func (m *MultiheadAttention) SetParam(name string, t *nabla.Tensor) {
	slots := map[string]**nabla.Tensor{"in_proj_weight": &m.InProjWeight, "q_proj_weight": &m.QProjWeight,
		"k_proj_weight": &m.KProjWeight, "v_proj_weight": &m.VProjWeight, "in_proj_bias": &m.InProjBias,
		"bias_k": &m.BiasK, "bias_v": &m.BiasV}
	s, ok := slots[name]
	if !ok {
		unknownParam(m.String(), name)
	}
	replace(m.String(), name, s, t)
}

// SetTraining switches between training (dropout on) and evaluation mode.
func (m *MultiheadAttention) SetTraining(on bool) { m.Training = on }

// GenerateSquareSubsequentMask returns the (n, n) float32 mask with -Inf
// above the diagonal and 0 elsewhere, as
// torch.nn.Transformer.generate_square_subsequent_mask: added to the
// scores, it hides from each position the positions after it.
func GenerateSquareSubsequentMask(n int) *nabla.Tensor { return causalMask(n, n) }

// causalMask returns the (l, s) mask with -Inf where key j > query i.
func causalMask(l, s int) *nabla.Tensor {
	d := make([]float32, l*s)
	for i := range l {
		for j := i + 1; j < s; j++ {
			d[i*s+j] = float32(math.Inf(-1))
		}
	}
	return nabla.FromSlice(d, l, s)
}
