// Package nabla is a deep-learning library in pure Go: n-dimensional
// tensors with reverse-mode automatic differentiation of any order.
//
// # Tensors
//
// A [Tensor] holds values of one [DType] and any rank, including 0-d
// scalars: Float32 (the default), Float64, Int64 (the default integer, for
// labels and indices), Int32, Uint8, Bool (masks, the results of
// comparisons), and Float16 and BFloat16, which store 2 bytes an element
// and compute in float32. Reshape, Permute, Transpose, Slice, Squeeze,
// Unsqueeze and BroadcastTo return views that share memory; Contiguous and
// Clone copy. Binary ops broadcast as NumPy does and promote dtypes as
// PyTorch 1.13 does: tensors with dimensions decide, 0-d tensors such as
// [Scalar] (a Python float), [ScalarInt] (a Python int) and [ScalarBool]
// count only when of a higher category (bool < integer < float), so an
// Int64 tensor plus Scalar(0.5) is Float32 and an Int32 tensor plus
// ScalarInt(1) stays Int32. Only Float32 and Float64 tensors can require
// gradients; ops that produce integer or Bool tensors record nothing.
//
// # Automatic differentiation
//
// Mark leaves with [Tensor.RequireGrad]; every op on them records the graph
// as it runs. [Tensor.Backward] walks it in reverse, multiplying each
// upstream gradient by the op's local gradient and summing over every path
// (the multivariate chain rule), and adds the result to each leaf's
// [Tensor.Grad]. Backward rules are themselves written with tensor ops, so
// gradients can be differentiated again: [Grad] composes to any order (and
// with closures over weights that require grad, whose gradients then flow
// through it), [HVP] and [HVPN] give Hessian-vector products, and
// [Jacobian] and [Hessian] the full matrices for small inputs.
//
// In-place ops (AddInPlace, MulInPlace, CopyFrom, Fill, Zero, ClampInPlace,
// ReluInPlace, MaskedFillInPlace, as PyTorch's add_, copy_, ...) write into
// a tensor or a view of one, and are recorded when the graph needs them.
// Every storage has a version ([Tensor.Version]) that each in-place write,
// Set and optimizer step increases; a backward pass that needs a value
// written over since the forward pass panics with a *[GradError] naming the
// op and the tensor, instead of computing a wrong gradient. In-place ops on
// a leaf that requires grad are refused outside [NoGrad]. For NaN and Inf
// in gradients, see [DetectAnomaly] and [AnomalyMode].
//
// # Recurrent layers
//
// [LSTMLayer], [GRULayer] and [RNNLayer] run the time loop of one layer
// of nn.LSTM, nn.GRU and nn.RNN, one node per step that fuses the
// recurrent product with the gate arithmetic; [LSTMCellGates] and
// [GRUCellGates] are the gate arithmetic of one step alone, for the cells.
//
// # Memory
//
// Ops allocate their results on the Go heap by default. A training loop
// that tags its batch with an [Arena] ([Tensor.InArena]) has every op on it,
// and the backward pass behind them, take memory from the arena instead,
// and hands it all back with [Arena.Reset] after the optimizer step: a warm
// step of a 784-256-128-10 MLP then allocates about 22 KB rather than 2 MB.
// Leaf gradients accumulate in place in memory of their own.
//
// # Errors
//
// Shape and axis mistakes are programming errors: ops panic with a
// *[ShapeError] naming the op and the shapes, for example
//
//	nabla: MatMul: shapes [2 3] and [4 5]: inner dimensions differ (3 != 4)
//
// and [Maybe] turns such a panic into an error. Misuse of autograd panics
// with a *[GradError].
//
// # Concurrency
//
// There is no global state that changes a result: randomness comes from an
// explicit *rand.Rand, and [NoGrad] is scoped to the tensors it is given,
// so goroutines that train different models never interfere. (The one
// process-wide switch, [AnomalyMode], only records call sites for error
// messages.)
package nabla
