package nn_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
)

// sectors returns n points in the ring 0.3 < r < 1 labelled by which third
// of the circle they lie in, keeping a margin from the boundaries: a
// problem that no linear model solves.
func sectors(rng *rand.Rand, n int) (x, y *T) {
	xs := make([]float32, 0, 2*n)
	ys := make([]int64, 0, n)
	for len(ys) < n {
		r := 0.3 + 0.7*rng.Float64()
		a := 2 * math.Pi * rng.Float64()
		k := math.Floor(a / (2 * math.Pi / 3))
		if off := a - k*2*math.Pi/3; off < 0.15 || off > 2*math.Pi/3-0.15 {
			continue
		}
		xs = append(xs, float32(r*math.Cos(a)), float32(r*math.Sin(a)))
		ys = append(ys, int64(k))
	}
	return nabla.FromSlice(xs, n, 2), nabla.FromSlice(ys, n)
}

func TestTrainMLP(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 1))
	x, y := sectors(rng, 120)
	model := nn.NewSequential(nn.NewLinear(rng, 2, 32), nn.ReLU{}, nn.NewLinear(rng, 32, 32), nn.ReLU{}, nn.NewLinear(rng, 32, 3))
	if acc := nn.Accuracy(model.Forward(x), y); acc > 0.8 {
		t.Fatalf("accuracy before training: got %v; want a problem the initial model does not solve", acc)
	}
	const lr = 0.3
	acc := 0.0
	var step int
	for step = 0; step < 3000 && acc < 1; step++ {
		loss := nn.CrossEntropy(model.Forward(x), y)
		nn.ZeroGrad(model)
		loss.Backward()
		for _, p := range model.Params() {
			w, g := p.Tensor.Data32(), p.Tensor.Grad().Float32s()
			for i := range w {
				w[i] -= lr * g[i]
			}
		}
		if step%20 == 0 {
			acc = nn.Accuracy(model.Forward(x), y)
		}
	}
	if acc := nn.Accuracy(model.Forward(x), y); acc != 1 {
		t.Errorf("training accuracy after %d steps: got %v; want 1", step, acc)
	}
	t.Logf("100%% training accuracy after %d steps", step)
}

// TestTrainConcurrently trains two models in two goroutines; with -race it
// checks that layers share no hidden state.
func TestTrainConcurrently(t *testing.T) {
	done := make(chan float64)
	for seed := range uint64(2) {
		go func() {
			rng := rand.New(rand.NewPCG(seed, 7))
			x, y := sectors(rng, 60)
			model := nn.NewSequential(nn.NewLinear(rng, 2, 16), nn.NewBatchNorm1d(16), nn.ReLU{}, nn.NewDropout(rng, 0.1), nn.NewLinear(rng, 16, 3))
			for range 30 {
				loss := nn.CrossEntropy(model.Forward(x), y)
				nn.ZeroGrad(model)
				loss.Backward()
				for _, p := range model.Params() {
					w, g := p.Tensor.Data32(), p.Tensor.Grad().Float32s()
					for i := range w {
						w[i] -= 0.1 * g[i]
					}
				}
			}
			nn.SetTraining(model, false)
			done <- nn.Accuracy(model.Forward(x), y)
		}()
	}
	for range 2 {
		if acc := <-done; acc < 0.5 {
			t.Errorf("accuracy after 30 steps: got %v; want at least 0.5", acc)
		}
	}
}
