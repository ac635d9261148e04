package nabla

import (
	"testing"
	"unsafe"
)

// TestScalarAllocationSizeClass keeps the allocation of a one-element
// float32 output, header and values together, in the 160-byte size class
// it had before the other dtypes were added. A field added to Tensor that
// pushes it to 176 or 192 bytes costs eager scalar code (workload W2) about
// 20% more bytes per op and its GC time; move the field behind a pointer
// or pack it with the one-byte fields instead.
func TestScalarAllocationSizeClass(t *testing.T) {
	for _, c := range []struct {
		name string
		size uintptr
		max  uintptr
	}{
		{"Tensor", unsafe.Sizeof(Tensor{}), 152},
		{"small32", unsafe.Sizeof(small32{}), 160},
	} {
		if c.size > c.max {
			t.Errorf("unsafe.Sizeof(%s{}) = %d bytes; want at most %d", c.name, c.size, c.max)
		}
	}
	// And what the benchmark sees: one allocation of at most 160 bytes for
	// each op on a scalar.
	x := Full(0.5, 1)
	allocs := testing.AllocsPerRun(100, func() { x.MulScalar(0.999) })
	if allocs != 1 {
		t.Errorf("MulScalar on a one-element tensor made %v allocations; want 1", allocs)
	}
}
