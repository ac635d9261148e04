package nn

import (
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/nabla-go/nabla"
)

// TransformerConfig holds the options of the Transformer layers, named as
// torch.nn.TransformerEncoderLayer's. Zero values take PyTorch's defaults,
// except Dropout, which is used as given (PyTorch's default is 0.1; 0
// here means none).
type TransformerConfig struct {
	DimFeedforward int     // width of the feed-forward block; 0 means 2048
	Dropout        float64 // dropout after attention, in and after the feed-forward block, and of the attention weights
	Activation     string  // "relu" (the default, also for "") or "gelu"
	LayerNormEps   float64 // 0 means 1e-5
	BatchFirst     bool    // inputs are (N, L, E) instead of (L, N, E)
	NormFirst      bool    // layer norm before attention and feed-forward (pre-norm) instead of after
}

func (c TransformerConfig) withDefaults(op string) TransformerConfig {
	if c.DimFeedforward == 0 {
		c.DimFeedforward = 2048
	}
	if c.LayerNormEps == 0 {
		c.LayerNormEps = 1e-5
	}
	if c.Activation == "" {
		c.Activation = "relu"
	}
	if c.Activation != "relu" && c.Activation != "gelu" {
		panic(&nabla.ValueError{Op: op, Reason: fmt.Sprintf("activation %q is neither relu nor gelu", c.Activation)})
	}
	if !(c.Dropout >= 0 && c.Dropout < 1) || c.DimFeedforward < 0 {
		panic(&nabla.ValueError{Op: op, Reason: fmt.Sprintf("want dropout in [0, 1) and a positive dim_feedforward, got %v and %d", c.Dropout, c.DimFeedforward)})
	}
	return c
}

// feedForward is the block linear2(dropout(activation(linear1(x)))).
type feedForward struct {
	Linear1, Linear2 *Linear
	Dropout          *Dropout
	Activation       string
}

func newFeedForward(rng *rand.Rand, d int, c TransformerConfig) feedForward {
	return feedForward{Linear1: NewLinear(rng, d, c.DimFeedforward), Dropout: NewDropout(rng, c.Dropout),
		Linear2: NewLinear(rng, c.DimFeedforward, d), Activation: c.Activation}
}

func (f feedForward) forward(x *nabla.Tensor) *nabla.Tensor {
	h := f.Linear1.Forward(x)
	if f.Activation == "gelu" {
		h = h.Gelu()
	} else {
		h = h.Relu()
	}
	return f.Linear2.Forward(f.Dropout.Forward(h))
}

func newNorm(d int, eps float64) *LayerNorm {
	n := NewLayerNorm(d)
	n.Eps = eps
	return n
}

// TransformerEncoderLayer is torch.nn.TransformerEncoderLayer: self-
// attention and a feed-forward block, each with a residual connection
// and a layer norm (after it, or before it with NormFirst). Its children
// are named as in PyTorch: "self_attn", "linear1", "dropout", "linear2",
// "norm1", "norm2", "dropout1", "dropout2".
type TransformerEncoderLayer struct {
	SelfAttn           *MultiheadAttention
	Linear1, Linear2   *Linear
	Norm1, Norm2       *LayerNorm
	Dropout            *Dropout // inside the feed-forward block
	Dropout1, Dropout2 *Dropout // after attention and after the feed-forward block
	Activation         string   // "relu" or "gelu"
	NormFirst          bool
}

// NewTransformerEncoderLayer returns an encoder layer of width dModel
// with nhead heads, initialised as PyTorch's (each sub-layer as its own
// constructor does), drawn from rng, which also draws the dropout masks.
// It panics with a *nabla.ValueError on a bad option.
func NewTransformerEncoderLayer(rng *rand.Rand, dModel, nhead int, cfg TransformerConfig) *TransformerEncoderLayer {
	c := cfg.withDefaults("nn.NewTransformerEncoderLayer")
	sa := NewMultiheadAttention(rng, dModel, nhead, MHAConfig{Dropout: c.Dropout, BatchFirst: c.BatchFirst})
	ff := newFeedForward(rng, dModel, c)
	return &TransformerEncoderLayer{SelfAttn: sa, Linear1: ff.Linear1, Dropout: ff.Dropout, Linear2: ff.Linear2,
		Norm1: newNorm(dModel, c.LayerNormEps), Norm2: newNorm(dModel, c.LayerNormEps),
		Dropout1: NewDropout(rng, c.Dropout), Dropout2: NewDropout(rng, c.Dropout), Activation: c.Activation, NormFirst: c.NormFirst}
}

