package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/nabla-go/nabla"
)

// SinusoidalPositions returns the (n, d) float32 table of "Attention is
// all you need": row p holds sin(p/10000^(2i/d)) in column 2i and
// cos(p/10000^(2i/d)) in column 2i+1.
func SinusoidalPositions(n, d int) *nabla.Tensor {
	t := make([]float32, n*d)
	for p := range n {
		for c := range d {
			ang := float64(p) / math.Pow(10000, float64(c/2*2)/float64(d))
			if c%2 == 0 {
				t[p*d+c] = float32(math.Sin(ang))
			} else {
				t[p*d+c] = float32(math.Cos(ang))
			}
		}
	}
	return nabla.FromSlice(t, n, d)
}

// PositionalEncoding adds a fixed sinusoidal table ([SinusoidalPositions])
// to its input, (L, N, E) or, with BatchFirst, (N, L, E). It has no
// parameters and no buffers (the table is rebuilt from its size).
type PositionalEncoding struct {
	Table      *nabla.Tensor // (MaxLen, E)
	BatchFirst bool
}

// NewPositionalEncoding returns a PositionalEncoding for up to maxLen
// positions of width d.
func NewPositionalEncoding(maxLen, d int, batchFirst bool) *PositionalEncoding {
	return &PositionalEncoding{Table: SinusoidalPositions(maxLen, d), BatchFirst: batchFirst}
}

// String describes the layer.
func (p *PositionalEncoding) String() string {
	return fmt.Sprintf("PositionalEncoding(%d, %d)", p.Table.Size(0), p.Table.Size(1))
}

// Forward adds the first L rows of the table to x. It panics with a
// *nabla.ShapeError if x is longer than the table or of another width.
func (p *PositionalEncoding) Forward(x *nabla.Tensor) *nabla.Tensor {
	return addPositions(p.String(), x, p.Table, p.BatchFirst)
}

// Params returns nothing.
func (p *PositionalEncoding) Params() []Param { return nil }

func addPositions(layer string, x, table *nabla.Tensor, batchFirst bool) *nabla.Tensor {
	if x.Dim() != 3 || x.Size(2) != table.Size(1) {
		panic(shapeErr(layer, x, "want a 3-d input with %d features", table.Size(1)))
	}
	ax := 0
	if batchFirst {
		ax = 1
	}
	L := x.Size(ax)
	if L > table.Size(0) {
		panic(shapeErr(layer, x, "sequence of %d positions is longer than the %d the layer holds", L, table.Size(0)))
	}
	pos := table.Slice(0, 0, L, 1).To(x.DType())
	if !batchFirst {
		pos = pos.Unsqueeze(1)
	}
	return x.Add(pos)
}

// PositionalEmbedding is a learned table of position vectors, "weight"
// (MaxLen, E), drawn from N(0, 1) as an [Embedding]; Forward adds its
// first L rows to x, (L, N, E) or (N, L, E) with BatchFirst. GPT-2's
// "wpe" is one.
type PositionalEmbedding struct {
	Weight     *nabla.Tensor
	BatchFirst bool
}

// NewPositionalEmbedding returns a learned table for maxLen positions.
func NewPositionalEmbedding(rng *rand.Rand, maxLen, d int, batchFirst bool) *PositionalEmbedding {
	return &PositionalEmbedding{Weight: NewEmbedding(rng, maxLen, d).Weight, BatchFirst: batchFirst}
}

// String describes the layer.
func (p *PositionalEmbedding) String() string {
	return fmt.Sprintf("PositionalEmbedding(%d, %d)", p.Weight.Size(0), p.Weight.Size(1))
}

// Forward adds the first L rows of the table to x.
func (p *PositionalEmbedding) Forward(x *nabla.Tensor) *nabla.Tensor {
	return addPositions(p.String(), x, p.Weight, p.BatchFirst)
}

// Params returns "weight".
func (p *PositionalEmbedding) Params() []Param { return []Param{{"weight", p.Weight}} }

// SetParam replaces "weight"; see [ParamSetter].
func (p *PositionalEmbedding) SetParam(name string, t *nabla.Tensor) {
	if name != "weight" {
		unknownParam(p.String(), name)
	}
	replace(p.String(), name, &p.Weight, t)
}

// RMSNorm is root-mean-square layer normalisation (Zhang & Sennrich), as
// torch.nn.RMSNorm (PyTorch 2.4) and LLaMA use: over the trailing Shape,
//
//	y = x / √(mean(x²) + Eps) · Weight
//
// Eps 0 means the machine epsilon of x's dtype, PyTorch's eps=None.
type RMSNorm struct {
	Shape  []int
	Eps    float64
	Weight *nabla.Tensor // Shape, initialised to 1; nil for no affine weight
}

