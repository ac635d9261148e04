//go:build !race

package nabla_test

const raceEnabled = false