// String describes the layer.
func (l *TransformerEncoderLayer) String() string {
	return fmt.Sprintf("TransformerEncoderLayer(%d, heads=%d, ff=%d, %s)", l.SelfAttn.EmbedDim, l.SelfAttn.NumHeads, l.Linear1.Weight.Size(0), l.Activation)
}

// MaskOptions are the masks of a self-attention block: AttnMask (L, L) or
// (N·H, L, L) and KeyPaddingMask (N, L), Bool (true where attention is
// not allowed) or additive float masks as in [AttendOptions], and Causal,
// which hides later positions without a mask.
type MaskOptions struct {
	AttnMask, KeyPaddingMask *nabla.Tensor
	Causal                   bool
}

func (o MaskOptions) attend() AttendOptions {
	return AttendOptions{AttnMask: o.AttnMask, KeyPaddingMask: o.KeyPaddingMask, Causal: o.Causal}
}

// Forward encodes x without masks; see [TransformerEncoderLayer.Encode].
func (l *TransformerEncoderLayer) Forward(x *nabla.Tensor) *nabla.Tensor {
	return l.Encode(x, MaskOptions{})
}

// Encode applies the layer to src (L, N, E), or (N, L, E) with
// batch_first, with PyTorch's src_mask and src_key_padding_mask in o.
func (l *TransformerEncoderLayer) Encode(src *nabla.Tensor, o MaskOptions) *nabla.Tensor {
	sa := func(x *nabla.Tensor) *nabla.Tensor {
		y, _ := l.SelfAttn.Attend(x, x, x, o.attend())
		return l.Dropout1.Forward(y)
	}
	ff := func(x *nabla.Tensor) *nabla.Tensor {
		return l.Dropout2.Forward(feedForward{l.Linear1, l.Linear2, l.Dropout, l.Activation}.forward(x))
	}
	x := src
	if l.NormFirst {
		x = x.Add(sa(l.Norm1.Forward(x)))
		return x.Add(ff(l.Norm2.Forward(x)))
	}
	x = l.Norm1.Forward(x.Add(sa(x)))
	return l.Norm2.Forward(x.Add(ff(x)))
}

// Children returns the sub-layers with PyTorch's names.
func (l *TransformerEncoderLayer) Children() []Child {
	return []Child{{"self_attn", l.SelfAttn}, {"linear1", l.Linear1}, {"dropout", l.Dropout}, {"linear2", l.Linear2},
		{"norm1", l.Norm1}, {"norm2", l.Norm2}, {"dropout1", l.Dropout1}, {"dropout2", l.Dropout2}}
}

// Params lists the parameters in PyTorch's state_dict order.
func (l *TransformerEncoderLayer) Params() []Param { return Collect(l.Children()...) }

// TransformerDecoderLayer is torch.nn.TransformerDecoderLayer: self-
// attention, attention over the encoder's output (the memory) and a
// feed-forward block, each with a residual connection and a layer norm.
// Its children are "self_attn", "multihead_attn", "linear1", "dropout",
// "linear2", "norm1", "norm2", "norm3", "dropout1", "dropout2", "dropout3".
type TransformerDecoderLayer struct {
	SelfAttn, MultiheadAttn      *MultiheadAttention
	Linear1, Linear2             *Linear
	Norm1, Norm2, Norm3          *LayerNorm
	Dropout                      *Dropout
	Dropout1, Dropout2, Dropout3 *Dropout
	Activation                   string
	NormFirst                    bool
}

// NewTransformerDecoderLayer returns a decoder layer of width dModel with
// nhead heads, initialised as PyTorch's, drawn from rng.
func NewTransformerDecoderLayer(rng *rand.Rand, dModel, nhead int, cfg TransformerConfig) *TransformerDecoderLayer {
	c := cfg.withDefaults("nn.NewTransformerDecoderLayer")
	sa := NewMultiheadAttention(rng, dModel, nhead, MHAConfig{Dropout: c.Dropout, BatchFirst: c.BatchFirst})
	ca := NewMultiheadAttention(rng, dModel, nhead, MHAConfig{Dropout: c.Dropout, BatchFirst: c.BatchFirst})
	ff := newFeedForward(rng, dModel, c)
	return &TransformerDecoderLayer{SelfAttn: sa, MultiheadAttn: ca, Linear1: ff.Linear1, Dropout: ff.Dropout, Linear2: ff.Linear2,
		Norm1: newNorm(dModel, c.LayerNormEps), Norm2: newNorm(dModel, c.LayerNormEps), Norm3: newNorm(dModel, c.LayerNormEps),
		Dropout1: NewDropout(rng, c.Dropout), Dropout2: NewDropout(rng, c.Dropout), Dropout3: NewDropout(rng, c.Dropout),
		Activation: c.Activation, NormFirst: c.NormFirst}
}

