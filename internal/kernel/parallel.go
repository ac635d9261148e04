// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import (
	"runtime"
	"sync"
)

// partRunner is a computation split into independent parts.
type partRunner interface {
	runPart(i int)
}

type workItem struct {
	job partRunner
	i   int
	wg  *sync.WaitGroup
}

var (
	workMu      sync.Mutex
	workCh      = make(chan workItem, 256)
	workStarted int // number of worker goroutines started
)

// ensureWorkers makes sure at least n worker goroutines are running. Workers
// live for the life of the process and block on workCh when idle.
func ensureWorkers(n int) {
	workMu.Lock()
	for workStarted < n {
		workStarted++
		go worker()
	}
	workMu.Unlock()
}

func worker() {
	for w := range workCh {
		w.job.runPart(w.i)
		w.wg.Done()
	}
}

// runParallel runs parts 0..parts-1 of job: part 0 on the calling goroutine,
// the others on the worker goroutines, and waits for all of them. wg must be
// owned by the caller and unused.
func runParallel(job partRunner, parts int, wg *sync.WaitGroup) {
	ensureWorkers(min(parts-1, runtime.GOMAXPROCS(0)))
	wg.Add(parts - 1)
	for i := 1; i < parts; i++ {
		workCh <- workItem{job, i, wg}
	}
	job.runPart(0)
	wg.Wait()
}
