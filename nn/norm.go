package nn

import (
	"fmt"
	"slices"

	"github.com/nabla-go/nabla"
)

// BatchNorm1d normalises each feature (channel) of a batch of shape (N, C)
// or (N, C, L) over the batch and length axes, as torch.nn.BatchNorm1d:
//
//	y = (x - mean) / √(var + Eps) · Weight + Bias
//
// In training mode mean and var are the batch's (var biased, dividing by
// the count), and the running statistics are updated in place as
// running = (1 - Momentum)·running + Momentum·batch, with the unbiased
// variance for RunningVar; NumBatchesTracked counts the updates. In
// evaluation mode the running statistics are used instead. The output has
// the input's shape.
//
// PyTorch's momentum=None is CumulativeAverage: the factor is then
// 1/NumBatchesTracked (counting the batch at hand) instead of Momentum, so
// the running statistics are the plain average over every batch seen
// since NumBatchesTracked was 0.
//
// PyTorch's track_running_stats=False is a layer whose RunningMean,
// RunningVar and NumBatchesTracked are all nil (set them to nil after
// [NewBatchNorm1d]): it has no buffers, so checkpoints hold none, and it
// normalises with the batch's statistics in evaluation mode too.
// Likewise, nil Weight and Bias are affine=False.
type BatchNorm1d struct {
	Weight            *nabla.Tensor // (C), initialised to 1; nil for no affine transform
	Bias              *nabla.Tensor // (C), initialised to 0; nil for no affine transform
	RunningMean       *nabla.Tensor // (C) buffer "running_mean", initialised to 0; nil for no running statistics
	RunningVar        *nabla.Tensor // (C) buffer "running_var", initialised to 1; nil for no running statistics
	NumBatchesTracked *nabla.Tensor // 0-d buffer "num_batches_tracked" (a count held as a float); nil for no running statistics
	Eps               float64       // added to the variance; 1e-5 by default
	Momentum          float64       // weight of the new batch in the running statistics; 0.1 by default; unused with CumulativeAverage
	// CumulativeAverage is PyTorch's momentum=None: a bool beside Momentum,
	// rather than a sentinel value of it, because every float (0
	// included) is a valid momentum.
	CumulativeAverage bool
	Training          bool // training mode (the default) or evaluation mode

	c int // the channel count, for a layer left with no tensor to tell it
}

// NewBatchNorm1d returns a BatchNorm1d over c features with PyTorch's
// defaults: weight 1, bias 0, running mean 0, running variance 1, Eps 1e-5,
// Momentum 0.1, training mode; float32.
func NewBatchNorm1d(c int) *BatchNorm1d {
	s := newBNState(c)
	return &BatchNorm1d{Weight: s.w, Bias: s.b, RunningMean: s.rm, RunningVar: s.rv, NumBatchesTracked: s.nbt,
		Eps: 1e-5, Momentum: 0.1, Training: true, c: c}
}

// String describes the layer as "BatchNorm1d(C)", followed by
// ", momentum=None" and ", track_running_stats=False" when they apply.
func (m *BatchNorm1d) String() string { return m.state().describe("BatchNorm1d") }

// Forward normalises x of shape (N, C) or (N, C, L). It panics with a
// *nabla.ShapeError naming the layer if x has another rank or C differs,
// and with a *nabla.ValueError if, in training mode or without running
// statistics, a channel has only one value (the variance is undefined), as
// PyTorch does, or if only some of the three buffers are nil.
func (m *BatchNorm1d) Forward(x *nabla.Tensor) *nabla.Tensor {
	s := m.state()
	c := s.channels()
	if x.Dim() != 2 && x.Dim() != 3 {
		panic(shapeErr(m.String(), x, "want a 2-d [N %d] or 3-d [N %d L] input, got %d-d", c, c, x.Dim()))
	}
	if x.Size(1) != c {
		panic(shapeErr(m.String(), x, "want %d channels in dimension 1, got %d", c, x.Size(1)))
	}
	bshape := []int{1, c}
	if x.Dim() == 3 {
		bshape = []int{1, c, 1}
	}
	return batchNorm(m.String(), x, bshape, s, m.Eps, m.Momentum, m.Training)
}

