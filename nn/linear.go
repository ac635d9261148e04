package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/nabla-go/nabla"
)

// Linear applies the affine map y = x·Wᵀ + b to the last axis of its
// input, as torch.nn.Linear. An input of shape (*, in) gives an output of
// shape (*, out), with any number of leading dimensions (none for a single
// vector).
type Linear struct {
	Weight *nabla.Tensor // (out, in)
	Bias   *nabla.Tensor // (out), or nil for a layer without bias
}

// NewLinear returns a Linear layer from in to out features, initialised as
// PyTorch does: the weight by [KaimingUniform] with a = √5, which draws from
// U(-1/√in, 1/√in), and the bias from the same range. Values are float32,
// drawn from rng, weight first. Set Bias to nil for a layer without bias.
func NewLinear(rng *rand.Rand, in, out int) *Linear {
	if in <= 0 || out <= 0 {
		panic(&nabla.ValueError{Op: "nn.NewLinear", Reason: fmt.Sprintf("feature counts must be positive, got in=%d out=%d", in, out)})
	}
	w := KaimingUniform(rng, nabla.Zeros(out, in), math.Sqrt(5), FanIn, "leaky_relu")
	bound := 1 / math.Sqrt(float64(in))
	b := Uniform(rng, nabla.Zeros(out), -bound, bound)
	return &Linear{Weight: w.RequireGrad(), Bias: b.RequireGrad()}
}

// String describes the layer as "Linear(in→out)", the name its errors use.
func (l *Linear) String() string {
	s := fmt.Sprintf("Linear(%d→%d", l.Weight.Size(1), l.Weight.Size(0))
	if l.Bias == nil {
		s += ", no bias"
	}
	return s + ")"
}

// Forward returns x·Wᵀ + b for x of shape (*, in). It panics with a
// *nabla.ShapeError naming the layer and both shapes if x's last dimension
// is not in.
func (l *Linear) Forward(x *nabla.Tensor) *nabla.Tensor {
	in := l.Weight.Size(1)
	if x.Dim() == 0 || x.Size(-1) != in {
		got := "a scalar"
		if x.Dim() > 0 {
			got = fmt.Sprintf("last dimension %d", x.Size(-1))
		}
		panic(shapeErr(l.String(), x, "want shape [* %d] (any leading dimensions), got %s", in, got))
	}
	y := x.MatMul(l.Weight.T())
	if l.Bias != nil {
		y = y.Add(l.Bias)
	}
	return y
}

// Params returns "weight" and, unless it is nil, "bias".
func (l *Linear) Params() []Param {
	return params(Param{"weight", l.Weight}, Param{"bias", l.Bias})
}

// SetParam replaces "weight" or "bias"; see [ParamSetter].
func (l *Linear) SetParam(name string, t *nabla.Tensor) {
	switch name {
	case "weight":
		replace(l.String(), name, &l.Weight, t)
	case "bias":
		replace(l.String(), name, &l.Bias, t)
	default:
		unknownParam(l.String(), name)
	}
}

// Embedding maps whole-number indices to learned vectors, as
// torch.nn.Embedding: an index tensor of any shape S gives an output of
// shape S + (dim), row i of the weight for index i.
type Embedding struct {
	Weight *nabla.Tensor // (num, dim): one row per index
}

// NewEmbedding returns an Embedding of num vectors of length dim, drawn
// from N(0, 1) as PyTorch does, in float32.
func NewEmbedding(rng *rand.Rand, num, dim int) *Embedding {
	if num <= 0 || dim <= 0 {
		panic(&nabla.ValueError{Op: "nn.NewEmbedding", Reason: fmt.Sprintf("sizes must be positive, got num=%d dim=%d", num, dim)})
	}
	return &Embedding{Weight: Normal(rng, nabla.Zeros(num, dim), 0, 1).RequireGrad()}
}

// String describes the layer as "Embedding(num, dim)".
func (e *Embedding) String() string {
	return fmt.Sprintf("Embedding(%d, %d)", e.Weight.Size(0), e.Weight.Size(1))
}

// Forward looks up the rows named by idx, a tensor of whole numbers held
// in a float dtype. It panics with a *nabla.ValueError naming the layer and
// the bad index if one is not a whole number in [0, num).
func (e *Embedding) Forward(idx *nabla.Tensor) *nabla.Tensor {
	num := e.Weight.Size(0)
	for i, v := range idx.Float64s() {
		if v != math.Trunc(v) || v < 0 || v >= float64(num) {
			panic(&nabla.ValueError{Op: e.String(), Reason: fmt.Sprintf("index %v at position %d is out of range [0, %d)", v, i, num)})
		}
	}
	flat := idx.Reshape(-1)
	out := e.Weight.IndexSelect(0, flat)
	return out.Reshape(append(idx.Shape(), e.Weight.Size(1))...)
}

// Params returns "weight".
func (e *Embedding) Params() []Param { return []Param{{"weight", e.Weight}} }

// SetParam replaces "weight"; see [ParamSetter].
func (e *Embedding) SetParam(name string, t *nabla.Tensor) {
	if name != "weight" {
		unknownParam(e.String(), name)
	}
	replace(e.String(), name, &e.Weight, t)
}

// Flatten merges the dimensions StartDim..EndDim (inclusive; negative
// counts from the end) into one, as torch.nn.Flatten. [NewFlatten] gives
// PyTorch's defaults, 1 and -1, which keep the batch axis and flatten the
// rest: (N, C, H, W) becomes (N, C·H·W).
type Flatten struct {
	StartDim, EndDim int
}

// NewFlatten returns a Flatten from dimension 1 to the last.
func NewFlatten() *Flatten { return &Flatten{StartDim: 1, EndDim: -1} }

// String describes the layer as "Flatten(start, end)".
func (f *Flatten) String() string { return fmt.Sprintf("Flatten(%d, %d)", f.StartDim, f.EndDim) }

// Forward returns x with the dimensions merged, a view when x is
// contiguous. It panics with a *nabla.ShapeError if x has too few
// dimensions.
func (f *Flatten) Forward(x *nabla.Tensor) *nabla.Tensor {
	s, e := f.StartDim, f.EndDim
	if s < 0 {
		s += x.Dim()
	}
	if e < 0 {
		e += x.Dim()
	}
	if s < 0 || e >= x.Dim() || s > e {
		panic(shapeErr(f.String(), x, "dimensions %d..%d do not fit a %d-d input", f.StartDim, f.EndDim, x.Dim()))
	}
	return x.Flatten(s, e)
}

// Params returns nothing: Flatten has no parameters.
func (f *Flatten) Params() []Param { return nil }

// shapeErr returns a *nabla.ShapeError for a layer given an input of the
// wrong shape.
func shapeErr(layer string, x *nabla.Tensor, format string, args ...any) *nabla.ShapeError {
	return &nabla.ShapeError{Op: layer, Shapes: [][]int{x.Shape()}, Reason: fmt.Sprintf(format, args...)}
}
