//go:build race

package datasets

// raceEnabled is set when the race detector, which makes decoding the
// 60000 Fashion-MNIST training images slow, is on.
const raceEnabled = true
