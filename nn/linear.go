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
	return nabla.Linear(x, l.Weight, l.Bias)
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
//
// PaddingIdx and MaxNorm are torch.nn.Embedding's padding_idx and
// max_norm; their zero values (nil and 0) are PyTorch's defaults (None).
// scale_grad_by_freq and sparse gradients are not supported.
type Embedding struct {
	Weight *nabla.Tensor // (num, dim): one row per index

	// PaddingIdx, if not nil, names the padding row, in [0, num) or,
	// counting from the end as in PyTorch, in [-num, 0). Lookups of it
	// return the row as it is (zeros, as [NewEmbeddingPadded] makes it,
	// unless changed since), but pass no gradient to it, so an optimizer
	// driven by this layer's gradients never moves it. A pointer because 0
	// is a valid row; NewEmbeddingPadded sets it.
	PaddingIdx *int

	// MaxNorm, if positive, bounds the NormType-norm of every row that
	// Forward looks up: before the lookup, each such row whose norm
	// exceeds MaxNorm is rescaled in place, by MaxNorm / (norm + 1e-7), as
	// torch.embedding_renorm_ does. The rescale is not recorded in the
	// graph, so the gradient is that of a plain lookup of the rescaled
	// weight, as in PyTorch. Zero means no bound (PyTorch's None); PyTorch's
	// max_norm=0, which zeroes every row looked up, has no equivalent.
	MaxNorm float64

	// NormType is p of the p-norm that MaxNorm bounds: any p > 0, or
	// +Inf for the largest absolute value. Zero means 2, PyTorch's default.
	NormType float64
}

// NewEmbedding returns an Embedding of num vectors of length dim, drawn
// from N(0, 1) as PyTorch does, in float32.
func NewEmbedding(rng *rand.Rand, num, dim int) *Embedding {
	if num <= 0 || dim <= 0 {
		panic(&nabla.ValueError{Op: "nn.NewEmbedding", Reason: fmt.Sprintf("sizes must be positive, got num=%d dim=%d", num, dim)})
	}
	return &Embedding{Weight: Normal(rng, nabla.Zeros(num, dim), 0, 1).RequireGrad()}
}

// NewEmbeddingPadded returns [NewEmbedding] with padding_idx: it draws the
// same values from rng, then zeroes row paddingIdx, as PyTorch does, and
// sets PaddingIdx to it. A negative paddingIdx counts from the end (-1 is
// the last row) and is stored as the row it names, as PyTorch stores it.
// It panics with a *nabla.ValueError if paddingIdx is outside [-num, num).
func NewEmbeddingPadded(rng *rand.Rand, num, dim, paddingIdx int) *Embedding {
	if num <= 0 || dim <= 0 {
		panic(&nabla.ValueError{Op: "nn.NewEmbeddingPadded", Reason: fmt.Sprintf("sizes must be positive, got num=%d dim=%d", num, dim)})
	}
	p := paddingRow("nn.NewEmbeddingPadded", paddingIdx, num)
	e := NewEmbedding(rng, num, dim)
	clear(e.Weight.Data32()[p*dim : (p+1)*dim])
	e.PaddingIdx = &p
	return e
}

// paddingRow returns the row that padding index p names among num rows,
// panicking with a *nabla.ValueError naming op if it names none.
func paddingRow(op string, p, num int) int {
	if p < -num || p >= num {
		panic(&nabla.ValueError{Op: op, Reason: fmt.Sprintf("padding index %d is out of range for %d rows (want [%d, %d))", p, num, -num, num)})
	}
	if p < 0 {
		p += num
	}
	return p
}

// String describes the layer as PyTorch does: "Embedding(num, dim)", with
// ", padding_idx=p", ", max_norm=m" and ", norm_type=t" when they are set.
func (e *Embedding) String() string {
	s := fmt.Sprintf("Embedding(%d, %d", e.Weight.Size(0), e.Weight.Size(1))
	if e.PaddingIdx != nil {
		s += fmt.Sprintf(", padding_idx=%d", *e.PaddingIdx)
	}
	if e.MaxNorm != 0 {
		s += fmt.Sprintf(", max_norm=%v", e.MaxNorm)
	}
	if e.NormType != 0 && e.NormType != 2 {
		s += fmt.Sprintf(", norm_type=%v", e.NormType)
	}
	return s + ")"
}

