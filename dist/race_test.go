//go:build race

package dist_test

// raceEnabled shortens the multi-process runs, which the race detector
// slows about fivefold.
const raceEnabled = true
