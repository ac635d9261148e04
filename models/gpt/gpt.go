// Package gpt is a small GPT (decoder-only Transformer language model)
// built from package nn: token and learned position embeddings, pre-norm
// blocks of causal multi-head attention and a GELU MLP, a final layer
// norm and a linear head, tied to the token embedding or not; with a
// key-value cache for generation, which costs one step per new token, and
// sampling with temperature, top-k and top-p.
//
// Parameter names follow the PyTorch module that
// bench/reference/make_seq_reference.py builds (wte, wpe, h.0.ln_1,
// h.0.attn.in_proj_weight, h.0.mlp.0, ln_f, lm_head), so weights move
// between the two through safetensors.
package gpt

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
)

// Config describes a GPT.
type Config struct {
	Vocab   int     // number of token ids
	Context int     // longest sequence (positions in the position table)
	Layers  int     // number of blocks
	Heads   int     // attention heads per block
	Embed   int     // width of the model, a multiple of Heads
	Dropout float64 // dropout of attention weights, after embeddings and in residuals (training only)
	Tied    bool    // the head reuses the token embedding (no lm_head.weight)
}

// Block is one pre-norm Transformer block:
// x += attn(ln_1(x)) (causal); x += mlp(ln_2(x)), mlp = Linear, GELU, Linear.
type Block struct {
	Ln1  *nn.LayerNorm
	Attn *nn.MultiheadAttention
	Ln2  *nn.LayerNorm
	MLP  *nn.Sequential
	Drop *nn.Dropout // residual dropout
}

// Children returns "ln_1", "attn", "ln_2", "mlp" and the dropout.
func (b *Block) Children() []nn.Child {
	return []nn.Child{{Name: "ln_1", Module: b.Ln1}, {Name: "attn", Module: b.Attn}, {Name: "ln_2", Module: b.Ln2},
		{Name: "mlp", Module: b.MLP}, {Name: "drop", Module: b.Drop}}
}

// Params lists the block's parameters.
func (b *Block) Params() []nn.Param { return nn.Collect(b.Children()...) }

// Forward applies the block to x (N, T, E), causally.
func (b *Block) Forward(x *nabla.Tensor) *nabla.Tensor { return b.forward(x, nil) }

func (b *Block) forward(x *nabla.Tensor, c *layerCache) *nabla.Tensor {
	h := b.Ln1.Forward(x)
	var a *nabla.Tensor
	if c == nil {
		a, _ = b.Attn.Attend(h, h, h, nn.AttendOptions{Causal: true})
	} else {
		a = attendCached(b.Attn, h, c)
	}
	x = x.Add(b.Drop.Forward(a))
	return x.Add(b.Drop.Forward(b.MLP.Forward(b.Ln2.Forward(x))))
}

// GPT is the model. Its children are "wte", "wpe", "h.0", ..., "ln_f"
// and, unless tied, "lm_head" (no bias).
type GPT struct {
	Cfg    Config
	Wte    *nn.Embedding // (Vocab, Embed)
	Wpe    *nn.Embedding // (Context, Embed)
	Drop   *nn.Dropout   // after the embeddings
	Blocks []*Block
	LnF    *nn.LayerNorm
	Head   *nn.Linear // Embed → Vocab without bias; nil when tied
}

// New returns a GPT initialised as GPT-2 is: linear and embedding weights
// from N(0, 0.02²), biases 0, the output projections of attention and MLP
// from N(0, (0.02/√(2·Layers))²); float32, drawn from rng, which also draws
// the dropout masks. It returns an error for a bad configuration.
func New(rng *rand.Rand, c Config) (*GPT, error) {
	if c.Vocab <= 0 || c.Context <= 0 || c.Layers <= 0 || c.Heads <= 0 || c.Embed <= 0 || c.Embed%c.Heads != 0 {
		return nil, fmt.Errorf("gpt: bad config %+v: sizes must be positive and Embed a multiple of Heads", c)
	}
	if !(c.Dropout >= 0 && c.Dropout < 1) {
		return nil, fmt.Errorf("gpt: dropout %v is outside [0, 1)", c.Dropout)
	}
	E := c.Embed
	g := &GPT{Cfg: c, Wte: nn.NewEmbedding(rng, c.Vocab, E), Wpe: nn.NewEmbedding(rng, c.Context, E),
		Drop: nn.NewDropout(rng, c.Dropout), LnF: nn.NewLayerNorm(E)}
	for range c.Layers {
		g.Blocks = append(g.Blocks, &Block{
			Ln1:  nn.NewLayerNorm(E),
			Attn: nn.NewMultiheadAttention(rng, E, c.Heads, nn.MHAConfig{Dropout: c.Dropout, BatchFirst: true}),
			Ln2:  nn.NewLayerNorm(E),
			MLP:  nn.NewSequential(nn.NewLinear(rng, E, 4*E), nn.GELU{}, nn.NewLinear(rng, 4*E, E)),
			Drop: nn.NewDropout(rng, c.Dropout),
		})
	}
	if !c.Tied {
		g.Head = nn.NewLinear(rng, E, c.Vocab)
		g.Head.Bias = nil
	}
	// GPT-2's initialisation.
	for _, p := range g.Params() {
		switch {
		case p.Tensor.Dim() == 1 && !isNormWeight(p.Name):
			nn.Zeros(p.Tensor)
		case p.Tensor.Dim() == 1:
			nn.Ones(p.Tensor)
		case isOutProj(p.Name):
			nn.Normal(rng, p.Tensor, 0, 0.02/math.Sqrt(2*float64(c.Layers)))
		default:
			nn.Normal(rng, p.Tensor, 0, 0.02)
		}
	}
	return g, nil
}