// String describes the layer.
func (l *TransformerDecoderLayer) String() string {
	return fmt.Sprintf("TransformerDecoderLayer(%d, heads=%d, ff=%d, %s)", l.SelfAttn.EmbedDim, l.SelfAttn.NumHeads, l.Linear1.Weight.Size(0), l.Activation)
}

// DecodeOptions are the masks of a decoder: PyTorch's tgt_mask and
// tgt_key_padding_mask in Tgt (with Tgt.Causal for a causal mask without
// building it), and memory_mask and memory_key_padding_mask in Memory.
type DecodeOptions struct {
	Tgt, Memory MaskOptions
}

// Forward decodes x attending to itself as the memory; use Decode to
// pass an encoder's output.
func (l *TransformerDecoderLayer) Forward(x *nabla.Tensor) *nabla.Tensor {
	return l.Decode(x, x, DecodeOptions{})
}

// Decode applies the layer to tgt (T, N, E), or (N, T, E) with
// batch_first, attending to memory (S, N, E).
func (l *TransformerDecoderLayer) Decode(tgt, memory *nabla.Tensor, o DecodeOptions) *nabla.Tensor {
	sa := func(x *nabla.Tensor) *nabla.Tensor {
		y, _ := l.SelfAttn.Attend(x, x, x, o.Tgt.attend())
		return l.Dropout1.Forward(y)
	}
	ca := func(x *nabla.Tensor) *nabla.Tensor {
		y, _ := l.MultiheadAttn.Attend(x, memory, memory, o.Memory.attend())
		return l.Dropout2.Forward(y)
	}
	ff := func(x *nabla.Tensor) *nabla.Tensor {
		return l.Dropout3.Forward(feedForward{l.Linear1, l.Linear2, l.Dropout, l.Activation}.forward(x))
	}
	x := tgt
	if l.NormFirst {
		x = x.Add(sa(l.Norm1.Forward(x)))
		x = x.Add(ca(l.Norm2.Forward(x)))
		return x.Add(ff(l.Norm3.Forward(x)))
	}
	x = l.Norm1.Forward(x.Add(sa(x)))
	x = l.Norm2.Forward(x.Add(ca(x)))
	return l.Norm3.Forward(x.Add(ff(x)))
}

// Children returns the sub-layers with PyTorch's names.
func (l *TransformerDecoderLayer) Children() []Child {
	return []Child{{"self_attn", l.SelfAttn}, {"multihead_attn", l.MultiheadAttn}, {"linear1", l.Linear1}, {"dropout", l.Dropout},
		{"linear2", l.Linear2}, {"norm1", l.Norm1}, {"norm2", l.Norm2}, {"norm3", l.Norm3},
		{"dropout1", l.Dropout1}, {"dropout2", l.Dropout2}, {"dropout3", l.Dropout3}}
}

// Params lists the parameters in PyTorch's state_dict order.
func (l *TransformerDecoderLayer) Params() []Param { return Collect(l.Children()...) }

// TransformerEncoder is torch.nn.TransformerEncoder: encoder layers
// applied in turn, children "layers.0", "layers.1", ..., then the
// optional final "norm".
type TransformerEncoder struct {
	Layers []*TransformerEncoderLayer
	Norm   *LayerNorm // nil for none
}

// NewTransformerEncoder returns an encoder of the given layers and final
// norm (nil for none). Unlike PyTorch, which deep-copies one layer, it
// takes the layers as built, each with its own initial weights.
func NewTransformerEncoder(layers []*TransformerEncoderLayer, norm *LayerNorm) *TransformerEncoder {
	return &TransformerEncoder{Layers: layers, Norm: norm}
}

// Forward encodes x without masks.
func (e *TransformerEncoder) Forward(x *nabla.Tensor) *nabla.Tensor {
	return e.Encode(x, MaskOptions{})
}

// Encode applies every layer with the same masks, then the norm.
func (e *TransformerEncoder) Encode(src *nabla.Tensor, o MaskOptions) *nabla.Tensor {
	x := src
	for _, l := range e.Layers {
		x = l.Encode(x, o)
	}
	if e.Norm != nil {
		x = e.Norm.Forward(x)
	}
	return x
}

// Children returns "layers.i" for each layer and "norm" if there is one.
func (e *TransformerEncoder) Children() []Child {
	var cs []Child
	for i, l := range e.Layers {
		cs = append(cs, Child{"layers." + strconv.Itoa(i), l})
	}
	if e.Norm != nil {
		cs = append(cs, Child{"norm", e.Norm})
	}
	return cs
}

