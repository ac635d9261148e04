package nabla_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/gradcheck"
)

type T = nabla.Tensor

// domain says where an op's inputs are drawn from, away from the points
// where it is not differentiable.
type domain int

const (
	anyReal  domain = iota // [-1, 1] minus a gap around 0
	positive               // [0.5, 2]
	unit                   // (-0.9, 0.9), for ops with poles at ±1
)

// input describes one input: a shape and whether to hand the op a
// non-contiguous view (the transpose of a tensor of the reversed shape).
type input struct {
	shape      []int
	transposed bool
}

func sh(dims ...int) input    { return input{shape: dims} }
func tr(dims ...int) input    { return input{shape: dims, transposed: true} }
func ins(xs ...input) []input { return xs }

func makeInput(rng *rand.Rand, in input, dom domain) *T {
	shape := in.shape
	if in.transposed {
		rev := make([]int, len(shape))
		for i, d := range shape {
			rev[len(shape)-1-i] = d
		}
		shape = rev
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float64, n)
	for i := range v {
		switch dom {
		case positive:
			v[i] = 0.5 + 1.5*rng.Float64()
		case unit:
			v[i] = 1.8*rng.Float64() - 0.9
		default:
			x := 0.2 + 0.8*rng.Float64()
			if rng.IntN(2) == 0 {
				x = -x
			}
			v[i] = x
		}
	}
	t := nabla.FromSlice(v, shape...)
	if in.transposed {
		perm := make([]int, len(shape))
		for i := range perm {
			perm[i] = len(shape) - 1 - i
		}
		t = t.Permute(perm...)
	}
	return t
}

var (
	unaryShapes  = [][]input{ins(sh()), ins(sh(3)), ins(sh(3, 2)), ins(sh(2, 3, 4)), ins(tr(3, 2)), ins(tr(2, 3, 4))}
	binaryShapes = [][]input{
		ins(sh(), sh()), ins(sh(3), sh(3)), ins(sh(3, 2), sh(3, 2)), ins(sh(2, 3, 4), sh(2, 3, 4)),
		ins(sh(3, 4), sh(1, 4)), ins(sh(2, 3, 4), sh()), ins(sh(), sh(3, 2)), ins(sh(3), sh(2, 3)),
		ins(sh(3, 1), sh(1, 4)), ins(tr(3, 2), sh(3, 2)), ins(sh(2, 3), tr(2, 3)), ins(tr(2, 3, 4), sh(4)),
	}
	reduceShapes = [][]input{ins(sh(3)), ins(sh(3, 2)), ins(sh(2, 3, 4)), ins(tr(3, 2)), ins(tr(2, 3, 4))}
)

func idx(v ...float64) *T { return nabla.FromSlice(v).To(nabla.Int64) }

// gradCase is one row of the gradient-check table: the ops it covers (as
// named in the graph), the function, and the input shapes to try.
type gradCase struct {
	name   string
	ops    []string
	f      func(in []*T) *T
	shapes [][]input
	dom    domain
	opts   gradcheck.Options
}

func un(f func(x *T) *T) func(in []*T) *T     { return func(in []*T) *T { return f(in[0]) } }
func bin(f func(x, y *T) *T) func(in []*T) *T { return func(in []*T) *T { return f(in[0], in[1]) } }

