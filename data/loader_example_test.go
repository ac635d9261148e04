package data_test

import (
	"fmt"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/data"
)

func ExampleLoader() {
	// ten samples of two features; the target is the sample's index
	x := nabla.Arange(0, 20, 1).Reshape(10, 2)
	y := nabla.Arange(0, 10, 1)
	ds, err := data.NewTensorDataset(x, y)
	if err != nil {
		fmt.Println(err)
		return
	}
	loader := data.NewLoader(ds, data.LoaderConfig{BatchSize: 4, Shuffle: true, Seed: 1})
	for epoch := range 2 {
		for i, b := range loader.Epoch(epoch) {
			fmt.Println(epoch, i, b.X.Shape(), b.Y.Ints())
		}
	}
	// Output:
	// 0 0 [4 2] [0 4 7 2]
	// 0 1 [4 2] [1 9 5 3]
	// 0 2 [2 2] [6 8]
	// 1 0 [4 2] [8 9 2 4]
	// 1 1 [4 2] [5 3 0 6]
	// 1 2 [2 2] [1 7]
}

func ExampleSplit() {
	ds, _ := data.NewTensorDataset(nabla.Arange(0, 10, 1).Reshape(10, 1), nabla.Zeros(10))
	train, val := data.Split(ds, 0.8, 1)
	fmt.Println(train.Len(), val.Len())
	// Output: 8 2
}