// Params lists the parameters in PyTorch's state_dict order.
func (e *TransformerEncoder) Params() []Param { return Collect(e.Children()...) }

// TransformerDecoder is torch.nn.TransformerDecoder: decoder layers
// applied in turn ("layers.i"), then the optional final "norm".
type TransformerDecoder struct {
	Layers []*TransformerDecoderLayer
	Norm   *LayerNorm // nil for none
}

// NewTransformerDecoder returns a decoder of the given layers and final
// norm (nil for none).
func NewTransformerDecoder(layers []*TransformerDecoderLayer, norm *LayerNorm) *TransformerDecoder {
	return &TransformerDecoder{Layers: layers, Norm: norm}
}

// Forward decodes x attending to itself as the memory.
func (d *TransformerDecoder) Forward(x *nabla.Tensor) *nabla.Tensor {
	return d.Decode(x, x, DecodeOptions{})
}

// Decode applies every layer to tgt with the memory and masks, then the norm.
func (d *TransformerDecoder) Decode(tgt, memory *nabla.Tensor, o DecodeOptions) *nabla.Tensor {
	x := tgt
	for _, l := range d.Layers {
		x = l.Decode(x, memory, o)
	}
	if d.Norm != nil {
		x = d.Norm.Forward(x)
	}
	return x
}

// Children returns "layers.i" for each layer and "norm" if there is one.
func (d *TransformerDecoder) Children() []Child {
	var cs []Child
	for i, l := range d.Layers {
		cs = append(cs, Child{"layers." + strconv.Itoa(i), l})
	}
	if d.Norm != nil {
		cs = append(cs, Child{"norm", d.Norm})
	}
	return cs
}

// Params lists the parameters in PyTorch's state_dict order.
func (d *TransformerDecoder) Params() []Param { return Collect(d.Children()...) }

// Transformer is torch.nn.Transformer: an encoder and a decoder, each
// with a final layer norm; children "encoder" and "decoder".
type Transformer struct {
	Encoder *TransformerEncoder
	Decoder *TransformerDecoder
}

// NewTransformer returns a Transformer of width dModel with nhead heads,
// nEnc encoder and nDec decoder layers, initialised as PyTorch's: every
// parameter of two or more dimensions redrawn by Xavier-uniform after the
// layers are built.
func NewTransformer(rng *rand.Rand, dModel, nhead, nEnc, nDec int, cfg TransformerConfig) *Transformer {
	c := cfg.withDefaults("nn.NewTransformer")
	enc := make([]*TransformerEncoderLayer, nEnc)
	for i := range enc {
		enc[i] = NewTransformerEncoderLayer(rng, dModel, nhead, c)
	}
	dec := make([]*TransformerDecoderLayer, nDec)
	for i := range dec {
		dec[i] = NewTransformerDecoderLayer(rng, dModel, nhead, c)
	}
	t := &Transformer{Encoder: NewTransformerEncoder(enc, newNorm(dModel, c.LayerNormEps)),
		Decoder: NewTransformerDecoder(dec, newNorm(dModel, c.LayerNormEps))}
	for _, p := range t.Params() {
		if p.Tensor.Dim() > 1 {
			XavierUniform(rng, p.Tensor, 1)
		}
	}
	return t
}

// Forward runs Run(x, x): x is both the source and the target.
func (t *Transformer) Forward(x *nabla.Tensor) *nabla.Tensor { return t.Run(x, x, TransformerMasks{}) }

// TransformerMasks are torch.nn.Transformer.forward's masks: Src for the
// encoder's self-attention, Tgt for the decoder's, Memory for the
// decoder's attention over the encoder's output.
type TransformerMasks struct {
	Src, Tgt, Memory MaskOptions
}

// Run encodes src and decodes tgt attending to the encoding; shapes as
// for the encoder and decoder.
func (t *Transformer) Run(src, tgt *nabla.Tensor, m TransformerMasks) *nabla.Tensor {
	mem := t.Encoder.Encode(src, m.Src)
	return t.Decoder.Decode(tgt, mem, DecodeOptions{Tgt: m.Tgt, Memory: m.Memory})
}

// Children returns "encoder" and "decoder".
func (t *Transformer) Children() []Child {
	return []Child{{"encoder", t.Encoder}, {"decoder", t.Decoder}}
}

// Params lists the parameters in PyTorch's state_dict order.
func (t *Transformer) Params() []Param { return Collect(t.Children()...) }
