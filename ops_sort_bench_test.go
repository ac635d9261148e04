package nabla_test

import (
	"math/rand/v2"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/internal/loops"
)

// BenchmarkSort sorts and takes the top k of each row of the OPS
// workload's (256, 4096) float32 tensor along its last axis, against the
// comparison sort of internal/loops (ArgSort) on the same values, the
// loop the ops had before their radix sort. ns/elem is per input element.
func BenchmarkSort(b *testing.B) {
	const rows, cols = 256, 4096
	x := nabla.RandN(rand.New(rand.NewPCG(13, 14)), rows, cols)
	for _, bc := range []struct {
		name string
		f    func()
	}{
		{"Sort", func() { x.Sort(-1, false) }},
		{"Sort/descending", func() { x.Sort(-1, true) }},
		{"ArgSort", func() { x.ArgSort(-1, false) }},
		{"TopK/k=10", func() { x.TopK(10, -1, true, true) }},
		{"TopK/k=2048", func() { x.TopK(cols/2, -1, true, true) }},
		{"loops.ArgSort", func() {
			idx := make([]int64, rows*cols)
			loops.ArgSort(idx, x.Data32(), rows, cols, 1, false)
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				bc.f()
			}
			reportElem(b, rows*cols)
		})
	}
}