func (m *BatchNorm1d) state() bnState {
	return bnState{m.Weight, m.Bias, m.RunningMean, m.RunningVar, m.NumBatchesTracked, m.c, m.CumulativeAverage}
}

// Params returns "weight" and "bias" (none without an affine transform).
func (m *BatchNorm1d) Params() []Param { return m.state().params() }

// Buffers returns "running_mean", "running_var" and "num_batches_tracked",
// leaving out those that are nil (none without running statistics).
func (m *BatchNorm1d) Buffers() []Param { return m.state().buffers() }

// SetTraining switches between training (true) and evaluation mode.
func (m *BatchNorm1d) SetTraining(on bool) { m.Training = on }

// SetParam replaces a parameter or buffer by name; see [ParamSetter].
func (m *BatchNorm1d) SetParam(name string, t *nabla.Tensor) {
	setBN(m.String(), name, t, &m.Weight, &m.Bias, &m.RunningMean, &m.RunningVar, &m.NumBatchesTracked)
}

// BatchNorm2d normalises each channel of an NCHW batch over the batch and
// spatial axes, as torch.nn.BatchNorm2d. It is [BatchNorm1d] for inputs of
// shape (N, C, H, W), with the same CumulativeAverage (momentum=None) and
// nil buffers (track_running_stats=False); the output has the input's
// shape.
type BatchNorm2d struct {
	Weight            *nabla.Tensor // (C), initialised to 1; nil for no affine transform
	Bias              *nabla.Tensor // (C), initialised to 0; nil for no affine transform
	RunningMean       *nabla.Tensor // (C) buffer "running_mean", initialised to 0; nil for no running statistics
	RunningVar        *nabla.Tensor // (C) buffer "running_var", initialised to 1; nil for no running statistics
	NumBatchesTracked *nabla.Tensor // 0-d buffer "num_batches_tracked" (a count held as a float); nil for no running statistics
	Eps               float64       // added to the variance; 1e-5 by default
	Momentum          float64       // weight of the new batch in the running statistics; 0.1 by default; unused with CumulativeAverage
	CumulativeAverage bool          // PyTorch's momentum=None; see [BatchNorm1d]
	Training          bool          // training mode (the default) or evaluation mode

	c int // the channel count, for a layer left with no tensor to tell it
}

// NewBatchNorm2d returns a BatchNorm2d over c channels with PyTorch's
// defaults, as [NewBatchNorm1d].
func NewBatchNorm2d(c int) *BatchNorm2d {
	s := newBNState(c)
	return &BatchNorm2d{Weight: s.w, Bias: s.b, RunningMean: s.rm, RunningVar: s.rv, NumBatchesTracked: s.nbt,
		Eps: 1e-5, Momentum: 0.1, Training: true, c: c}
}

// String describes the layer as "BatchNorm2d(C)", followed by
// ", momentum=None" and ", track_running_stats=False" when they apply.
func (m *BatchNorm2d) String() string { return m.state().describe("BatchNorm2d") }

// Forward normalises x of shape (N, C, H, W). It panics as
// [BatchNorm1d.Forward] does.
func (m *BatchNorm2d) Forward(x *nabla.Tensor) *nabla.Tensor {
	s := m.state()
	c := s.channels()
	if x.Dim() != 4 {
		panic(shapeErr(m.String(), x, "want a 4-d input [N %d H W], got %d-d", c, x.Dim()))
	}
	if x.Size(1) != c {
		panic(shapeErr(m.String(), x, "want %d channels in dimension 1, got %d", c, x.Size(1)))
	}
	return batchNorm(m.String(), x, []int{1, c, 1, 1}, s, m.Eps, m.Momentum, m.Training)
}

func (m *BatchNorm2d) state() bnState {
	return bnState{m.Weight, m.Bias, m.RunningMean, m.RunningVar, m.NumBatchesTracked, m.c, m.CumulativeAverage}
}

// Params returns "weight" and "bias" (none without an affine transform).
func (m *BatchNorm2d) Params() []Param { return m.state().params() }

// Buffers returns "running_mean", "running_var" and "num_batches_tracked",
// leaving out those that are nil (none without running statistics).
func (m *BatchNorm2d) Buffers() []Param { return m.state().buffers() }

// SetTraining switches between training (true) and evaluation mode.
func (m *BatchNorm2d) SetTraining(on bool) { m.Training = on }

