package dist_test

import (
	"fmt"

	"github.com/nabla-go/nabla/dist"
)

// Started without mpirun, a program is a job of one: rank 0 of 1, whose
// collectives need no MPI. Under mpirun -np 2 the same program prints the
// mean of both ranks' buffers on each.
func Example() {
	if err := dist.Init(); err != nil {
		fmt.Println(err)
		return
	}
	defer dist.Finalize()
	grads := []float32{float32(dist.Rank()), 2, 3}
	if err := dist.AllReduce(grads, dist.Mean); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("rank", dist.Rank(), "of", dist.Size(), grads)
	// Output: rank 0 of 1 [0 2 3]
}
