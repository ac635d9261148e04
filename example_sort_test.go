package nabla_test

import (
	"fmt"

	"github.com/nabla-go/nabla"
)

// The two most likely classes of each row of logits, the distinct labels
// of a batch with their counts, and the elements a mask selects.
func Example_sortOps() {
	logits := nabla.FromSlice([]float32{
		0.1, 2.5, -1, 2.5,
		0.7, -0.3, 3, 1,
	}, 2, 4)
	scores, classes := logits.TopK(2, -1, true, true) // ties: the lower index first
	fmt.Println(scores)
	fmt.Println(classes)

	labels := nabla.FromSlice([]int64{3, 1, 3, 0, 1, 3})
	values, inverse, counts := labels.UniqueCounts()
	fmt.Println(values, counts)
	fmt.Println(inverse)
	fmt.Println(labels.BinCount(nil, 5))

	mask := logits.Greater(nabla.Scalar(1))
	fmt.Println(logits.MaskedSelect(mask))
	fmt.Println(mask.Nonzero())
	// Output:
	// [[2.5 2.5] [3 1]] shape=[2 2] float32
	// [[1 3] [2 3]] shape=[2 2] int64
	// [0 1 3] shape=[3] int64 [1 2 3] shape=[3] int64
	// [2 1 2 0 1 2] shape=[6] int64
	// [1 2 0 3 0] shape=[5] int64
	// [2.5 2.5 3] shape=[3] float32
	// [[0 1] [0 3] [1 2]] shape=[3 2] int64
}
