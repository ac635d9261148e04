package nn

import (
	"fmt"
	"math"
	"slices"

	"github.com/nabla-go/nabla"
)

// Reduction says how a loss combines its per-element values.
type Reduction int

const (
	// Mean averages the per-element losses (weighted, for class-weighted
	// losses with class-index targets). It is the zero value and PyTorch's
	// default.
	Mean Reduction = iota
	// Sum adds the per-element losses.
	Sum
	// None returns the per-element losses unreduced, in the shape of the
	// target (class-index losses) or of the input.
	None
)

// String returns "mean", "sum" or "none", PyTorch's names.
func (r Reduction) String() string {
	switch r {
	case Mean:
		return "mean"
	case Sum:
		return "sum"
	case None:
		return "none"
	}
	return fmt.Sprintf("Reduction(%d)", int(r))
}

func reduce(loss *nabla.Tensor, r Reduction) *nabla.Tensor {
	switch r {
	case Sum:
		return loss.Sum()
	case None:
		return loss
	}
	return loss.Mean()
}

// MSE returns the mean squared error between input and target, which must
// have the same shape: MSELoss{}.Forward(input, target).
func MSE(input, target *nabla.Tensor) *nabla.Tensor { return MSELoss{}.Forward(input, target) }

// L1 returns the mean absolute error: L1Loss{}.Forward(input, target).
func L1(input, target *nabla.Tensor) *nabla.Tensor { return L1Loss{}.Forward(input, target) }

// Huber returns the mean Huber loss with delta 1: HuberLoss{}.Forward(input, target).
func Huber(input, target *nabla.Tensor) *nabla.Tensor { return HuberLoss{}.Forward(input, target) }

// CrossEntropy returns the mean cross-entropy between logits and target
// (class indices or class probabilities): CrossEntropyLoss{}.Forward(logits, target).
func CrossEntropy(logits, target *nabla.Tensor) *nabla.Tensor {
	return CrossEntropyLoss{}.Forward(logits, target)
}

// NLL returns the mean negative log-likelihood of class-index targets
// under log-probabilities: NLLLoss{}.Forward(logp, target).
func NLL(logp, target *nabla.Tensor) *nabla.Tensor { return NLLLoss{}.Forward(logp, target) }

// BCE returns the mean binary cross-entropy of probabilities:
// BCELoss{}.Forward(input, target).
func BCE(input, target *nabla.Tensor) *nabla.Tensor { return BCELoss{}.Forward(input, target) }

// BCEWithLogits returns the mean binary cross-entropy of logits:
// BCEWithLogitsLoss{}.Forward(input, target).
func BCEWithLogits(input, target *nabla.Tensor) *nabla.Tensor {
	return BCEWithLogitsLoss{}.Forward(input, target)
}

// checkSameShape panics with a *nabla.ShapeError naming the loss unless
// input and target have the same shape. Unlike PyTorch, which broadcasts
// with a warning, nabla refuses: a (N, 1) input against a (N) target would
// silently give an (N, N) loss.
func checkSameShape(loss string, input, target *nabla.Tensor) {
	if !slices.Equal(input.Shape(), target.Shape()) {
		panic(&nabla.ShapeError{Op: loss, Shapes: [][]int{input.Shape(), target.Shape()}, Reason: "input and target shapes differ"})
	}
}

// MSELoss is the squared error (x - y)², as torch.nn.MSELoss. Input and
// target must have the same shape.
type MSELoss struct {
	Reduction Reduction
}

// Forward returns the reduced squared error; it panics with a
// *nabla.ShapeError if the shapes differ.
func (l MSELoss) Forward(input, target *nabla.Tensor) *nabla.Tensor {
	checkSameShape("MSELoss", input, target)
	return reduce(input.Sub(target).Square(), l.Reduction)
}

// L1Loss is the absolute error |x - y|, as torch.nn.L1Loss. Input and
// target must have the same shape.
type L1Loss struct {
	Reduction Reduction
}

// Forward returns the reduced absolute error; it panics with a
// *nabla.ShapeError if the shapes differ.
func (l L1Loss) Forward(input, target *nabla.Tensor) *nabla.Tensor {
	checkSameShape("L1Loss", input, target)
	return reduce(input.Sub(target).Abs(), l.Reduction)
}