var gradCases = []gradCase{
	// element-wise, one argument
	{name: "Neg", ops: []string{"Neg"}, f: un((*T).Neg), shapes: unaryShapes},
	{name: "Reciprocal", ops: []string{"Reciprocal"}, f: un((*T).Reciprocal), shapes: unaryShapes},
	{name: "Exp", ops: []string{"Exp"}, f: un((*T).Exp), shapes: unaryShapes},
	{name: "Log", ops: []string{"Log"}, f: un((*T).Log), shapes: unaryShapes, dom: positive},
	{name: "Sin", ops: []string{"Sin"}, f: un((*T).Sin), shapes: unaryShapes},
	{name: "Cos", ops: []string{"Cos"}, f: un((*T).Cos), shapes: unaryShapes},
	{name: "Tanh", ops: []string{"Tanh", "TanhGrad"}, f: un((*T).Tanh), shapes: unaryShapes},
	{name: "Sigmoid", ops: []string{"Sigmoid", "SigmoidGrad"}, f: un((*T).Sigmoid), shapes: unaryShapes},
	{name: "Relu", ops: []string{"Relu", "ReluGrad"}, f: un((*T).Relu), shapes: unaryShapes},
	{name: "LeakyRelu", ops: []string{"LeakyRelu"}, f: un(func(x *T) *T { return x.LeakyRelu(0.1) }), shapes: unaryShapes},
	{name: "Sqrt", ops: []string{"Sqrt"}, f: un((*T).Sqrt), shapes: unaryShapes, dom: positive},
	{name: "Abs", ops: []string{"Abs"}, f: un((*T).Abs), shapes: unaryShapes},
	{name: "Erf", ops: []string{"Erf"}, f: un((*T).Erf), shapes: unaryShapes},
	{name: "Gelu", ops: []string{"Gelu", "GeluGrad"}, f: un((*T).Gelu), shapes: unaryShapes},
	// At second order GeluGrad's upstream then depends on x, which checks
	// its d/dg rule too.
	{name: "Gelu/chain", ops: []string{"Gelu", "GeluGrad"}, f: un(func(x *T) *T { return x.Gelu().MulScalar(2).Gelu() }), shapes: unaryShapes},
	{name: "Softplus", ops: []string{"Softplus"}, f: un((*T).Softplus), shapes: unaryShapes},
	{name: "PowScalar", ops: []string{"PowScalar"}, f: un(func(x *T) *T { return x.PowScalar(3) }), shapes: unaryShapes},
	{name: "PowScalarFrac", ops: []string{"PowScalar"}, f: un(func(x *T) *T { return x.PowScalar(-1.5) }), shapes: unaryShapes, dom: positive},
	{name: "AddScalar", ops: []string{"AddScalar"}, f: un(func(x *T) *T { return x.AddScalar(2).Square() }), shapes: unaryShapes},
	{name: "MulScalar", ops: []string{"MulScalar"}, f: un(func(x *T) *T { return x.MulScalar(-3).Square() }), shapes: unaryShapes},
	{name: "Clamp", ops: []string{"Clamp"}, f: un(func(x *T) *T { return x.Clamp(-0.5, 0.5) }), shapes: unaryShapes},
	{name: "To", ops: []string{"To"}, f: un(func(x *T) *T { return x.To(nabla.Float32).Square().To(nabla.Float64) }), shapes: unaryShapes,
		opts: gradcheck.Options{Eps: 1e-2, Atol: 1e-3, Rtol: 1e-2}},
	{name: "Clone", ops: []string{"Clone"}, f: un(func(x *T) *T { return x.Clone().Square() }), shapes: unaryShapes},
	{name: "InArena", ops: []string{"InArena"}, f: un(func(x *T) *T { return x.InArena(nabla.NewArena()).Square().Sum(0) }), shapes: reduceShapes},
	{name: "Identity", ops: []string{"Identity"}, f: un(func(x *T) *T {
		return nabla.Grad(func(z *T) *T { return z.Square().Sum() })(x)
	}), shapes: unaryShapes},

	// element-wise, two arguments, with broadcasting
	{name: "Add", ops: []string{"Add"}, f: bin((*T).Add), shapes: binaryShapes},
	{name: "Sub", ops: []string{"Sub"}, f: bin((*T).Sub), shapes: binaryShapes},
	{name: "Mul", ops: []string{"Mul"}, f: bin((*T).Mul), shapes: binaryShapes},
	{name: "Div", ops: []string{"Div"}, f: bin((*T).Div), shapes: binaryShapes},
	{name: "Pow", ops: []string{"Pow"}, f: bin((*T).Pow), shapes: binaryShapes, dom: positive},
	{name: "Maximum", ops: []string{"Maximum"}, f: bin((*T).Maximum), shapes: binaryShapes},
	{name: "Minimum", ops: []string{"Minimum"}, f: bin((*T).Minimum), shapes: binaryShapes},
	{name: "Where", ops: []string{"Where"}, f: bin(func(x, y *T) *T { return nabla.Where(x.Greater(y), x.Square(), y) }), shapes: binaryShapes},

	// reductions
	{name: "SumAll", ops: []string{"Sum"}, f: un(func(x *T) *T { return x.Sum() }), shapes: append(reduceShapes, ins(sh()))},
	{name: "SumAxis", ops: []string{"Sum"}, f: un(func(x *T) *T { return x.Sum(-1) }), shapes: reduceShapes},
	{name: "SumKeep", ops: []string{"Sum"}, f: un(func(x *T) *T { return x.SumKeep(0, 2) }), shapes: [][]input{ins(sh(2, 3, 4)), ins(tr(2, 3, 4))}},
	{name: "Mean", ops: []string{"Sum"}, f: un(func(x *T) *T { return x.Mean(0) }), shapes: reduceShapes},
	{name: "MeanAll", ops: []string{"Sum"}, f: un(func(x *T) *T { return x.Mean() }), shapes: append(reduceShapes, ins(sh()))},
	{name: "MaxAll", ops: []string{"Max"}, f: un(func(x *T) *T { return x.Max() }), shapes: append(reduceShapes, ins(sh()))},
	{name: "MaxAxis", ops: []string{"Max"}, f: un(func(x *T) *T { return x.MaxKeep(-1) }), shapes: reduceShapes},
	{name: "Min", ops: []string{"Min"}, f: un(func(x *T) *T { return x.Min(0) }), shapes: reduceShapes},
	{name: "Var", ops: []string{"Sum", "Sub"}, f: un(func(x *T) *T { return x.Var(1, -1) }), shapes: reduceShapes},
	{name: "VarPop", ops: []string{"Sum", "Sub"}, f: un(func(x *T) *T { return x.VarKeep(0) }), shapes: reduceShapes},
	{name: "LogSumExp", ops: []string{"Exp", "Log"}, f: un(func(x *T) *T { return x.LogSumExp(-1) }), shapes: reduceShapes},
	{name: "Softmax", ops: []string{"Softmax", "SoftmaxGrad"}, f: un(func(x *T) *T { return x.Softmax(-1) }), shapes: reduceShapes},
	{name: "Softmax/axis0", ops: []string{"Softmax", "SoftmaxGrad"}, f: un(func(x *T) *T { return x.Softmax(0) }), shapes: reduceShapes},
	{name: "LogSoftmax", ops: []string{"LogSoftmax", "LogSoftmaxGrad"}, f: un(func(x *T) *T { return x.LogSoftmax(0) }), shapes: reduceShapes},
	{name: "LogSoftmax/last", ops: []string{"LogSoftmax", "LogSoftmaxGrad"}, f: un(func(x *T) *T { return x.LogSoftmax(-1) }), shapes: reduceShapes},
	{name: "LayerNorm/last", ops: []string{"LayerNorm"}, f: un(func(x *T) *T {
		sh := x.Shape()
		return nabla.LayerNorm(x, sh[len(sh)-1:], 1e-5)
	}), shapes: reduceShapes},
	{name: "LayerNorm/two", ops: []string{"LayerNorm"}, f: un(func(x *T) *T {
		// Squared, so that the second-order pass sees a gradient that
		// depends on x through the upstream too.
		sh := x.Shape()
		return nabla.LayerNorm(x, sh[len(sh)-2:], 1e-5).Square()
	}), shapes: [][]input{ins(sh(3, 2)), ins(sh(2, 3, 4)), ins(tr(2, 3, 4))}},
	{name: "RMSNorm/last", ops: []string{"RMSNorm"}, f: un(func(x *T) *T {
		sh := x.Shape()
		return nabla.RMSNorm(x, sh[len(sh)-1:], 1e-5).Square()
	}), shapes: reduceShapes},
	{name: "RMSNorm/two", ops: []string{"RMSNorm"}, f: un(func(x *T) *T {
		sh := x.Shape()
		return nabla.RMSNorm(x, sh[len(sh)-2:], 1e-5).Square()
	}), shapes: [][]input{ins(sh(3, 2)), ins(sh(2, 3, 4)), ins(tr(2, 3, 4))}},
	{name: "BatchNorm", ops: []string{"BatchNorm"}, f: un(func(x *T) *T {
		// Squared, as LayerNorm/two: the second order sees an upstream
		// that depends on x.
		y, _, _ := nabla.BatchNorm(x, 1e-5)
		return y.Square()
	}), shapes: [][]input{ins(sh(3, 2)), ins(sh(2, 3, 4)), ins(tr(2, 3, 4)), ins(sh(2, 2, 2, 3))}},
	{name: "BatchNormAffine", ops: []string{"BatchNorm"}, f: func(in []*T) *T {
		y, _, _ := nabla.BatchNormAffine(in[0], in[1], in[2], 1e-5)
		return y.Square()
	}, shapes: [][]input{ins(sh(3, 2), sh(2), sh(2)), ins(sh(2, 3, 4), sh(3), sh(3)), ins(tr(2, 3, 4), sh(3), sh(3)), ins(sh(2, 2, 2, 3), sh(2), sh(2))}},
	{name: "BatchNormAffine/weight", ops: []string{"BatchNorm"}, f: bin(func(x, w *T) *T {
		y, _, _ := nabla.BatchNormAffine(x, w, nil, 1e-5)
		return y.Square()
	}), shapes: [][]input{ins(sh(2, 3, 4), sh(3))}},
	// A chain, so that at second order each backward op also gets an
	// upstream gradient that depends on x (its d/dg rule is checked too).
	{name: "Softmax/chain", ops: []string{"Softmax", "SoftmaxGrad", "LogSoftmax", "LogSoftmaxGrad"}, f: un(func(x *T) *T { return x.Softmax(-1).LogSoftmax(-1).Softmax(0) }), shapes: reduceShapes},

	// shape and view ops
	{name: "Reshape", ops: []string{"Reshape"}, f: un(func(x *T) *T { return x.Reshape(-1).Square() }), shapes: reduceShapes},
	{name: "Flatten", ops: []string{"Reshape"}, f: un(func(x *T) *T { return x.Flatten(0, -1).Square() }), shapes: reduceShapes},
	{name: "Permute", ops: []string{"Permute"}, f: un(func(x *T) *T { return x.Permute(2, 0, 1).Square() }), shapes: [][]input{ins(sh(2, 3, 4)), ins(tr(2, 3, 4))}},
	{name: "Transpose", ops: []string{"Permute"}, f: un(func(x *T) *T { return x.T().Exp() }), shapes: [][]input{ins(sh(3, 2)), ins(tr(3, 2))}},
	{name: "Unsqueeze", ops: []string{"Unsqueeze"}, f: un(func(x *T) *T { return x.Unsqueeze(1).Square() }), shapes: reduceShapes},
	{name: "Squeeze", ops: []string{"Squeeze"}, f: un(func(x *T) *T { return x.Squeeze(1).Square() }), shapes: [][]input{ins(sh(3, 1)), ins(sh(2, 1, 4)), ins(tr(3, 1))}},
	{name: "Contiguous", ops: []string{"Contiguous"}, f: un(func(x *T) *T { return x.Contiguous().Square() }), shapes: [][]input{ins(tr(3, 2)), ins(tr(2, 3, 4))}},
	{name: "BroadcastTo", ops: []string{"BroadcastTo"}, f: un(func(x *T) *T { return x.BroadcastTo(2, 3, 2).Square() }), shapes: [][]input{ins(sh(3, 1)), ins(sh(2)), ins(sh()), ins(tr(3, 1))}},
	{name: "Slice", ops: []string{"Slice", "SliceBackward"}, f: un(func(x *T) *T { return x.Slice(-1, 0, 3, 2).Square() }), shapes: reduceShapes},
	{name: "Index", ops: []string{"Slice", "Squeeze"}, f: un(func(x *T) *T { return x.Index(0, -1).Square() }), shapes: reduceShapes},
	{name: "Concat", ops: []string{"Concat"}, f: bin(func(x, y *T) *T { return nabla.Concat([]*T{x, y, x}, 0).Square() }), shapes: [][]input{ins(sh(3), sh(2)), ins(sh(2, 3), sh(1, 3)), ins(tr(2, 3), sh(3, 3))}},
	{name: "Stack", ops: []string{"Concat", "Unsqueeze"}, f: bin(func(x, y *T) *T { return nabla.Stack([]*T{x, y}, 1).Square() }), shapes: [][]input{ins(sh(3), sh(3)), ins(sh(3, 2), tr(3, 2))}},
	{name: "Split", ops: []string{"Slice"}, f: un(func(x *T) *T {
		p := x.Split(0, 1, 2)
		return p[0].Sum().Mul(p[1].Square().Sum())
	}), shapes: [][]input{ins(sh(3)), ins(sh(3, 2)), ins(tr(3, 2))}},

	// indexing
	{name: "IndexSelect", ops: []string{"IndexSelect", "IndexAdd"}, f: un(func(x *T) *T { return x.IndexSelect(0, idx(2, 0, 2)).Square() }), shapes: [][]input{ins(sh(3)), ins(sh(3, 2)), ins(tr(3, 2)), ins(sh(3, 3, 2))}},
	{name: "Gather", ops: []string{"Gather", "ScatterAdd"}, f: un(func(x *T) *T {
		return x.Gather(1, nabla.FromSlice([]int64{1, 1, 0, 0, 1, 2}, 3, 2)).Square()
	}), shapes: [][]input{ins(sh(3, 3)), ins(tr(3, 3))}},
	{name: "GatherInt32", ops: []string{"Gather", "ScatterAdd"}, f: un(func(x *T) *T {
		return x.Gather(0, nabla.FromSlice([]int32{2, 0, 2, 1, 1, 0}, 2, 3)).Square()
	}), shapes: [][]input{ins(sh(3, 3))}},
	// Scatter: the gradient reaches x where it is not overwritten and src
	// where it was written; positions named twice are avoided (last write
	// wins, a step function of neither input).
	{name: "Scatter", ops: []string{"Scatter", "Gather"}, f: bin(func(x, src *T) *T {
		return x.Scatter(1, nabla.FromSlice([]int64{2, 0, 1, 2, 0, 1}, 3, 2), src).Square()
	}), shapes: [][]input{ins(sh(3, 3), sh(3, 2)), ins(tr(3, 3), tr(3, 2))}},
	{name: "ScatterAdd", ops: []string{"ScatterAdd", "Gather", "Add"}, f: bin(func(x, src *T) *T {
		return x.ScatterAdd(1, nabla.FromSlice([]int64{2, 2, 1, 1, 0, 2}, 3, 2), src).Square()
	}), shapes: [][]input{ins(sh(3, 3), sh(3, 2))}},
	{name: "MaskedFill", ops: []string{"Where"}, f: bin(func(x, v *T) *T {
		return x.MaskedFill(nabla.FromSlice([]bool{true, false, false, true, true, false}, 2, 3), v).Square()
	}), shapes: [][]input{ins(sh(2, 3), sh()), ins(tr(2, 3), sh(1, 3))}},
	{name: "WhereBoolMask", ops: []string{"Where"}, f: bin(func(x, y *T) *T {
		return nabla.Where(nabla.FromSlice([]bool{true, false, true}), x, y).Square()
	}), shapes: [][]input{ins(sh(2, 3), sh(3)), ins(sh(3), sh())}},

	// linear algebra
	{name: "MatMul", ops: []string{"MatMul"}, f: bin((*T).MatMul), shapes: [][]input{
		ins(sh(2, 3), sh(3, 4)), ins(sh(3), sh(3)), ins(sh(3), sh(3, 2)), ins(sh(2, 3), sh(3)),
		ins(sh(2, 2, 3), sh(3, 4)), ins(sh(2, 1, 2, 3), sh(3, 3, 2)), ins(tr(2, 3), sh(3, 2)), ins(sh(2, 3), tr(3, 2)),
		ins(tr(2, 3, 4), tr(2, 4, 3)),
	}},
	// convolution and pooling
	{name: "Unfold", ops: []string{"Unfold", "Fold"}, f: un(func(x *T) *T {
		return x.Unfold(2, 3, nabla.ConvOptions{Stride: [2]int{1, 2}, Padding: [2]int{1, 1}, Dilation: [2]int{2, 1}}).Square()
	}), shapes: [][]input{ins(sh(2, 2, 4, 5)), ins(tr(5, 4, 2, 1))}},
	{name: "Conv2d", ops: []string{"Conv2d", "Im2col", "Col2im", "MatMul", "ColsToImages", "ImagesToCols"}, f: func(in []*T) *T {
		return nabla.Conv2d(in[0], in[1], in[2], nabla.ConvOptions{Stride: [2]int{2, 1}, Padding: [2]int{1, 0}})
	}, shapes: [][]input{ins(sh(2, 2, 5, 4), sh(3, 2, 3, 2), sh(3)), ins(tr(2, 2, 5, 4), tr(3, 2, 3, 2), sh(3))}},
	// Conv2dReLU records Conv2d, Add and Relu when inputs require grad.
	{name: "Conv2dReLU", ops: []string{"Conv2dReLU"}, f: func(in []*T) *T {
		return nabla.Conv2dReLU(in[0], in[1], in[2], in[3], nabla.ConvOptions{Stride: [2]int{2, 1}, Padding: [2]int{1, 0}}).Square()
	}, shapes: [][]input{ins(sh(2, 2, 5, 4), sh(3, 2, 3, 2), sh(3), sh(2, 3, 3, 3))}},
	// Squared, so that second order runs the backward rules of the
	// backward pass's own ops (ImagesToCols, the bias sum) on tensors that
	// require gradients.
	{name: "Conv2dStride1", ops: []string{"Conv2d", "Im2col", "Col2im", "MatMul", "ColsToImages", "ImagesToCols"}, f: func(in []*T) *T {
		return nabla.Conv2d(in[0], in[1], in[2], nabla.ConvOptions{Padding: [2]int{2, 1}}).Square()
	}, shapes: [][]input{ins(sh(3, 1, 4, 5), sh(2, 1, 3, 3), sh(2)), ins(tr(1, 2, 3, 3), sh(2, 2, 2, 3), sh(2))}},
	{name: "Conv2dGroups", ops: []string{"Conv2d", "Im2col", "Col2im", "MatMul"}, f: func(in []*T) *T {
		return nabla.Conv2d(in[0], in[1], nil, nabla.ConvOptions{Groups: 2, Dilation: [2]int{1, 2}})
	}, shapes: [][]input{ins(sh(1, 4, 4, 5), sh(2, 2, 2, 2)), ins(sh(2, 4, 3, 5), tr(2, 2, 2, 2))}},
	// The weight gradient as a function: its second order runs the
	// backward rules of the ops the recorded weight gradient uses.
	{name: "Conv2dWeightGrad", ops: []string{"Conv2d", "Im2col", "Col2im"}, f: bin(func(x, w *T) *T {
		y := nabla.Conv2d(x, w, nil, nabla.ConvOptions{Stride: [2]int{1, 2}, Padding: [2]int{1, 1}}).Square().Sum()
		return nabla.Gradients(y, []*T{w}, nabla.CreateGraph())[0]
	}), shapes: [][]input{ins(sh(2, 2, 4, 5), sh(2, 2, 2, 3))}},
	{name: "MaxPool2d", ops: []string{"MaxPool2d", "MaxPool2dScatter"}, f: un(func(x *T) *T {
		return nabla.MaxPool2d(x, [2]int{2, 2}, nabla.PoolOptions{Padding: [2]int{1, 0}})
	}), shapes: [][]input{ins(sh(2, 2, 4, 4))}},
	// Squared, so that second order runs the scatter's backward (the
	// gather) on tensors that require gradients.
	{name: "MaxPool2dSquare", ops: []string{"MaxPool2d", "MaxPool2dScatter", "MaxPool2dGather"}, f: un(func(x *T) *T {
		return nabla.MaxPool2d(x, [2]int{2, 2}, nabla.PoolOptions{Padding: [2]int{1, 0}}).Square()
	}), shapes: [][]input{ins(sh(2, 2, 4, 4)), ins(tr(2, 2, 4, 4))}},
	{name: "MaxPool2dFast", ops: []string{"MaxPool2d", "MaxPool2dScatter"}, f: un(func(x *T) *T {
		return nabla.MaxPool2d(x, [2]int{2, 2}, nabla.PoolOptions{}).Square()
	}), shapes: [][]input{ins(sh(2, 3, 4, 6)), ins(sh(1, 1, 5, 5)), ins(tr(2, 3, 4, 4))}},
	{name: "MaxPool2dOverlap", ops: []string{"MaxPool2d", "MaxPool2dScatter"}, f: un(func(x *T) *T {
		return nabla.MaxPool2d(x, [2]int{3, 2}, nabla.PoolOptions{Stride: [2]int{1, 1}, Padding: [2]int{1, 1}}).Square()
	}), shapes: [][]input{ins(sh(1, 2, 4, 5))}},
	// The gradient of max pooling with respect to its upstream, squared:
	// second order runs the gather (the scatter's backward) on a tensor
	// that requires a gradient, and so checks the gather's own backward.
	{name: "MaxPool2dScatter", ops: []string{"MaxPool2dScatter", "MaxPool2dGather"}, f: bin(func(x, u *T) *T {
		y := nabla.MaxPool2d(x, [2]int{2, 2}, nabla.PoolOptions{Stride: [2]int{1, 2}, Padding: [2]int{0, 1}}).Mul(u).Sum()
		return nabla.Gradients(y, []*T{x}, nabla.CreateGraph())[0].Square()
	}), shapes: [][]input{ins(sh(2, 2, 4, 4), sh(2, 2, 3, 3))}},
	{name: "AvgPool2d", ops: []string{"AvgPool2d", "AvgPool2dBackward"}, f: un(func(x *T) *T {
		return nabla.AvgPool2d(x, [2]int{3, 2}, nabla.PoolOptions{Stride: [2]int{1, 2}, Padding: [2]int{1, 1}})
	}), shapes: [][]input{ins(sh(1, 2, 4, 4))}},
	{name: "AvgPool2dSquare", ops: []string{"AvgPool2d", "AvgPool2dBackward"}, f: un(func(x *T) *T {
		return nabla.AvgPool2d(x, [2]int{3, 2}, nabla.PoolOptions{Stride: [2]int{1, 2}, Padding: [2]int{1, 1}}).Square()
	}), shapes: [][]input{ins(sh(1, 2, 4, 4)), ins(tr(2, 2, 3, 4))}},
	{name: "AvgPool2dGrad", ops: []string{"AvgPool2dBackward"}, f: bin(func(x, u *T) *T {
		y := nabla.AvgPool2d(x.Square(), [2]int{2, 2}, nabla.PoolOptions{}).Mul(u).Sum()
		return nabla.Gradients(y, []*T{x}, nabla.CreateGraph())[0].Square()
	}), shapes: [][]input{ins(sh(1, 2, 4, 4), sh(1, 2, 2, 2))}},
	// PyTorch's other pooling options: ceil mode (windows that run past
	// the edge, on the fast 2×2 path and the general ones), dilation, and
	// the divisors of average pooling, each squared so that second order
	// runs the backward rules' own backward rules.
	{name: "MaxPool2dCeil", ops: []string{"MaxPool2d", "MaxPool2dScatter", "MaxPool2dGather"}, f: un(func(x *T) *T {
		return nabla.MaxPool2d(x, [2]int{3, 2}, nabla.PoolOptions{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, CeilMode: true}).Square()
	}), shapes: [][]input{ins(sh(1, 2, 6, 5)), ins(tr(2, 2, 5, 6))}},
	{name: "MaxPool2dFastCeil", ops: []string{"MaxPool2d", "MaxPool2dScatter", "MaxPool2dGather"}, f: un(func(x *T) *T {
		return nabla.MaxPool2d(x, [2]int{2, 2}, nabla.PoolOptions{CeilMode: true}).Square()
	}), shapes: [][]input{ins(sh(2, 2, 5, 7)), ins(sh(1, 1, 4, 3)), ins(tr(1, 2, 5, 3))}},
	{name: "MaxPool2dDilation", ops: []string{"MaxPool2d", "MaxPool2dScatter", "MaxPool2dGather"}, f: un(func(x *T) *T {
		return nabla.MaxPool2d(x, [2]int{2, 3}, nabla.PoolOptions{Stride: [2]int{1, 2}, Padding: [2]int{1, 1}, Dilation: [2]int{2, 2}}).Square()
	}), shapes: [][]input{ins(sh(1, 2, 5, 7)), ins(tr(1, 2, 5, 7))}},
	{name: "MaxPool2dDilationCeil", ops: []string{"MaxPool2d", "MaxPool2dScatter", "MaxPool2dGather"}, f: un(func(x *T) *T {
		return nabla.MaxPool2d(x, [2]int{3, 3}, nabla.PoolOptions{Stride: [2]int{2, 2}, Padding: [2]int{1, 0}, Dilation: [2]int{2, 1}, CeilMode: true}).Square()
	}), shapes: [][]input{ins(sh(1, 2, 8, 6))}},
	{name: "MaxPool2dScatterDilationCeil", ops: []string{"MaxPool2dScatter", "MaxPool2dGather"}, f: bin(func(x, u *T) *T {
		y := nabla.MaxPool2d(x, [2]int{2, 2}, nabla.PoolOptions{Stride: [2]int{2, 1}, Dilation: [2]int{1, 2}, CeilMode: true}).Mul(u).Sum()
		return nabla.Gradients(y, []*T{x}, nabla.CreateGraph())[0].Square()
	}), shapes: [][]input{ins(sh(1, 2, 5, 5), sh(1, 2, 3, 3))}},
	{name: "AvgPool2dCeil", ops: []string{"AvgPool2d", "AvgPool2dBackward"}, f: un(func(x *T) *T {
		return nabla.AvgPool2d(x, [2]int{3, 3}, nabla.PoolOptions{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, CeilMode: true}).Square()
	}), shapes: [][]input{ins(sh(1, 2, 6, 5)), ins(tr(2, 1, 5, 6))}},
	{name: "AvgPool2dExcludePad", ops: []string{"AvgPool2d", "AvgPool2dBackward"}, f: un(func(x *T) *T {
		return nabla.AvgPool2d(x, [2]int{3, 2}, nabla.PoolOptions{Stride: [2]int{2, 1}, Padding: [2]int{1, 1}, CeilMode: true, ExcludePad: true}).Square()
	}), shapes: [][]input{ins(sh(1, 2, 6, 4)), ins(sh(2, 1, 5, 3))}},
	{name: "AvgPool2dDivisor", ops: []string{"AvgPool2d", "AvgPool2dBackward"}, f: un(func(x *T) *T {
		return nabla.AvgPool2d(x, [2]int{2, 3}, nabla.PoolOptions{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, CeilMode: true, DivisorOverride: 4}).Square()
	}), shapes: [][]input{ins(sh(1, 2, 5, 6))}},
	{name: "AvgPool2dGradExcludePad", ops: []string{"AvgPool2dBackward"}, f: bin(func(x, u *T) *T {
		y := nabla.AvgPool2d(x.Square(), [2]int{3, 3}, nabla.PoolOptions{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, CeilMode: true, ExcludePad: true}).Mul(u).Sum()
		return nabla.Gradients(y, []*T{x}, nabla.CreateGraph())[0].Square()
	}), shapes: [][]input{ins(sh(1, 2, 6, 5), sh(1, 2, 4, 3))}},
	{name: "AdaptiveAvgPool2d", ops: []string{"MatMul"}, f: un(func(x *T) *T {
		return nabla.AdaptiveAvgPool2d(x, 2, 3)
	}), shapes: [][]input{ins(sh(1, 2, 5, 4))}},
	{name: "Dot", ops: []string{"MatMul"}, f: bin((*T).Dot), shapes: [][]input{ins(sh(4), sh(4))}},

	// attention: first order runs the fused backward, second order the
	// op-built one; squared, so that the second order also sees an
	// upstream that depends on the inputs.
	{name: "Attention", ops: []string{"ScaledDotProductAttention"}, f: func(in []*T) *T {
		return nabla.ScaledDotProductAttention(in[0], in[1], in[2], nabla.AttentionOptions{}).Square()
	}, shapes: [][]input{ins(sh(2, 3, 4), sh(2, 5, 4), sh(2, 5, 3)), ins(sh(3, 2), sh(4, 2), sh(4, 3)),
		ins(sh(2, 2, 3, 2), sh(1, 2, 4, 2), sh(2, 1, 4, 3)), ins(tr(2, 3, 4), tr(2, 5, 4), tr(2, 5, 3))}},
	{name: "Attention/causal", ops: []string{"ScaledDotProductAttention"}, f: func(in []*T) *T {
		return nabla.ScaledDotProductAttention(in[0], in[1], in[2], nabla.AttentionOptions{Causal: true, Scale: 0.7}).Square()
	}, shapes: [][]input{ins(sh(2, 4, 3), sh(2, 4, 3), sh(2, 4, 2)), ins(sh(2, 3, 2), sh(2, 5, 2), sh(2, 5, 2))}},
	// A fixed mask with -Inf entries, broadcast over the batch: it needs
	// no gradient, so first order runs the fused backward.
	{name: "Attention/mask", ops: []string{"ScaledDotProductAttention"}, f: func(in []*T) *T {
		inf := math.Inf(-1)
		m := nabla.FromSlice([]float64{0, inf, 0.5, 0, -1, 0, inf, 0, 0.3, 0.2, 0, 0}, 3, 4)
		return nabla.ScaledDotProductAttention(in[0], in[1], in[2], nabla.AttentionOptions{Mask: m}).Square()
	}, shapes: [][]input{ins(sh(2, 3, 2), sh(2, 4, 2), sh(2, 4, 3))}},
	// The mask as an input, with its own gradient (op-built at both orders).
	{name: "Attention/maskgrad", ops: []string{"ScaledDotProductAttention"}, f: func(in []*T) *T {
		return nabla.ScaledDotProductAttention(in[0], in[1], in[2], nabla.AttentionOptions{Mask: in[3], Causal: true}).Square()
	}, shapes: [][]input{ins(sh(2, 3, 2), sh(2, 3, 2), sh(2, 3, 2), sh(1, 3, 3)), ins(sh(2, 3, 2), sh(2, 3, 2), sh(2, 3, 2), sh(3))}},
	// Packed self-attention: qkv (N, L, 3E) with 2 heads; plain, causal
	// with dropout, a Bool mask, and a float mask with its own gradient
	// (op-built at both orders).
	{name: "SelfAttentionPacked", ops: []string{"SelfAttentionPacked"}, f: un(func(x *T) *T {
		return nabla.SelfAttentionPacked(x, 2, nabla.AttentionOptions{}).Square()
	}), shapes: [][]input{ins(sh(2, 3, 12)), ins(sh(1, 4, 6))}},
	{name: "SelfAttentionPacked/causal-dropout", ops: []string{"SelfAttentionPacked"}, f: un(func(x *T) *T {
		return nabla.SelfAttentionPacked(x, 2, nabla.AttentionOptions{Causal: true, Dropout: 0.3, Rng: rand.New(rand.NewPCG(3, 4))}).Square()
	}), shapes: [][]input{ins(sh(2, 4, 12))}},
	{name: "SelfAttentionPacked/boolmask", ops: []string{"SelfAttentionPacked"}, f: un(func(x *T) *T {
		m := nabla.FromSlice([]bool{true, false, true, true, true, false, true, true, true}, 3, 3)
		return nabla.SelfAttentionPacked(x, 1, nabla.AttentionOptions{Mask: m}).Square()
	}), shapes: [][]input{ins(sh(2, 3, 6))}},
	{name: "SelfAttentionPacked/maskgrad", ops: []string{"SelfAttentionPacked"}, f: bin(func(x, m *T) *T {
		return nabla.SelfAttentionPacked(x, 2, nabla.AttentionOptions{Mask: m, Causal: true}).Square()
	}), shapes: [][]input{ins(sh(2, 3, 12), sh(1, 1, 3, 3))}},
	// Linear: with and without bias, batched rows, a transposed weight.
	{name: "Linear", ops: []string{"Linear"}, f: func(in []*T) *T {
		return nabla.Linear(in[0], in[1], in[2]).Square()
	}, shapes: [][]input{ins(sh(2, 3), sh(4, 3), sh(4)), ins(sh(2, 2, 3), tr(4, 3), sh(4)), ins(tr(2, 3), sh(4, 3), sh(4))}},
	{name: "Linear/nobias", ops: []string{"Linear"}, f: bin(func(x, w *T) *T {
		return nabla.Linear(x, w, nil).Square()
	}), shapes: [][]input{ins(sh(2, 3), sh(4, 3)), ins(sh(3), sh(2, 3))}},
	// Views the kernel reads without a copy: transposed last axes (the
	// column-major layout), and heads split from (N, L, H, D) by a permute.
	{name: "Attention/views", ops: []string{"ScaledDotProductAttention"}, f: func(in []*T) *T {
		q := in[0].Transpose(-2, -1)
		k := in[1].Permute(0, 2, 1, 3)
		v := in[2].Permute(0, 2, 1, 3)
		return nabla.ScaledDotProductAttention(q, k, v, nabla.AttentionOptions{Causal: true}).Square()
	}, shapes: [][]input{ins(sh(2, 2, 3, 4), sh(2, 4, 2, 3), sh(2, 4, 2, 2))}},
	// A Bool mask (true: may attend), broadcast over the batch.
	{name: "Attention/boolmask", ops: []string{"ScaledDotProductAttention"}, f: func(in []*T) *T {
		m := nabla.FromSlice([]bool{true, false, true, true, false, true, true, true, true, true, false, false}, 3, 4)
		return nabla.ScaledDotProductAttention(in[0], in[1], in[2], nabla.AttentionOptions{Mask: m, Causal: true}).Square()
	}, shapes: [][]input{ins(sh(2, 3, 2), sh(2, 4, 2), sh(2, 4, 3))}},
	// Dropout from a fresh generator on every call, so that every
	// evaluation draws the same mask.
	{name: "Attention/dropout", ops: []string{"ScaledDotProductAttention"}, f: func(in []*T) *T {
		rng := rand.New(rand.NewPCG(3, 4))
		return nabla.ScaledDotProductAttention(in[0], in[1], in[2], nabla.AttentionOptions{Dropout: 0.3, Rng: rng}).Square()
	}, shapes: [][]input{ins(sh(2, 3, 2), sh(2, 4, 2), sh(2, 4, 3))}},
	// recurrent gate ops, squared so that at second order the upstream
	// depends on the inputs too (the op-built backward's d/dg rule)
	{name: "LSTMCellGates", ops: []string{"LSTMCellGates"}, f: func(in []*T) *T {
		return nabla.LSTMCellGates(in[0], in[1], in[2]).Square()
	}, shapes: [][]input{ins(sh(3, 8), sh(3, 8), sh(3, 2)), ins(tr(2, 12), sh(2, 12), tr(2, 3)), ins(sh(1, 4), sh(1, 4), sh(1, 1))}},
	// Two steps, the second fed the first's h (through a product, as the
	// recurrent GEMM does) and c.
	{name: "LSTMCellGates/steps", ops: []string{"LSTMCellGates"}, f: func(in []*T) *T {
		s := nabla.LSTMCellGates(in[0], in[1], in[2])
		s = nabla.LSTMCellGates(in[0], s.Index(0, 0).MatMul(in[3]), s.Index(0, 1))
		return s.Index(0, 0).Mul(s.Index(0, 1))
	}, shapes: [][]input{ins(sh(2, 8), sh(2, 8), sh(2, 2), sh(2, 8))}},
	{name: "GRUCellGates", ops: []string{"GRUCellGates"}, f: func(in []*T) *T {
		return nabla.GRUCellGates(in[0], in[1], in[2], in[3]).Square()
	}, shapes: [][]input{ins(sh(3, 6), sh(3, 6), sh(3, 2), sh(6)), ins(tr(2, 9), sh(2, 9), tr(2, 3), sh(9))}},
	{name: "GRUCellGates/nobias", ops: []string{"GRUCellGates"}, f: func(in []*T) *T {
		h := nabla.GRUCellGates(in[0], in[1], in[2], nil)
		return nabla.GRUCellGates(in[0], h.MatMul(in[3]), h, nil).Square()
	}, shapes: [][]input{ins(sh(2, 6), sh(2, 6), sh(2, 2), sh(2, 6))}},
	// The recurrent layers' time loops, every step one node: outputs of
	// every step and the final states, time-major forward and batch-first
	// reverse (the projection then has rows spaced apart).
	{name: "LSTMLayer", ops: []string{"LSTMStep"}, f: func(in []*T) *T {
		hs, hn, cn := nabla.LSTMLayer(in[0], 0, in[1], in[2], in[3], false)
		return nabla.Concat([]*T{nabla.Stack(hs, 0), hn.Mul(cn).Unsqueeze(0)}, 0).Square()
	}, shapes: [][]input{ins(sh(3, 2, 8), sh(8, 2), sh(2, 2), sh(2, 2)), ins(sh(2, 1, 4), tr(4, 1), sh(1, 1), sh(1, 1))}},
	{name: "LSTMLayer/reverse", ops: []string{"LSTMStep"}, f: func(in []*T) *T {
		hs, _, cn := nabla.LSTMLayer(in[0], 1, in[1], in[2], in[3], true)
		return nabla.Stack(hs, 1).Sum(1).Mul(cn)
	}, shapes: [][]input{ins(sh(2, 3, 8), sh(8, 2), sh(2, 2), sh(2, 2))}},
	{name: "GRULayer", ops: []string{"GRUStep"}, f: func(in []*T) *T {
		hs, hn := nabla.GRULayer(in[0], 0, in[1], in[2], in[3], false)
		return nabla.Concat([]*T{nabla.Stack(hs, 0), hn.Unsqueeze(0)}, 0).Square()
	}, shapes: [][]input{ins(sh(3, 2, 6), sh(6, 2), sh(6), sh(2, 2)), ins(sh(2, 1, 3), tr(3, 1), sh(3), sh(1, 1))}},
	{name: "GRULayer/reverse-nobias", ops: []string{"GRUStep"}, f: func(in []*T) *T {
		hs, _ := nabla.GRULayer(in[0], 1, in[1], nil, in[2], true)
		return nabla.Stack(hs, 1).Square()
	}, shapes: [][]input{ins(sh(2, 3, 6), sh(6, 2), sh(2, 2))}},
	{name: "RNNLayer/tanh", ops: []string{"RNNStep"}, f: func(in []*T) *T {
		hs, hn := nabla.RNNLayer(in[0], 0, in[1], in[2], false, false)
		return nabla.Concat([]*T{nabla.Stack(hs, 0), hn.Unsqueeze(0)}, 0).Square()
	}, shapes: [][]input{ins(sh(3, 2, 2), sh(2, 2), sh(2, 2)), ins(sh(2, 1, 3), tr(3, 3), sh(1, 3))}},
	{name: "RNNLayer/relu-reverse", ops: []string{"RNNStep"}, f: func(in []*T) *T {
		hs, _ := nabla.RNNLayer(in[0], 1, in[1], in[2], true, true)
		return nabla.Stack(hs, 1).Square()
	}, shapes: [][]input{ins(sh(2, 3, 2), sh(2, 2), sh(2, 2))}},
	// running sums and products (ops_scan.go); squared so that at second
	// order the backward ops get an upstream that depends on x
	{name: "CumSum", ops: []string{"CumSum"}, f: un(func(x *T) *T { return x.CumSum(-1).Square() }), shapes: append(reduceShapes, ins(sh()))},
	{name: "CumSum/axis0", ops: []string{"CumSum"}, f: un(func(x *T) *T { return x.CumSum(0).Square() }), shapes: reduceShapes},
	{name: "ProdAll", ops: []string{"Prod", "ProdOthers"}, f: un(func(x *T) *T { return x.Prod() }), shapes: append(reduceShapes, ins(sh()))},
	{name: "ProdAxis", ops: []string{"Prod", "ProdOthers"}, f: un(func(x *T) *T { return x.Prod(-1).Square() }), shapes: reduceShapes},
	{name: "ProdKeep", ops: []string{"Prod", "ProdOthers"}, f: un(func(x *T) *T { return x.ProdKeep(0, 2).Square() }), shapes: [][]input{ins(sh(2, 3, 4)), ins(tr(2, 3, 4))}},
	// In-place ops on a non-leaf that the graph needs afterwards (y is used
	// after the write, and x through it and directly).
	{name: "AddInPlace", ops: []string{"Add"}, f: bin(func(x, u *T) *T {
		y := x.MulScalar(1.5)
		return y.AddInPlace(u).Mul(x)
	}), shapes: inplaceShapes},
	{name: "MulInPlace", ops: []string{"Mul", "Clone"}, f: bin(func(x, u *T) *T {
		y := x.MulScalar(1.5)
		return y.MulInPlace(u).Mul(x)
	}), shapes: inplaceShapes},
	{name: "MulScalarInPlace", ops: []string{"MulScalar"}, f: un(func(x *T) *T {
		return x.MulScalar(1.5).MulScalarInPlace(-2).Mul(x)
	}), shapes: unaryShapes},
	{name: "CopyFrom", ops: []string{"Clone", "BroadcastTo"}, f: bin(func(x, u *T) *T {
		y := x.MulScalar(1.5)
		return y.CopyFrom(u.Sin()).Mul(x)
	}), shapes: inplaceShapes},
	{name: "Fill", ops: []string{"Fill"}, f: un(func(x *T) *T {
		y := x.MulScalar(1.5)
		z := y.MulScalar(3) // y's old graph is used before the write
		return y.Fill(0.25).Mul(x).Add(z)
	}), shapes: unaryShapes},
	{name: "CopyFromConstant", ops: []string{"Fill"}, f: un(func(x *T) *T {
		return x.MulScalar(1.5).CopyFrom(nabla.FromSlice([]float64{0.5})).Mul(x)
	}), shapes: unaryShapes},
	{name: "Zero", ops: []string{"Fill"}, f: un(func(x *T) *T {
		return x.MulScalar(1.5).Zero().Add(x).Square()
	}), shapes: unaryShapes},
	{name: "ClampInPlace", ops: []string{"Clamp", "Clone"}, f: un(func(x *T) *T {
		return x.MulScalar(1.5).ClampInPlace(-0.7, 0.7).Mul(x)
	}), shapes: unaryShapes},
	{name: "ReluInPlace", ops: []string{"ReluInPlace", "ReluGrad"}, f: un(func(x *T) *T {
		return x.MulScalar(1.5).ReluInPlace().Mul(x)
	}), shapes: unaryShapes},
	{name: "MaskedFillInPlace", ops: []string{"Where"}, f: un(func(x *T) *T {
		mask := x.Detach().Greater(nabla.FullOf(nabla.Float64, 0.5))
		return x.MulScalar(1.5).MaskedFillInPlace(mask, 0.25).Mul(x)
	}), shapes: unaryShapes},
	// the tanh approximation of GELU (ops_gelu_tanh.go); the chain gives
	// GeluTanhGrad an upstream that depends on x at second order
	{name: "GeluTanh", ops: []string{"GeluTanh", "GeluTanhGrad"}, f: un((*T).GeluTanh), shapes: unaryShapes},
	{name: "GeluTanh/chain", ops: []string{"GeluTanh", "GeluTanhGrad"}, f: un(func(x *T) *T { return x.GeluTanh().MulScalar(2).GeluTanh() }), shapes: unaryShapes},
}

