package data_test

import (
	"fmt"
	"log"
	"strings"

	"github.com/nabla-go/nabla/data"
)

func ExampleReadCSV() {
	in := "x,y\n1,2\n3,4.5\n"
	t, err := data.ReadCSV(strings.NewReader(in))
	if err != nil {
		log.Fatal(err)
	}
	y, _ := t.Column("y")
	fmt.Println(t.Header, t.Rows, y)

	_, err = data.ReadCSV(strings.NewReader("x,y\n1,2\n3,oops\n"))
	fmt.Println(err)
	// Output:
	// [x y] [[1 2] [3 4.5]] [2 4.5]
	// csv: line 3, column 2: not a number
}