// HuberLoss is 0.5·d² where |d| < Delta and Delta·(|d| - 0.5·Delta)
// elsewhere, with d = x - y, as torch.nn.HuberLoss: quadratic near zero,
// linear (robust to outliers) far from it. A zero Delta means 1, PyTorch's
// default.
type HuberLoss struct {
	Delta     float64
	Reduction Reduction
}

// Forward returns the reduced Huber loss; it panics with a
// *nabla.ShapeError if the shapes differ and a *nabla.ValueError if Delta
// is negative.
func (l HuberLoss) Forward(input, target *nabla.Tensor) *nabla.Tensor {
	checkSameShape("HuberLoss", input, target)
	delta := l.Delta
	if delta == 0 {
		delta = 1
	}
	if !(delta > 0) {
		panic(&nabla.ValueError{Op: "HuberLoss", Reason: fmt.Sprintf("delta must be positive, got %v", l.Delta)})
	}
	d := input.Sub(target)
	a := d.Abs()
	quad := d.Square().MulScalar(0.5)
	lin := a.AddScalar(-0.5 * delta).MulScalar(delta)
	return reduce(nabla.Where(a.Less(nabla.FullOf(a.DType(), delta)), quad, lin), l.Reduction)
}

// DefaultIgnoreIndex is PyTorch's default ignore_index, -100: a target
// equal to it is skipped by [CrossEntropyLoss] and [NLLLoss] when their
// IgnoreIndex is nil. No class can have a negative index, so the default
// never hides a real label.
const DefaultIgnoreIndex = -100

// CrossEntropyLoss is the cross-entropy between the softmax of logits and
// a target, as torch.nn.CrossEntropyLoss, computed stably through
// LogSoftmax. The logits have shape (C), (N, C) or (N, C, d1, d2, ...),
// with classes along axis 1 (axis 0 for a single vector). The target is
// either
//
//   - class indices: whole numbers in [0, C) held in a float dtype, of the
//     logits' shape without the class axis, e.g. (N); or
//   - class probabilities: the logits' shape, each row summing to 1.
//
// With class-index targets the per-element loss is
// (1-ε)·w[y]·(-log p[y]) + (ε/C)·Σ_c w[c]·(-log p[c]), where ε is
// LabelSmoothing and w the class Weight (all ones when nil), and Mean
// divides the sum by Σ w[y_i], exactly as PyTorch. With probability targets
// the target is first smoothed to (1-ε)·t + ε/C, the loss is
// -Σ_c w[c]·t[c]·log p[c], and Mean divides by the number of elements.
//
// Class-index targets equal to the ignore index (IgnoreIndex, or -100 when
// it is nil, as in PyTorch) are skipped: they contribute 0 to the loss,
// label-smoothing term included, and get a zero gradient; None gives 0 at
// their positions, and Mean divides by the weights (or the count) of the
// other targets only, so that a batch whose targets are all ignored has a
// NaN mean, as in PyTorch. An ignored target is not checked against the
// number of classes. Probability targets have no ignore index: as in
// PyTorch, a non-negative IgnoreIndex with them panics and a negative one
// is unused.
type CrossEntropyLoss struct {
	Weight *nabla.Tensor // (C) rescaling weight per class, or nil
	// IgnoreIndex is the class index whose targets are skipped, or nil for
	// PyTorch's default, [DefaultIgnoreIndex] (-100). It is a pointer
	// because 0 is a valid class: the zero value of the struct must not
	// silently drop every label 0. Set it with IgnoreIndex: new(0), say.
	IgnoreIndex    *int
	LabelSmoothing float64 // ε in [0, 1]
	Reduction      Reduction
}

