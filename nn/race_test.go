//go:build race

package nn_test

// raceEnabled is true under the race detector, which slows the child
// processes of the crash test several times over.
const raceEnabled = true
