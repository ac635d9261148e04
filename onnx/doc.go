// Package onnx runs and fine-tunes ONNX models on nabla's ops.
//
//	m, err := onnx.Load("resnet18.onnx")
//	outs, err := m.Run(map[string]*nabla.Tensor{"input": x})
//	y := outs["output"]
//
// [Load] decodes the file, turns its floating-point initializers into
// named parameter tensors that require grad ([Model.Params]; batch-norm
// running statistics are [Model.Buffers]), sorts the graph
// topologically, checks that every operator is supported (an error lists
// every unsupported one at once, with its node and opset) and that every
// input is defined, and runs once the nodes that depend only on
// constants. [Model.Run] then runs the rest on nabla's ops: Conv is
// [nabla.Conv2d], MaxPool [nabla.MaxPool2d], Gemm a MatMul, and so on, so
// the kernels are the library's fast ones and the outputs are ordinary
// tensors: Backward through them reaches the parameters, and an
// optimizer over m.Params() trains the model. A Model is an nn.Module
// (one input, one output), so nn's losses and the training loops apply.
//
// Load fuses the chains Conv → Relu and Conv → Add → Relu (ResNet's
// convolution, residual add and ReLU) whose intermediate values nothing
// else reads into one [nabla.Conv2dReLU]: for inference (inside
// nn.NoGrad) the add and the clamp are done in the convolution's pass
// over its output, with the same results bit for bit; when gradients are
// wanted it runs the three ops.
//
// The operators are those torch.onnx.export of PyTorch 1.13 writes for
// MLPs, convolutional networks (torchvision's resnet18 and mobilenet_v2
// are tested), transformer encoders (nn.TransformerEncoder is tested),
// layer norms and GELUs, nearest Resize, and the LSTM and
// GRU operators (default activations, full-length sequences); see the
// operators table in ops.go. LSTM peepholes and GRU's
// linear_before_reset=0, which PyTorch does not write, are checked by
// gradient checks only.
//
// Integer tensors (shapes, axes, indices: everything torch.onnx.export
// computes with Shape, Gather, Unsqueeze, Concat and Reshape for a dynamic
// batch size) are held on the host as int64 values, not as nabla tensors.
// The nodes that compute them from the input shapes alone are run by the
// first Run for a set of input shapes and their results kept, so later
// runs at the same shapes go straight to the float ops.
//
// # Decoding
//
// The protobuf messages are read with a hand-written decoder on
// google.golang.org/protobuf/encoding/protowire rather than Go types
// generated from onnx.proto3: a model needs some forty fields of nine
// messages, and decoding them by hand is what makes the memory bounds
// easy to see. Every slice the decoder allocates holds values that are in
// the input, so a file of n bytes decodes into O(n) memory; a tensor's
// dims are only compared with the bytes that are present (a tensor that
// claims 2^40 elements is an error, not an allocation); messages that can
// nest without limit (subgraphs, sequence types) are skipped, so the
// recursion depth is fixed; and no generated code has to be kept in step
// with protoc. Unknown fields are skipped, as protobuf requires.
//
// External data files are read only from the model's own folder, through
// an [os.Root]: absolute paths, ".." that leaves the folder and symbolic
// links that point outside it are errors.
//
// Errors, not panics: a malformed file, an unsupported operator, a cycle,
// an undefined input, and at Run a missing, unknown or mis-shaped input
// all give an error that names what was wrong.
//
// # Export
//
// [Export] writes an nn.Sequential model (Linear, Conv2d, pools, batch and
// layer norms, activations, Flatten, Dropout, and the sequence layers
// Embedding, LSTM, GRU, MultiheadAttention and Transformer encoders, with
// int64 ids as the input of a model that starts with an Embedding) as an
// opset-17 file with a dynamic batch size (and sequence length) and its
// weights as initializers named as in the state dict; the files pass onnx.checker and load back here with the
// same outputs. The command has "nabla inspect model.onnx" and "nabla
// export --checkpoint RUN".
//
// Supported are opsets 11 to 17 of the default domain and IR versions 6 to
// 9 (torch.onnx.export of PyTorch 1.13 writes IR 7 for opset 13 and IR 8
// for opset 17; both are tested against PyTorch's outputs).
package onnx