// Forward returns the reduced cross-entropy. It panics with a
// *nabla.ValueError naming the loss, the label and the number of classes
// if a class index (other than the ignore index) is out of range, or if a
// non-negative IgnoreIndex is given with probability targets, and with a
// *nabla.ShapeError if the target's shape fits neither form.
func (l CrossEntropyLoss) Forward(logits, target *nabla.Tensor) *nabla.Tensor {
	const name = "CrossEntropyLoss"
	if !(l.LabelSmoothing >= 0 && l.LabelSmoothing <= 1) {
		panic(&nabla.ValueError{Op: name, Reason: fmt.Sprintf("label smoothing %v is outside [0, 1]", l.LabelSmoothing)})
	}
	ax := classAxis(name, logits)
	logp := logits.LogSoftmax(ax)
	ignore := ignoreIndex(l.IgnoreIndex)
	if slices.Equal(logits.Shape(), target.Shape()) {
		// PyTorch refuses a non-negative ignore_index with probabilities
		// (it could be meant as a class) and lets a negative one, such as
		// the default, pass unused.
		if ignore >= 0 {
			panic(&nabla.ValueError{Op: name, Reason: fmt.Sprintf("ignore index %d is not supported with class-probability targets", ignore)})
		}
		return probLoss(name, logp, target, ax, l.Weight, l.LabelSmoothing, l.Reduction)
	}
	return indexLoss(name, logp, target, ax, l.Weight, l.LabelSmoothing, ignore, l.Reduction)
}

// ignoreIndex returns *p, or DefaultIgnoreIndex when p is nil.
func ignoreIndex(p *int) int {
	if p == nil {
		return DefaultIgnoreIndex
	}
	return *p
}

// NLLLoss is the negative log-likelihood -w[y]·log p[y] of class-index
// targets given log-probabilities (the output of LogSoftmax), as
// torch.nn.NLLLoss. Shapes, Weight, IgnoreIndex and Reduction follow
// [CrossEntropyLoss] with class-index targets: targets equal to the ignore
// index (-100 by default) contribute nothing and Mean divides by the
// weights of the others. CrossEntropyLoss is NLLLoss after LogSoftmax.
type NLLLoss struct {
	Weight *nabla.Tensor // (C) rescaling weight per class, or nil
	// IgnoreIndex is the class index whose targets are skipped, or nil for
	// PyTorch's default, [DefaultIgnoreIndex] (-100); a pointer because 0
	// is a valid class. See [CrossEntropyLoss].
	IgnoreIndex *int
	Reduction   Reduction
}

// Forward returns the reduced negative log-likelihood. It panics as
// [CrossEntropyLoss.Forward] does.
func (l NLLLoss) Forward(logp, target *nabla.Tensor) *nabla.Tensor {
	const name = "NLLLoss"
	return indexLoss(name, logp, target, classAxis(name, logp), l.Weight, 0, ignoreIndex(l.IgnoreIndex), l.Reduction)
}

func classAxis(loss string, logits *nabla.Tensor) int {
	switch logits.Dim() {
	case 0:
		panic(&nabla.ShapeError{Op: loss, Shapes: [][]int{logits.Shape()}, Reason: "input must have a class axis: shape (C), (N, C) or (N, C, d...)"})
	case 1:
		return 0
	}
	return 1
}

// classWeight returns w converted to dt and shaped to broadcast along
// axis ax of a rank-r tensor, after checking it has C entries.
func classWeight(loss string, w *nabla.Tensor, c, ax, r int, dt nabla.DType) *nabla.Tensor {
	if w.Dim() != 1 || w.Len() != c {
		panic(&nabla.ShapeError{Op: loss, Shapes: [][]int{w.Shape()}, Reason: fmt.Sprintf("class weight must have shape [%d]", c)})
	}
	shape := make([]int, r)
	for i := range shape {
		shape[i] = 1
	}
	shape[ax] = c
	return w.To(dt).Reshape(shape...)
}

// checkLabels panics with a *nabla.ValueError naming loss, the first bad
// label and the number of classes unless every value of labels is a whole
// number in [0, classes) or equal to ignore. It returns, when some label
// is ignored, a mask of labels' length with 1 where the label counts and 0
// where it is ignored, and nil when none is.
func checkLabels(loss string, labels *nabla.Tensor, classes, ignore int) []float64 {
	if dt := labels.DType(); dt != nabla.Int64 && dt != nabla.Int32 {
		panic(&nabla.ValueError{Op: loss, Reason: fmt.Sprintf("class-index target is %v; class indices must be int64 or int32 (convert with .To(nabla.Int64)), probability targets must have the input's shape", dt)})
	}
	var keep []float64
	vs := labels.Float64s()
	for i, v := range vs {
		if v == float64(ignore) {
			if keep == nil {
				keep = make([]float64, len(vs))
				for j := range i {
					keep[j] = 1
				}
			}
			continue
		}
		if v != math.Trunc(v) || v < 0 || v >= float64(classes) {
			panic(&nabla.ValueError{Op: loss, Reason: fmt.Sprintf("label %v at position %d is out of range for %d classes (labels must be whole numbers in [0, %d))", v, i, classes, classes)})
		}
		if keep != nil {
			keep[i] = 1
		}
	}
	return keep
}