// SetParam replaces a parameter or buffer by name; see [ParamSetter].
func (m *BatchNorm2d) SetParam(name string, t *nabla.Tensor) {
	setBN(m.String(), name, t, &m.Weight, &m.Bias, &m.RunningMean, &m.RunningVar, &m.NumBatchesTracked)
}

// bnState is the tensors a batch norm layer owns, its channel count as the
// constructor recorded it, and whether it averages cumulatively.
type bnState struct {
	w, b, rm, rv, nbt *nabla.Tensor
	c                 int
	cumulative        bool
}

func newBNState(c int) bnState {
	if c <= 0 {
		panic(&nabla.ValueError{Op: "nn.NewBatchNorm", Reason: fmt.Sprintf("channel count must be positive, got %d", c)})
	}
	return bnState{w: nabla.Ones(c).RequireGrad(), b: nabla.Zeros(c).RequireGrad(), rm: nabla.Zeros(c), rv: nabla.Ones(c), nbt: nabla.Zeros(), c: c}
}

// channels returns the channel count: the length of any per-channel tensor
// the layer still has (a layer may be written as a struct literal), and
// otherwise the count the constructor recorded, for a layer with neither
// affine transform nor running statistics.
func (s bnState) channels() int {
	for _, t := range []*nabla.Tensor{s.rm, s.rv, s.w, s.b} {
		if t != nil {
			return t.Len()
		}
	}
	return s.c
}

// tracking reports whether the layer keeps running statistics, panicking
// with a *nabla.ValueError naming layer if only some buffers are nil: half
// a set of statistics is a mistake, not a mode.
func (s bnState) tracking(layer string) bool {
	n := 0
	for _, t := range []*nabla.Tensor{s.rm, s.rv, s.nbt} {
		if t == nil {
			n++
		}
	}
	if n != 0 && n != 3 {
		panic(&nabla.ValueError{Op: layer, Reason: "running_mean, running_var and num_batches_tracked must be all set or all nil (track_running_stats=False)"})
	}
	return n == 0
}

func (s bnState) describe(kind string) string {
	str := fmt.Sprintf("%s(%d", kind, s.channels())
	if s.cumulative {
		str += ", momentum=None"
	}
	if s.rm == nil && s.rv == nil && s.nbt == nil {
		str += ", track_running_stats=False"
	}
	return str + ")"
}

func (s bnState) params() []Param {
	return params(Param{"weight", s.w}, Param{"bias", s.b})
}

func (s bnState) buffers() []Param {
	return params(Param{"running_mean", s.rm}, Param{"running_var", s.rv}, Param{"num_batches_tracked", s.nbt})
}

func setBN(layer, name string, t *nabla.Tensor, w, b, rm, rv, nbt **nabla.Tensor) {
	slots := map[string]**nabla.Tensor{"weight": w, "bias": b, "running_mean": rm, "running_var": rv, "num_batches_tracked": nbt}
	slot, ok := slots[name]
	if !ok {
		unknownParam(layer, name)
	}
	replace(layer, name, slot, t)
}

// batchNorm normalises x over every axis but the channels; bshape is the shape (1, C, 1...) that
// per-channel tensors take to broadcast against x.
func batchNorm(layer string, x *nabla.Tensor, bshape []int, s bnState, eps, momentum float64, training bool) *nabla.Tensor {
	tracking := s.tracking(layer)
	if training || !tracking {
		// Without running statistics there is nothing else to normalise
		// with, so evaluation uses the batch's too, as in PyTorch.
		n := x.Len() / x.Size(1)
		if n <= 1 {
			panic(&nabla.ValueError{Op: layer, Reason: fmt.Sprintf("expected more than 1 value per channel when training, got input shape %v", x.Shape())})
		}
		// one fused op, over every axis but the channels, with the affine
		// transform (its gradients come from the same sums as the input's)
		y, mean, v := nabla.BatchNormAffine(x, s.w, s.b, eps)
		if training && tracking {
			addOne(s.nbt)
			if s.cumulative {
				momentum = 1 / s.nbt.Item()
			}
			// Running statistics: PyTorch stores the unbiased variance.
			unbias := float64(n) / float64(n-1)
			update(s.rm, mean.Detach().Float64s(), momentum, 1)
			update(s.rv, v.Detach().Float64s(), momentum, unbias)
		}
		return y
	}
	// Evaluation: one scale and one shift per channel, folded from the
	// running statistics and the affine transform on C values, so the
	// activations are read twice, not four times.
	scale := s.rv.AddScalar(eps).PowScalar(-0.5)
	if s.w != nil {
		scale = scale.Mul(s.w)
	}
	shift := s.rm.Mul(scale).Neg()
	if s.b != nil {
		shift = shift.Add(s.b)
	}
	return x.Mul(scale.Reshape(bshape...)).Add(shift.Reshape(bshape...))
}