// NewRMSNorm returns an RMSNorm over the trailing shape with weight 1 and
// Eps 0 (the dtype's epsilon).
func NewRMSNorm(shape ...int) *RMSNorm {
	if len(shape) == 0 {
		panic(&nabla.ValueError{Op: "nn.NewRMSNorm", Reason: "normalised shape is empty"})
	}
	return &RMSNorm{Shape: slices.Clone(shape), Weight: nabla.Ones(shape...).RequireGrad()}
}

// String describes the layer as "RMSNorm([d...])".
func (r *RMSNorm) String() string { return fmt.Sprintf("RMSNorm(%v)", r.Shape) }

// Forward normalises x, whose trailing dimensions must equal Shape; it
// panics with a *nabla.ShapeError naming the layer if they do not.
func (r *RMSNorm) Forward(x *nabla.Tensor) *nabla.Tensor {
	k := len(r.Shape)
	xs := x.Shape()
	if len(xs) < k || !slices.Equal(xs[len(xs)-k:], r.Shape) {
		panic(shapeErr(r.String(), x, "want shape [* %s] (trailing dimensions must match)", trimBrackets(r.Shape)))
	}
	eps := r.Eps
	if eps == 0 {
		eps = 0x1p-23 // torch.finfo(torch.float32).eps
		if x.DType() == nabla.Float64 {
			eps = 0x1p-52
		}
	}
	y := nabla.RMSNorm(x, r.Shape, eps)
	if r.Weight != nil {
		y = y.Mul(r.Weight)
	}
	return y
}

// Params returns "weight" (none without an affine weight).
func (r *RMSNorm) Params() []Param { return params(Param{"weight", r.Weight}) }

// SetParam replaces "weight"; see [ParamSetter].
func (r *RMSNorm) SetParam(name string, t *nabla.Tensor) {
	if name != "weight" {
		unknownParam(r.String(), name)
	}
	replace(r.String(), name, &r.Weight, t)
}

// Rotary holds the rotary position embedding (RoFormer, Su et al.) of
// LLaMA-style models, in the "rotate half" layout: for a head of width D,
// feature i < D/2 of position p is rotated with feature i + D/2 by the
// angle p·Theta^(-2i/D). Applied to queries and keys before attention, it
// makes their scores depend on relative position.
type Rotary struct {
	Dim   int     // head width D, even
	Theta float64 // base of the frequencies; 10000 in LLaMA
}

// NewRotary returns a Rotary for heads of width dim with base theta (0
// means 10000). It panics with a *nabla.ValueError if dim is not even and
// positive.
func NewRotary(dim int, theta float64) *Rotary {
	if dim <= 0 || dim%2 != 0 {
		panic(&nabla.ValueError{Op: "nn.NewRotary", Reason: fmt.Sprintf("head width %d must be even and positive", dim)})
	}
	if theta == 0 {
		theta = 10000
	}
	return &Rotary{Dim: dim, Theta: theta}
}

// tables returns cos and sin, (L, D), for positions offset..offset+L-1,
// each half of a row repeating the D/2 angles.
func (r *Rotary) tables(l, offset int, dt nabla.DType) (cos, sin *nabla.Tensor) {
	D := r.Dim
	c, s := make([]float64, l*D), make([]float64, l*D)
	for p := range l {
		for i := range D / 2 {
			ang := float64(p+offset) * math.Pow(r.Theta, -2*float64(i)/float64(D))
			c[p*D+i], c[p*D+i+D/2] = math.Cos(ang), math.Cos(ang)
			s[p*D+i], s[p*D+i+D/2] = math.Sin(ang), math.Sin(ang)
		}
	}
	return nabla.FromSlice(c, l, D).To(dt), nabla.FromSlice(s, l, D).To(dt)
}

// Apply rotates x (…, L, D), whose positions start at offset (the length
// of a key-value cache before it):
//
//	x·cos + rotate_half(x)·sin,  rotate_half([x1, x2]) = [-x2, x1]
//
// It panics with a *nabla.ShapeError if x's last dimension is not Dim.
func (r *Rotary) Apply(x *nabla.Tensor, offset int) *nabla.Tensor {
	if x.Dim() < 2 || x.Size(-1) != r.Dim {
		panic(shapeErr("nn.Rotary", x, "want (…, L, %d)", r.Dim))
	}
	cos, sin := r.tables(x.Size(-2), offset, x.DType())
	h := x.Split(-1, r.Dim/2, r.Dim/2)
	rot := nabla.Concat([]*nabla.Tensor{h[1].Neg(), h[0]}, -1)
	return x.Mul(cos).Add(rot.Mul(sin))
}
