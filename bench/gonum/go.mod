module github.com/nabla-go/nabla/bench/gonum

go 1.26.0

require github.com/nabla-go/nabla v0.0.0

require (
	golang.org/x/sys v0.50.0 // indirect
	gonum.org/v1/gonum v0.17.0
)

replace github.com/nabla-go/nabla => ../..