// isNormWeight reports whether name is a layer norm's weight (init 1).
func isNormWeight(name string) bool {
	return strings.Contains(name, "ln_") && strings.HasSuffix(name, ".weight")
}

// isOutProj reports whether name is a projection back into the residual
// stream, which GPT-2 initialises with a smaller scale.
func isOutProj(name string) bool {
	return strings.HasSuffix(name, "out_proj.weight") || strings.HasSuffix(name, "mlp.2.weight")
}

// Children returns the model's parts with their names.
func (g *GPT) Children() []nn.Child {
	cs := []nn.Child{{Name: "wte", Module: g.Wte}, {Name: "wpe", Module: g.Wpe}, {Name: "drop", Module: g.Drop}}
	for i, b := range g.Blocks {
		cs = append(cs, nn.Child{Name: "h." + strconv.Itoa(i), Module: b})
	}
	cs = append(cs, nn.Child{Name: "ln_f", Module: g.LnF})
	if g.Head != nil {
		cs = append(cs, nn.Child{Name: "lm_head", Module: g.Head})
	}
	return cs
}

// Params lists the parameters (the tied head adds none).
func (g *GPT) Params() []nn.Param { return nn.Collect(g.Children()...) }

// String describes the model.
func (g *GPT) String() string {
	return fmt.Sprintf("GPT(vocab=%d, context=%d, layers=%d, heads=%d, embed=%d)", g.Cfg.Vocab, g.Cfg.Context, g.Cfg.Layers, g.Cfg.Heads, g.Cfg.Embed)
}

// Forward returns the logits (N, T, Vocab) for token ids idx (N, T),
// Int64 (or whole numbers held in a float tensor); T must not exceed the
// context.
// It panics with a *nabla.ShapeError if idx is not 2-d or too long.
func (g *GPT) Forward(idx *nabla.Tensor) *nabla.Tensor { return g.run(idx, nil) }

func (g *GPT) run(idx *nabla.Tensor, c *Cache) *nabla.Tensor {
	if idx.Dim() != 2 {
		panic(&nabla.ShapeError{Op: g.String(), Shapes: [][]int{idx.Shape()}, Reason: "want token ids of shape (N, T)"})
	}
	T, off := idx.Size(1), 0
	if c != nil {
		off = c.Len
	}
	if off+T > g.Cfg.Context {
		panic(&nabla.ShapeError{Op: g.String(), Shapes: [][]int{idx.Shape()},
			Reason: fmt.Sprintf("%d positions (%d cached) exceed the context of %d", off+T, off, g.Cfg.Context)})
	}
	pos := nabla.ArangeOf(nabla.Int64, float64(off), float64(off+T), 1)
	x := g.Wte.Forward(idx).Add(g.Wpe.Forward(pos).To(g.Wte.Weight.DType()))
	x = g.Drop.Forward(x)
	for i, b := range g.Blocks {
		var lc *layerCache
		if c != nil {
			lc = &c.layers[i]
		}
		x = b.forward(x, lc)
	}
	if c != nil {
		c.Len += T
	}
	x = g.LnF.Forward(x)
	if g.Head == nil {
		return x.MatMul(g.Wte.Weight.T())
	}
	return g.Head.Forward(x)
}

// Loss returns the mean cross-entropy of the next-token predictions for
// idx (N, T) against targets (N, T).
func (g *GPT) Loss(idx, targets *nabla.Tensor) *nabla.Tensor {
	logits := g.Forward(idx)
	N, T := idx.Size(0), idx.Size(1)
	return nn.CrossEntropy(logits.Reshape(N*T, g.Cfg.Vocab), targets.Reshape(N*T))
}