// Forward looks up the rows named by idx, a tensor of whole numbers held
// in a float dtype. With MaxNorm set it first rescales, in place, the rows
// it is about to look up whose norm exceeds MaxNorm; with PaddingIdx set no
// gradient reaches the padding row. It panics with a *nabla.ValueError
// naming the layer if an index is not a whole number in [0, num) (the bad
// index and its position) or PaddingIdx is out of range, and, when MaxNorm
// is not zero, if MaxNorm is negative or NaN, NormType negative or NaN, or
// the weight not contiguous (it is rescaled in place).
func (e *Embedding) Forward(idx *nabla.Tensor) *nabla.Tensor {
	num := e.Weight.Size(0)
	pad := -1
	if e.PaddingIdx != nil {
		pad = paddingRow(e.String(), *e.PaddingIdx, num)
	}
	if dt := idx.DType(); dt != nabla.Int64 && dt != nabla.Int32 {
		panic(&nabla.ValueError{Op: e.String(), Reason: fmt.Sprintf("index tensor is %v; indices must be int64 or int32 (convert with .To(nabla.Int64))", dt)})
	}
	padded := false
	for i, v := range idx.Int64s() {
		if v < 0 || v >= int64(num) {
			panic(&nabla.ValueError{Op: e.String(), Reason: fmt.Sprintf("index %d at position %d is out of range for size %d", v, i, num)})
		}
		padded = padded || int(v) == pad
	}
	flat := idx.Reshape(-1)
	if e.MaxNorm != 0 {
		e.renorm(flat)
	}
	out := e.Weight.IndexSelect(0, flat)
	if padded {
		// The same values either way: the detached copy only stops the
		// gradient at the padding positions, so the padding row gets none.
		keep := flat.Detach().NotEqual(nabla.FullOf(flat.DType(), float64(pad))).Unsqueeze(1)
		out = nabla.Where(keep, out, out.Detach())
	}
	return out.Reshape(append(idx.Shape(), e.Weight.Size(1))...)
}

// renorm rescales in place each distinct row named by flat whose norm
// exceeds MaxNorm, as torch.embedding_renorm_: outside the graph, because
// PyTorch runs it under no_grad and differentiates only the lookup.
func (e *Embedding) renorm(flat *nabla.Tensor) {
	maxNorm, p := e.MaxNorm, e.NormType
	if p == 0 {
		p = 2
	}
	if !(maxNorm > 0) || !(p > 0) {
		panic(&nabla.ValueError{Op: e.String(), Reason: fmt.Sprintf("max_norm must be positive and norm_type positive, got max_norm=%v norm_type=%v", e.MaxNorm, e.NormType)})
	}
	if !e.Weight.IsContiguous() {
		panic(&nabla.ValueError{Op: e.String(), Reason: "max_norm rescales the weight in place, which must be contiguous"})
	}
	dim := e.Weight.Size(1)
	seen := map[int]bool{}
	for _, r := range flat.Ints() {
		if seen[r] {
			continue
		}
		seen[r] = true
		if e.Weight.DType() == nabla.Float64 {
			renormRow(e.Weight.Data64()[r*dim:(r+1)*dim], maxNorm, p)
		} else {
			renormRow(e.Weight.Data32()[r*dim:(r+1)*dim], maxNorm, p)
		}
	}
}

func renormRow[T float32 | float64](row []T, maxNorm, p float64) {
	norm := 0.0
	switch {
	case math.IsInf(p, 1):
		for _, v := range row {
			norm = max(norm, math.Abs(float64(v)))
		}
	case p == 2:
		for _, v := range row {
			norm += float64(v) * float64(v)
		}
		norm = math.Sqrt(norm)
	default:
		for _, v := range row {
			norm += math.Pow(math.Abs(float64(v)), p)
		}
		norm = math.Pow(norm, 1/p)
	}
	if norm > maxNorm {
		scale := maxNorm / (norm + 1e-7)
		for i := range row {
			row[i] = T(float64(row[i]) * scale)
		}
	}
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
