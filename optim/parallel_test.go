package optim

import (
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
)

// TestParallelStepMatchesSerial checks that splitting a large update
// across cores gives exactly the serial result.
func TestParallelStepMatchesSerial(t *testing.T) {
	n := 2*parallelMin + 37
	run := func(procs int) []float32 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		rng := rand.New(rand.NewPCG(1, 2))
		w := nabla.RandN(rng, n).RequireGrad()
		opt := NewAdam([]nn.Param{{Name: "w", Tensor: w}}, AdamConfig{LR: 0.01})
		for range 3 {
			opt.ZeroGrad()
			w.Square().Sum().Backward()
			opt.Step()
		}
		return w.Float32s()
	}
	serial, parallel := run(1), run(2)
	for i := range serial {
		if serial[i] != parallel[i] {
			t.Fatalf("element %d: serial %v, parallel %v", i, serial[i], parallel[i])
		}
	}
}
