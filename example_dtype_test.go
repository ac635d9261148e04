package nabla_test

import (
	"fmt"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
)

// Integer labels, an Int64 ArgMax, and a Bool mask.
func Example_dtypes() {
	logits := nabla.FromSlice([]float32{
		2, 0, 1,
		0, 3, 1,
		1, 0, 0,
	}, 3, 3)
	labels := nabla.FromSlice([]int64{0, 1, 2}) // Int64 class indices
	fmt.Printf("loss %.4f\n", nn.CrossEntropy(logits, labels).Item())
	pred := logits.ArgMax(1)
	fmt.Println(pred)
	fmt.Println(pred.Equal(labels).To(nabla.Float32).Mean())

	x := nabla.FromSlice([]float32{-1, 2, -3, 4})
	mask := x.Greater(nabla.Scalar(0))
	fmt.Println(mask)
	fmt.Println(nabla.Where(mask, x, nabla.ZerosLike(x)))
	fmt.Println(x.MaskedFill(mask.LogicalNot(), nabla.Scalar(0.5)))

	// Integer arithmetic follows PyTorch: floor division and remainder
	// round toward -Inf, true division gives Float32.
	a, b := nabla.FromSlice([]int64{-7, 7}), nabla.FromSlice([]int64{2, -2})
	fmt.Println(a.FloorDivide(b), a.Remainder(b), a.Div(b))
	fmt.Println(nabla.Maybe(func() { a.FloorDivide(nabla.ScalarInt(0)) }))
	// Output:
	// loss 0.7096
	// [0 1 0] shape=[3] int64
	// 0.6666667 shape=[] float32
	// [false true false true] shape=[4] bool
	// [0 2 0 4] shape=[4] float32
	// [0.5 2 0.5 4] shape=[4] float32
	// [-4 -4] shape=[2] int64 [1 -1] shape=[2] int64 [-3.5 -3.5] shape=[2] float32
	// nabla: FloorDivide: integer division by zero
}
