//go:build race

package hf

// raceEnabled is true under the race detector, under which the 34 MB
// checkpoint of TestBFloat16Memory takes 20 s to write and read.
const raceEnabled = true
