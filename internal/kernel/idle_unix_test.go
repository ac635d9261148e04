// Copyright 2025 The nabla Authors. All rights reserved.

//go:build unix

package kernel

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time (user + system) this process has used.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestIdleWorkersSleep checks what the pool's polling costs a process
// that waits (a server between requests, a loader blocked on I/O): after
// a burst of parallel products, the workers poll for spinWindow and then
// block, so 300 ms of waiting must cost next to no CPU time. A pool that
// kept spinning would burn a core: 300 ms per worker.
func TestIdleWorkersSleep(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs GOMAXPROCS >= 2 for the pool to start workers")
	}
	const n = 256
	a, b, c := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
	for range 50 {
		GemmF32(false, false, n, n, n, 1, a, n, b, n, 0, c, n) // 16.7 M multiply-adds: split
	}
	time.Sleep(10 * time.Millisecond) // past every spin window
	before := cpuTime(t)
	time.Sleep(300 * time.Millisecond)
	used := cpuTime(t) - before
	t.Logf("CPU time while waiting 300 ms after parallel products: %v", used)
	if used > 30*time.Millisecond {
		t.Errorf("the process used %v of CPU while it waited 300 ms; the pool's workers must block when idle", used)
	}
}