// update sets buf = (1-momentum)·buf + momentum·scale·batch in place.
func update(buf *nabla.Tensor, batch []float64, momentum, scale float64) {
	if buf.DType() == nabla.Float64 {
		d := buf.Data64()
		for i := range d {
			d[i] = (1-momentum)*d[i] + momentum*scale*batch[i]
		}
		return
	}
	d := buf.Data32()
	for i := range d {
		d[i] = float32((1-momentum)*float64(d[i]) + momentum*scale*batch[i])
	}
}

func addOne(buf *nabla.Tensor) {
	if buf.DType() == nabla.Float64 {
		buf.Data64()[0]++
	} else {
		buf.Data32()[0]++
	}
}

// LayerNorm normalises over the trailing dimensions given by Shape, as
// torch.nn.LayerNorm: for each position of the leading dimensions,
//
//	y = (x - mean) / √(var + Eps) · Weight + Bias
//
// with mean and (biased) var taken over the last len(Shape) axes. The
// input's trailing dimensions must equal Shape; the output has the input's
// shape.
type LayerNorm struct {
	Shape  []int         // the normalised (trailing) shape
	Eps    float64       // added to the variance; 1e-5 by default
	Weight *nabla.Tensor // Shape, initialised to 1; nil for no elementwise affine transform
	Bias   *nabla.Tensor // Shape, initialised to 0; nil for no elementwise affine transform
}

// NewLayerNorm returns a LayerNorm over the trailing shape with PyTorch's
// defaults: Eps 1e-5, weight 1, bias 0, float32. Set Weight and Bias to nil
// for elementwise_affine=False.
func NewLayerNorm(shape ...int) *LayerNorm {
	if len(shape) == 0 {
		panic(&nabla.ValueError{Op: "nn.NewLayerNorm", Reason: "normalised shape is empty"})
	}
	return &LayerNorm{Shape: slices.Clone(shape), Eps: 1e-5,
		Weight: nabla.Ones(shape...).RequireGrad(), Bias: nabla.Zeros(shape...).RequireGrad()}
}

// String describes the layer as "LayerNorm([d...])".
func (l *LayerNorm) String() string { return fmt.Sprintf("LayerNorm(%v)", l.Shape) }

// Forward normalises x, whose trailing dimensions must equal Shape. It
// panics with a *nabla.ShapeError naming the layer and both shapes if they
// do not.
func (l *LayerNorm) Forward(x *nabla.Tensor) *nabla.Tensor {
	k := len(l.Shape)
	xs := x.Shape()
	if len(xs) < k || !slices.Equal(xs[len(xs)-k:], l.Shape) {
		panic(shapeErr(l.String(), x, "want shape [* %s] (trailing dimensions must match)", trimBrackets(l.Shape)))
	}
	y := nabla.LayerNorm(x, l.Shape, l.Eps)
	if l.Weight != nil {
		y = y.Mul(l.Weight)
	}
	if l.Bias != nil {
		y = y.Add(l.Bias)
	}
	return y
}

func trimBrackets(s []int) string {
	str := fmt.Sprint(s)
	return str[1 : len(str)-1]
}

// Params returns "weight" and "bias" (none without an affine transform).
func (l *LayerNorm) Params() []Param {
	return params(Param{"weight", l.Weight}, Param{"bias", l.Bias})
}

// SetParam replaces "weight" or "bias"; see [ParamSetter].
func (l *LayerNorm) SetParam(name string, t *nabla.Tensor) {
	switch name {
	case "weight":
		replace(l.String(), name, &l.Weight, t)
	case "bias":
		replace(l.String(), name, &l.Bias, t)
	default:
		unknownParam(l.String(), name)
	}
}
