package datasets_test

import (
	"fmt"
	"log"

	"github.com/nabla-go/nabla/datasets"
)

func ExampleIris() {
	iris, err := datasets.Iris()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(iris.NumSamples, iris.NumFeatures, iris.ClassNames, iris.ClassCounts())
	fmt.Println(iris.Row(0), iris.Labels[0])
	// Output:
	// 150 4 [setosa versicolor virginica] [50 50 50]
	// [5.1 3.5 1.4 0.2] 0
}

func ExampleDigits() {
	digits, err := datasets.Digits()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(digits.NumSamples, digits.FeatureShape, digits.NumClasses)
	// Output: 1797 [8 8] 10
}

func ExampleDiabetes() {
	d, err := datasets.Diabetes()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d x %d, target of the first patient %v, first feature %.4f\n", d.NumSamples, d.NumFeatures, d.Y[0], d.X[0])
	// Output: 442 x 10, target of the first patient 151, first feature 0.0381
}
