// Package nn holds neural-network layers, losses and initialisers in the
// spirit of torch.nn, built on the tensors and automatic differentiation of
// package nabla.
//
// # Modules
//
// A [Module] maps a batch to a batch (Forward) and lists its named
// parameters (Params). Layers are structs whose exported fields are their
// parameters ([Linear].Weight, [Linear].Bias), made by constructors that
// take an explicit *rand.Rand and initialise as PyTorch does, in float32:
//
//	rng := rand.New(rand.NewPCG(1, 2))
//	model := nn.NewSequential(
//		nn.NewLinear(rng, 784, 256), nn.ReLU{},
//		nn.NewLinear(rng, 256, 10),
//	)
//	loss := nn.CrossEntropy(model.Forward(x), labels)
//	loss.Backward()
//
// Parameter names are PyTorch's: [Sequential] names its children "0", "1",
// ..., so the model above has "0.weight", "0.bias", "2.weight" and
// "2.bias", and BatchNorm keeps the buffers "running_mean", "running_var"
// and "num_batches_tracked". Checkpoints therefore line up with a PyTorch
// state_dict.
//
// # Writing a model
//
// A model is a plain struct holding layers. It lists them once, in a
// Children method ([Parent]); Params is then one line with [Collect], and
// [Buffers], [SetTraining], [SetParam], [To], [ZeroGrad] and [NumParams]
// reach every layer inside, however deeply nested:
//
//	type MLP struct{ FC1, FC2 *nn.Linear }
//
//	func (m *MLP) Children() []nn.Child {
//		return []nn.Child{{Name: "fc1", Module: m.FC1}, {Name: "fc2", Module: m.FC2}}
//	}
//	func (m *MLP) Params() []nn.Param { return nn.Collect(m.Children()...) }
//	func (m *MLP) Forward(x *nabla.Tensor) *nabla.Tensor {
//		return m.FC2.Forward(m.FC1.Forward(x).Relu())
//	}
//
// A module that owns tensors directly implements [ParamSetter] as well, so
// that its dtype can be changed and its parameters substituted in gradient
// checks. The package example shows a complete model.
//
// # Training and evaluation
//
// [Dropout] and [BatchNorm1d]/[BatchNorm2d] behave differently in training
// and evaluation; layers start in training mode, and SetTraining(model,
// false) switches every layer of a model to evaluation.
//
// # Recurrent layers
//
// [RNN], [LSTM] and [GRU] take PyTorch's options ([RNNOptions]: layers,
// bidirectional, batch first, bias, dropout between layers) and return,
// from ForwardState, the last layer's output at every step and the final
// states h_n (and c_n), (layers·directions, B, H), as PyTorch does; their
// parameters are named weight_ih_l0, weight_hh_l0_reverse, ..., so a
// PyTorch state_dict loads by name. Each layer direction projects the
// input of all steps with one GEMM, then runs one fused node per step
// ([nabla.LSTMLayer], [nabla.GRULayer], [nabla.RNNLayer]). [RNNCell],
// [LSTMCell] and [GRUCell] are single steps. [LSTMLanguageModel] is an
// embedding, an LSTM and a linear head, for next-token prediction.
//
// # Sequence layers
//
// [MultiheadAttention], [TransformerEncoderLayer], [TransformerDecoderLayer],
// [TransformerEncoder], [TransformerDecoder] and [Transformer] are
// PyTorch 1.13's, with its parameter names ("self_attn.in_proj_weight",
// "linear1.weight", "norm1.bias", "layers.0. ...") and its (L, N, E)
// layout unless BatchFirst; masks are additive float masks (0 and -Inf),
// as [GenerateSquareSubsequentMask] makes. Attention runs on the fused
// [nabla.ScaledDotProductAttention] unless the weights are asked for.
// [RMSNorm], [Rotary], [PositionalEncoding] and [PositionalEmbedding] are
// the pieces of LLaMA- and GPT-style models.
//
// # Losses
//
// Each loss is a struct whose zero value has PyTorch's defaults
// ([CrossEntropyLoss], [MSELoss], [BCEWithLogitsLoss], ...), with a Forward
// method of (input, target) and a [Reduction] field: [Mean] (the default),
// [Sum] or [None]. Functions such as [CrossEntropy] and [MSE] are the
// defaults in one call. Class labels are whole numbers held in a float
// tensor.
//
// # Errors
//
// As in package nabla, mistakes in shapes and values are programming
// errors and panic with a typed error that names the layer or loss and the
// shapes: an input of shape (128, 100) given to a Linear layer from 784
// features panics with
//
//	nabla: Linear(784→256): shape [128 100]: want shape [* 784] (any leading dimensions), got last dimension 100
//
// a *nabla.ShapeError, and a label out of range panics with a
// *nabla.ValueError naming the loss, the label and the number of classes.
// nabla.Maybe turns such a panic into an error.
//
// # Concurrency
//
// Layers hold no global state. A model may be used by one goroutine at a
// time (training mutates its parameters and running statistics, and
// Dropout draws from its own *rand.Rand); separate models may be trained
// concurrently.
package nn
