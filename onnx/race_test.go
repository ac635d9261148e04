//go:build race

package onnx

// raceEnabled is true under the race detector, which slows the gradient
// checks tenfold: they then run a smaller set.
const raceEnabled = true