// inplaceShapes are binaryShapes whose second operand broadcasts to the
// first, as an in-place op needs.
var inplaceShapes = [][]input{
	ins(sh(), sh()), ins(sh(3), sh(3)), ins(sh(3, 2), sh(3, 2)), ins(sh(3, 4), sh(1, 4)),
	ins(sh(2, 3, 4), sh()), ins(sh(2, 3), sh(3)), ins(tr(3, 2), sh(3, 2)), ins(sh(2, 3), tr(2, 3)), ins(tr(2, 3, 4), sh(4)),
}

func TestGradcheck(t *testing.T) {
	for _, c := range gradCases {
		for si, shapes := range c.shapes {
			t.Run(c.name+"/"+strconv.Itoa(si), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(1, uint64(si)))
				in := make([]*T, len(shapes))
				for i, s := range shapes {
					in[i] = makeInput(rng, s, c.dom)
				}
				opts := c.opts
				opts.Order = 2
				if err := gradcheck.Check(c.f, in, opts); err != nil {
					t.Errorf("%s %s: %v", c.name, gradcheck.Describe(in), err)
				}
			})
		}
	}
}

// TestEveryOpHasGradcheck fails when an op recorded anywhere in the package
// has no row in the gradient-check table.
func TestEveryOpHasGradcheck(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range gradCases {
		for _, op := range c.ops {
			covered[op] = true
		}
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	found := 0
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			var fn string
			switch x := call.Fun.(type) {
			case *ast.Ident:
				fn = x.Name
			case *ast.SelectorExpr:
				fn = x.Sel.Name
			}
			if fn != "record" && fn != "unary" && fn != "binary" {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok {
				return true
			}
			op, _ := strconv.Unquote(lit.Value)
			found++
			if !covered[op] {
				t.Errorf("%s: op %q has no gradient check in gradCases", fset.Position(call.Pos()), op)
			}
			return true
		})
	}
	if found < 30 {
		t.Errorf("found only %d recorded ops; the source scan is broken", found)
	}
}