func indexLoss(name string, logp, target *nabla.Tensor, ax int, weight *nabla.Tensor, eps float64, ignore int, r Reduction) *nabla.Tensor {
	want := logp.Shape()
	c := want[ax]
	want = slices.Delete(want, ax, ax+1)
	if !slices.Equal(target.Shape(), want) {
		panic(&nabla.ShapeError{Op: name, Shapes: [][]int{logp.Shape(), target.Shape()},
			Reason: fmt.Sprintf("target must hold class indices of shape %v or probabilities of the input's shape", want)})
	}
	keep := checkLabels(name, target, c, ignore)
	dt := logp.DType()
	labels := target.Detach()
	var mask *nabla.Tensor
	if keep != nil {
		// Ignored targets may name no class at all (-100): look up class 0
		// in their place, then cut those positions out with Where, which
		// (unlike a product with 0) passes no gradient, not even the NaN
		// of an all-ignored mean.
		safe := make([]int64, len(keep))
		for i, v := range labels.Int64s() {
			if keep[i] != 0 {
				safe[i] = v
			}
		}
		labels = nabla.FromSlice(safe).Reshape(want...)
		mask = nabla.FromSlice(keep).Reshape(want...).To(nabla.Bool)
	}
	idx := labels.Unsqueeze(ax)
	loss := logp.Gather(ax, idx).Squeeze(ax).Neg()
	var wy *nabla.Tensor
	if weight != nil {
		w := classWeight(name, weight, c, ax, logp.Dim(), dt)
		wy = w.Reshape(c).IndexSelect(0, labels.Reshape(-1)).Reshape(want...)
		loss = loss.Mul(wy)
	}
	if eps > 0 {
		all := logp
		if weight != nil {
			all = all.Mul(classWeight(name, weight, c, ax, logp.Dim(), dt))
		}
		smooth := all.Sum(ax).Neg()
		loss = loss.MulScalar(1 - eps).Add(smooth.MulScalar(eps / float64(c)))
	}
	if mask != nil {
		zero := nabla.FullOf(dt, 0)
		loss = nabla.Where(mask, loss, zero)
		if r != Mean {
			return reduce(loss, r)
		}
		if wy != nil {
			return loss.Sum().Div(nabla.Where(mask, wy, zero).Sum())
		}
		// count is 0 when every target is ignored: 0/0 is PyTorch's NaN.
		count := 0.0
		for _, k := range keep {
			count += k
		}
		return loss.Sum().Div(nabla.FullOf(dt, count))
	}
	if r == Mean && wy != nil {
		return loss.Sum().Div(wy.Sum())
	}
	return reduce(loss, r)
}

func probLoss(name string, logp, target *nabla.Tensor, ax int, weight *nabla.Tensor, eps float64, r Reduction) *nabla.Tensor {
	c := logp.Size(ax)
	t := target.To(logp.DType())
	if eps > 0 {
		t = t.MulScalar(1 - eps).AddScalar(eps / float64(c))
	}
	prod := logp.Mul(t)
	if weight != nil {
		prod = prod.Mul(classWeight(name, weight, c, ax, logp.Dim(), logp.DType()))
	}
	return reduce(prod.Sum(ax).Neg(), r)
}

// BCELoss is the binary cross-entropy -w·(y·log x + (1-y)·log(1-x)) of
// probabilities x in [0, 1] and targets y, as torch.nn.BCELoss; each log
// is clamped at -100, as PyTorch does, so that x = 0 or 1 gives a finite
// loss. Input and target must have the same shape; Weight, if not nil,
// rescales each element and broadcasts against the input.
type BCELoss struct {
	Weight    *nabla.Tensor
	Reduction Reduction
}

