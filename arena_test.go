package nabla_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nabla-go/nabla"
)

func TestArenaTrainingMatchesHeap(t *testing.T) {
	// The same steps with and without an arena give the same weights.
	run := func(useArena bool) []float32 {
		rng := rand.New(rand.NewPCG(9, 9))
		m := newMLP(rng, 6, 5, 3)
		x := nabla.Rand(rng, 8, 6)
		labels := nabla.FromSlice([]int64{0, 1, 2, 0, 1, 2, 0, 1})
		ar := nabla.NewArena()
		for range 5 {
			xx := x
			if useArena {
				xx = x.InArena(ar)
			}
			m.step(xx, labels, 0.1)
			ar.Reset()
		}
		return m.w[0].Float32s()
	}
	a, b := run(true), run(false)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("weights differ at %d: arena %v, heap %v", i, a[i], b[i])
		}
	}
}

func TestArenaRecycles(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items, so allocations are not representative")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	m := newMLP(rng, 784, 256, 128, 10)
	x := nabla.Rand(rng, 128, 784)
	labels := nabla.ZerosOf(nabla.Int64, 128)
	ar := nabla.NewArena()
	step := func() {
		m.step(x.InArena(ar), labels, 0.01)
		ar.Reset()
	}
	step()
	step()
	var before, after runtimeMem
	before.read()
	const n = 5
	for range n {
		step()
	}
	after.read()
	perStep := (after.bytes - before.bytes) / n
	if perStep > 1<<20 {
		t.Errorf("a warm MLP step allocates %d bytes; want < 1 MiB", perStep)
	}
	t.Logf("warm MLP step (784-256-128-10, batch 128) allocates %d bytes", perStep)
}

// TestArenaBackwardUpstream checks that an upstream gradient made outside
// the arena (WithUpstream of a plain tensor) takes the output's arena:
// the gradient g·y of a product with the other operand outside the arena
// too is then recycled, not allocated on every pass.
func TestArenaBackwardUpstream(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items, so allocations are not representative")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	const rows, cols = 64, 1024
	x := nabla.RandN(rng, rows, cols).RequireGrad()
	y := nabla.RandN(rng, rows, cols)
	up := nabla.Ones(rows, cols)
	ar := nabla.NewArena()
	pass := func() {
		x.InArena(ar).Mul(y).Backward(nabla.WithUpstream(up))
		x.ZeroGrad()
		ar.Reset()
	}
	pass()
	pass()
	var before, after runtimeMem
	before.read()
	const n = 5
	for range n {
		pass()
	}
	after.read()
	perPass := (after.bytes - before.bytes) / n
	if perPass > rows*cols*4/4 {
		t.Errorf("a warm forward and backward pass of a product allocates %d bytes; want < %d (a quarter of the tensor)", perPass, rows*cols)
	}
	// The gradient itself, in the leaf's own memory after the Reset.
	x.InArena(ar).Mul(y).Backward(nabla.WithUpstream(up))
	ar.Reset()
	if got, want := x.Grad().Data32(), y.Data32(); !slices.Equal(got, want) {
		t.Errorf("x.Grad() differs from y: %v... ; want %v...", got[:4], want[:4])
	}
}
