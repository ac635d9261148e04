// Copyright 2025 The nabla Authors. All rights reserved.

//go:build race

package kernel

// raceEnabled reports whether the race detector is on (it makes sync.Pool
// drop items at random, so allocation counts are meaningless).
const raceEnabled = true