// Forward returns the reduced binary cross-entropy. It panics with a
// *nabla.ShapeError if the shapes differ and a *nabla.ValueError if an
// input is outside [0, 1] (use [BCEWithLogitsLoss] for raw scores).
func (l BCELoss) Forward(input, target *nabla.Tensor) *nabla.Tensor {
	const name = "BCELoss"
	checkSameShape(name, input, target)
	for i, v := range input.Float64s() {
		if !(v >= 0 && v <= 1) {
			panic(&nabla.ValueError{Op: name, Reason: fmt.Sprintf("input %v at position %d is outside [0, 1]; BCELoss takes probabilities (use BCEWithLogitsLoss for logits)", v, i)})
		}
	}
	t := target.To(input.DType())
	one := nabla.FullOf(input.DType(), 1)
	loss := t.Mul(clampedLog(input)).Add(one.Sub(t).Mul(clampedLog(one.Sub(input)))).Neg()
	if l.Weight != nil {
		loss = loss.Mul(l.Weight.To(input.DType()))
	}
	return reduce(loss, l.Reduction)
}

// clampedLog returns max(log x, -100) for x >= 0, with a zero gradient
// (not NaN) where the clamp is active.
func clampedLog(x *nabla.Tensor) *nabla.Tensor {
	pos := x.Greater(nabla.FullOf(x.DType(), 0))
	safe := nabla.Where(pos, x, nabla.FullOf(x.DType(), 1))
	return nabla.Where(pos, safe.Log().Clamp(-100, math.Inf(1)), nabla.FullOf(x.DType(), -100))
}

// BCEWithLogitsLoss is the binary cross-entropy of sigmoid(x) computed
// stably from the logits x, as torch.nn.BCEWithLogitsLoss:
//
//	loss = (1-y)·x + (1 + (p-1)·y)·softplus(-x)
//
// which without PosWeight p is max(x, 0) - x·y + log(1 + e^-|x|). PosWeight
// (one value per class, broadcast against the last axis) weighs the
// positive examples; Weight rescales each element. Input and target must
// have the same shape.
type BCEWithLogitsLoss struct {
	Weight    *nabla.Tensor
	PosWeight *nabla.Tensor
	Reduction Reduction
}

// Forward returns the reduced loss; it panics with a *nabla.ShapeError if
// the shapes differ.
func (l BCEWithLogitsLoss) Forward(input, target *nabla.Tensor) *nabla.Tensor {
	checkSameShape("BCEWithLogitsLoss", input, target)
	dt := input.DType()
	t := target.To(dt)
	sp := input.Neg().Softplus()
	if l.PosWeight != nil {
		sp = sp.Mul(l.PosWeight.To(dt).AddScalar(-1).Mul(t).AddScalar(1))
	}
	loss := nabla.FullOf(dt, 1).Sub(t).Mul(input).Add(sp)
	if l.Weight != nil {
		loss = loss.Mul(l.Weight.To(dt))
	}
	return reduce(loss, l.Reduction)
}

// Accuracy returns the fraction of rows of logits (N, C) whose largest
// score is at the label: labels holds class indices of shape (N), or
// one-hot or probability rows of shape (N, C), whose largest entry is the
// label. It panics with a *nabla.ShapeError if the shapes do not fit.
func Accuracy(logits, labels *nabla.Tensor) float64 {
	if logits.Dim() != 2 {
		panic(&nabla.ShapeError{Op: "nn.Accuracy", Shapes: [][]int{logits.Shape(), labels.Shape()}, Reason: "logits must be 2-d (N, C)"})
	}
	want := labels.Ints()
	if slices.Equal(logits.Shape(), labels.Shape()) {
		want = labels.ArgMax(1).Ints()
	} else if labels.Dim() != 1 || labels.Size(0) != logits.Size(0) {
		panic(&nabla.ShapeError{Op: "nn.Accuracy", Shapes: [][]int{logits.Shape(), labels.Shape()}, Reason: "labels must have shape (N) or (N, C)"})
	}
	n := logits.Size(0)
	if n == 0 {
		return 0
	}
	got := logits.ArgMax(1).Ints()
	hits := 0
	for i := range got {
		if got[i] == want[i] {
			hits++
		}
	}
	return float64(hits) / float64(n)
}
