package nn

import "github.com/nabla-go/nabla"

// Param is a named tensor that belongs to a module: a trainable parameter
// or a buffer such as a running mean. Names are dotted paths like
// "0.weight" or "encoder.fc1.bias", as in PyTorch's state_dict, so that
// checkpoints line up with PyTorch's.
type Param struct {
	Name   string
	Tensor *nabla.Tensor
}

// Module is a layer or a model: something that maps a tensor to a tensor and
// owns named parameters.
type Module interface {
	// Forward computes the module's output for the batch x.
	Forward(x *nabla.Tensor) *nabla.Tensor
	// Params lists the trainable parameters, in a fixed order.
	Params() []Param
}

// Buffered is implemented by modules that hold state that is saved in
// checkpoints but not trained, such as BatchNorm's running statistics.
type Buffered interface {
	Buffers() []Param
}

// Trainable is implemented by modules that behave differently in training
// and evaluation (Dropout, BatchNorm). SetTraining switches the mode of the
// module and of every module inside it.
type Trainable interface {
	SetTraining(training bool)
}

// Child is a named sub-module of a model. Its name is the prefix of its
// parameters' names: child "fc1" of a model contributes "fc1.weight".
type Child struct {
	Name   string
	Module Module
}

// Parent is implemented by modules built from other modules, such as
// [Sequential] or a user's model struct. Listing the children once lets
// [Collect], [Buffers], [SetTraining], [SetParam], [To] and [ZeroGrad]
// reach every layer inside, however deeply nested.
type Parent interface {
	Children() []Child
}

// ParamSetter is implemented by modules that own tensors directly (every
// layer with weights or buffers). SetParam replaces the parameter or buffer
// called name, as Params or Buffers name it, with t. It panics with a
// *nabla.ValueError if the module has no tensor of that name and with a
// *nabla.ShapeError if t's shape differs from the old tensor's.
//
// [To] uses it to change a model's dtype, and gradient checks use it to
// substitute the leaves they differentiate for a layer's weights.
type ParamSetter interface {
	SetParam(name string, t *nabla.Tensor)
}
