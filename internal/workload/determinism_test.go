package workload

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/nabla-go/nabla/data"
	"github.com/nabla-go/nabla/optim"
)

// TestLeNetReproducible trains W4's LeNet-5 for an epoch of four Adam
// steps three times from the same seed at a fixed thread count and requires
// bit-identical weights: the convolution's weight gradient is summed over
// the workers' image ranges in a fixed order, not in the order the workers
// finish. (At two threads the two partial sums commute, so only three or
// more workers could tell the orders apart; the test runs both.)
func TestLeNetReproducible(t *testing.T) {
	if raceEnabled {
		t.Skip("slow under the race detector; the purego run in .ci/run runs it without")
	}
	for _, threads := range []int{2, 4} {
		t.Run(fmt.Sprintf("threads=%d", threads), func(t *testing.T) { checkLeNetReproducible(t, threads) })
	}
}

func checkLeNetReproducible(t *testing.T, threads int) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
	const n, batch = 512, 128
	rng := rand.New(rand.NewPCG(3, 4))
	pixels := make([]uint8, n*784)
	for i := range pixels {
		pixels[i] = uint8(rng.IntN(256))
	}
	labels := make([]float32, n)
	for i := range labels {
		labels[i] = float32(rng.IntN(10))
	}
	train, err := data.FromBytes(pixels, []int{n, 1, 28, 28}, 1.0/255, labels, []int{n})
	if err != nil {
		t.Fatal(err)
	}
	run := func() [][]float32 {
		m := LeNet(rand.New(rand.NewPCG(1, 2)))
		opt := optim.NewAdam(m.Params(), optim.AdamConfig{LR: 1e-3})
		loader := data.NewLoader(train, data.LoaderConfig{BatchSize: batch, Shuffle: true, Seed: 5, Labels: true})
		if _, err := trainEpoch(context.Background(), m, opt, loader, 0); err != nil {
			t.Fatal(err)
		}
		var w [][]float32
		for _, p := range m.Params() {
			w = append(w, p.Tensor.Float32s())
		}
		return w
	}
	first := run()
	for r := 1; r < 3; r++ {
		again := run()
		for i := range first {
			for j := range first[i] {
				if math.Float32bits(first[i][j]) != math.Float32bits(again[i][j]) {
					t.Fatalf("run %d: parameter %d element %d = %v, first run %v", r, i, j, again[i][j], first[i][j])
				}
			}
		}
	}
}
