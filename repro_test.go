package nabla_test

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/optim"
)

// reproRun trains a small network that goes through every kind of kernel
// (a convolution, pooling, GEMMs large enough to be split between the
// workers, layer norm, GELU, softmax cross-entropy and Adam) for a few
// steps from a fixed seed, and returns a hash of the bits of every weight.
func reproRun(conv bool) uint64 {
	rng := rand.New(rand.NewPCG(42, 7))
	var model *nn.Sequential
	if conv {
		model = nn.NewSequential(
			nn.NewConv2d(rng, 1, 8, [2]int{5, 5}, nabla.ConvOptions{Padding: [2]int{2, 2}}), nn.ReLU{},
			nn.NewMaxPool2d([2]int{2, 2}, [2]int{2, 2}, [2]int{}), nn.NewFlatten(),
			nn.NewLinear(rng, 8*14*14, 256), nn.NewLayerNorm(256), nn.GELU{}, nn.NewLinear(rng, 256, 10))
	} else {
		model = nn.NewSequential(nn.NewFlatten(), nn.NewLinear(rng, 28*28, 256), nn.NewLayerNorm(256), nn.GELU{}, nn.NewLinear(rng, 256, 10))
	}
	opt := optim.NewAdam(model.Params(), optim.AdamConfig{LR: 1e-3})
	x := nabla.RandN(rng, 64, 1, 28, 28)
	lab := make([]float32, 64)
	for i := range lab {
		lab[i] = float32(rng.IntN(10))
	}
	labels := nabla.FromSlice(lab).To(nabla.Int64)
	ar := nabla.NewArena()
	for range 3 {
		opt.ZeroGrad()
		nn.CrossEntropy(model.Forward(x.InArena(ar)), labels).Backward()
		opt.Step()
		ar.Reset()
	}
	h := fnv.New64a()
	for _, p := range model.Params() {
		for _, v := range p.Tensor.Float32s() {
			b := math.Float32bits(v)
			h.Write([]byte{byte(b), byte(b >> 8), byte(b >> 16), byte(b >> 24)})
		}
	}
	return h.Sum64()
}

// TestReproducible runs the same training twice in one process: the
// weights must agree bit for bit. The hashes it logs let runs with other
// thread counts (GOMAXPROCS) and builds (-tags purego) be compared; see
// docs/REPRODUCIBILITY.md for what agrees across those.
func TestReproducible(t *testing.T) {
	a, b := reproRun(false), reproRun(false)
	if a != b {
		t.Fatalf("two runs of the same seeded MLP training differ: %x and %x", a, b)
	}
	t.Logf("MLP weights hash %016x", a)
	if p := runtime.GOMAXPROCS(0); p > 2 {
		// Known: Conv2d's weight gradient adds the goroutines' partial sums
		// in the order they finish (internal/loops eachChunk), which with
		// three or more of them changes the rounding from run to run.
		t.Logf("GOMAXPROCS=%d: the convolutional run is not bit-reproducible yet at more than two threads; not checked", p)
		return
	}
	a, b = reproRun(true), reproRun(true)
	if a != b {
		t.Fatalf("two runs of the same seeded CNN training differ: %x and %x", a, b)
	}
	t.Logf("CNN weights hash %016x", a)
}
