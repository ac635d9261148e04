package data

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/nabla-go/nabla"
)

// Split shuffles the indices of ds with a generator seeded by seed and
// cuts them in two: the first round(fraction·N) samples form train and the
// rest val. The same seed always gives the same split. It panics with a
// *nabla.ValueError if fraction is not in [0, 1].
func Split(ds Dataset, fraction float64, seed uint64) (train, val *Subset) {
	if !(fraction >= 0 && fraction <= 1) {
		panic(&nabla.ValueError{Op: "Split", Reason: fmt.Sprintf("fraction %v is not in [0, 1]", fraction)})
	}
	n := ds.Len()
	perm := rand.New(rand.NewPCG(seed, splitStream)).Perm(n)
	k := int(math.Round(fraction * float64(n)))
	return &Subset{ds: ds, idx: perm[:k:k]}, &Subset{ds: ds, idx: perm[k:]}
}

// splitStream is the second PCG seed of Split, so that a split and a
// loader's shuffles from the same seed are unrelated.
const splitStream = 0x5b1d_5eed_0000_0001
