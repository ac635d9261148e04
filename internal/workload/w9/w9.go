// Package w9 is the W9 workload of package workload: torchvision's
// resnet18 imported from ONNX. It is a package of its own because package
// onnx's tests import package workload, which therefore cannot import
// onnx; importing this package (cmd/nabla does) registers W9 with
// workload.Register.
package w9

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/internal/workload"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/onnx"
)

func init() { workload.Register("W9", Run) }

// ModelsEnv names the environment variable that gives W9's model folder
// when Config.ModelsDir is empty (the folder onnx's large reference tests
// read too).
const ModelsEnv = "NABLA_ONNX_MODELS"

// Run measures W9: torchvision's resnet18 imported from the
// ONNX file that bench/reference/make_onnx_reference.py --large writes,
// inference on 224×224 images at batch 1 and 16, milliseconds per batch.
// The activations come from an arena reset after each call, as W5's.
func Run(ctx context.Context, cfg workload.Config, emit func(workload.Result)) error {
	dir := cfg.ModelsDir
	if dir == "" {
		dir = os.Getenv(ModelsEnv)
	}
	if dir == "" {
		return errors.New("the resnet18.onnx of bench/reference/make_onnx_reference.py --large is needed: give its folder (--models-dir or " + ModelsEnv + ")")
	}
	m, err := onnx.Load(filepath.Join(dir, "resnet18.onnx"))
	if err != nil {
		return err
	}
	reps, dur := 5, 500*time.Millisecond
	if cfg.Quick {
		reps, dur = 3, 100*time.Millisecond
	}
	for _, batch := range []int{1, 16} {
		x := nabla.Rand(rand.New(rand.NewPCG(9, 9)), batch, 3, 224, 224)
		ar := nabla.NewArena()
		var sec float64
		var runErr error
		nn.NoGrad(m, func() {
			sec = workload.TimeReps(ctx, reps, dur, func() {
				if _, err := m.Run(map[string]*nabla.Tensor{"input": x.InArena(ar)}); err != nil && runErr == nil {
					runErr = err
				}
				ar.Reset()
			})
		})
		if runErr != nil {
			return runErr
		}
		emit(workload.Result{Case: fmt.Sprintf("resnet18-batch%d", batch), Metric: "ms_per_batch", Unit: "ms", Value: sec * 1e3})
	}
	return nil
}
