package nabla_test

import (
	"fmt"

	"github.com/nabla-go/nabla"
)

// Causal attention of three positions over themselves: the first query
// sees only the first value, the last the mean of all three weighted by
// the softmax of its scores (here all equal).
func ExampleScaledDotProductAttention() {
	q := nabla.Zeros(1, 3, 2) // zero queries: every visible key scores the same
	k := nabla.Ones(1, 3, 2)
	v := nabla.FromSlice([]float32{1, 2, 4}, 1, 3, 1)
	y := nabla.ScaledDotProductAttention(q, k, v, nabla.AttentionOptions{Causal: true})
	fmt.Printf("%.4f\n", y.Float64s())
	// Output: [1.0000 1.5000 2.3333]
}
