// Package optim holds optimizers, learning-rate schedules and gradient
// clipping for training nabla models.
//
// # Optimizers
//
// [SGD] (with momentum, dampening, Nesterov momentum and weight decay),
// [Adam] and AdamW (optionally AMSGrad), [RMSprop] (optionally centered,
// with momentum) and [Adagrad] follow PyTorch 1.13's update rules exactly;
// the tests compare their parameter trajectories with PyTorch's. Each is
// made over a []nn.Param, the list a module's Params method returns, and
// implements [Optimizer]:
//
//	opt := optim.NewAdam(model.Params(), optim.AdamConfig{LR: 1e-3})
//	for _, batch := range loader.Epoch(epoch) {
//		opt.ZeroGrad()
//		loss := lossFn(model.Forward(batch.X), batch.Y)
//		loss.Backward()
//		opt.Step()
//	}
//
// Step reads each parameter's Grad and writes the new values straight into
// the parameter's storage (Data32 or Data64): it records no graph ops, and
// parameters without a gradient are skipped. Every state buffer is
// allocated when the optimizer is made, so Step allocates nothing. float32
// parameters are updated in float32 arithmetic and float64 ones in
// float64, with the per-step scalars (bias corrections, decayed rates)
// computed in float64, as PyTorch does.
//
// # State
//
// [Optimizer.State] returns the whole state as named tensors, ready for a
// checkpoint (nn.Save stores them beside the model's weights), and
// [Optimizer.LoadState] puts it back; a run that saves and restores its
// state continues exactly as an uninterrupted one. The names are:
//
//	lr                       the current learning rate, a float64 scalar
//	state.<param>.step       the number of updates <param> has received, a float64 scalar
//	state.<param>.<buffer>   a buffer of <param>'s shape and dtype
//
// where <param> is the parameter's name ("0.weight") and the buffers are
// SGD's "momentum_buffer"; Adam's "exp_avg", "exp_avg_sq" and
// "max_exp_avg_sq"; RMSprop's "square_avg", "momentum_buffer" and
// "grad_avg"; Adagrad's "sum" — PyTorch's names. Every buffer is always
// present (zero when the configuration does not use it), so the set of
// names depends only on the optimizer type and the parameters. SGD starts
// its momentum buffer from the first gradient, as PyTorch does, when the
// parameter's step count is 0.
//
// # Schedules
//
// A [Scheduler] sets an optimizer's rate from a [Schedule]: [StepLR],
// [ExponentialLR], [CosineAnnealingLR], [LinearLR] (and [LinearWarmup]),
// and [Sequential] to chain them, for example warm-up then cosine
// ([WarmupCosine]). They use PyTorch's formulas; call Scheduler.Step once
// per epoch or once per batch, whichever the schedule is counted in.
//
// # Clipping
//
// [ClipGradNorm] and [ClipGradValue] rescale or clamp gradients in place
// between Backward and Step, as PyTorch's clip_grad_norm_ and
// clip_grad_value_.
//
// # Errors
//
// Out-of-range hyperparameters and malformed parameter lists are
// programming errors: constructors panic with a *nabla.ValueError naming
// the problem. LoadState, whose input comes from files, returns an error.
package optim
