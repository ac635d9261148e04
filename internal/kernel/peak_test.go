// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import (
	"testing"
)

// The machine's peaks, against which BENCHMARKS.md states what fraction
// each workload reaches:
//
//	go test -run XXX -bench 'Clock|MemoryBandwidth' -count 6 ./internal/kernel

// BenchmarkClock estimates the core's clock from a chain of dependent
// 64-bit integer multiplies, whose latency is 3 cycles on every x86 core
// since Nehalem: GHz = 3 × multiplies / second. Peak float32 FLOP/s of a
// core is then GHz × 64 (two 16-lane FMA units).
func BenchmarkClock(b *testing.B) {
	x, y := uint64(3), uint64(0x9E3779B97F4A7C15)
	const chain = 1 << 16
	for b.Loop() {
		for range chain / 16 {
			x *= y
			x *= y
			x *= y
			x *= y
			x *= y
			x *= y
			x *= y
			x *= y
			x *= y
			x *= y
			x *= y
			x *= y
			x *= y
			x *= y
			x *= y
			x *= y
		}
	}
	sink = x
	b.ReportMetric(3*chain*float64(b.N)/b.Elapsed().Seconds()/1e9, "GHz")
}

var sink uint64

// BenchmarkMemoryBandwidth measures the bandwidth of the memory beyond
// the caches, for element-wise work: a read (SumF32 over 256 MiB) and a
// copy (256 MiB read, 256 MiB written), in GB/s; and the same on 16 MiB,
// the working set of the OPS workload's (256, 4096) float32 tensors, which
// stays in a large last-level cache.
func BenchmarkMemoryBandwidth(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int // float32s
	}{{"", 64 << 20}, {"-16MiB", 4 << 20}} {
		n := size.n
		src, dst := make([]float32, n), make([]float32, n)
		for i := range src {
			src[i] = 1
		}
		copy(dst, src) // touch every page
		b.Run("read"+size.name, func(b *testing.B) {
			for b.Loop() {
				SumF32(src)
			}
			b.ReportMetric(4*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
		b.Run("copy"+size.name, func(b *testing.B) {
			for b.Loop() {
				copy(dst, src)
			}
			b.ReportMetric(8*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}
