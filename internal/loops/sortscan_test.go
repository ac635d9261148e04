package loops

import (
	"math"
	"slices"
	"testing"
)

func TestArgSort(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name            string
		src             []float64
		outer, n, inner int
		descending      bool
		want            []int64
	}{
		{"ascending, ties stable", []float64{3, 1, 2, 1, 3}, 1, 5, 1, false, []int64{1, 3, 2, 0, 4}},
		{"descending, ties stable", []float64{3, 1, 2, 1, 3}, 1, 5, 1, true, []int64{0, 4, 2, 1, 3}},
		{"NaN last ascending", []float64{nan, 1, nan, -1}, 1, 4, 1, false, []int64{3, 1, 0, 2}},
		{"NaN first descending", []float64{nan, 1, nan, -1}, 1, 4, 1, true, []int64{0, 2, 1, 3}},
		{"infinities", []float64{math.Inf(1), nan, math.Inf(-1), 0}, 1, 4, 1, false, []int64{2, 3, 0, 1}},
		// (2, 3) along axis 0: three lines of two, strided by 3.
		{"inner axis", []float64{5, 0, 1, 4, 0, 2}, 1, 2, 3, false, []int64{1, 0, 0, 0, 1, 1}},
		// (2, 2) along axis 1: two lines.
		{"outer blocks", []float64{2, 1, 1, 2}, 2, 2, 1, false, []int64{1, 0, 0, 1}},
		{"empty", nil, 1, 0, 1, false, []int64{}},
	}
	for _, tc := range tests {
		got := make([]int64, len(tc.src))
		ArgSort(got, tc.src, tc.outer, tc.n, tc.inner, tc.descending)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: ArgSort = %v, want %v", tc.name, got, tc.want)
		}
	}
	// Integers and bytes use the same body.
	ints := []int32{-5, 7, -5, 0}
	got := make([]int64, 4)
	ArgSort(got, ints, 1, 4, 1, true)
	if want := []int64{1, 3, 0, 2}; !slices.Equal(got, want) {
		t.Errorf("int32 descending = %v, want %v", got, want)
	}
	ArgSort(got, []uint8{1, 0, 1, 0}, 1, 4, 1, false)
	if want := []int64{1, 3, 0, 2}; !slices.Equal(got, want) {
		t.Errorf("uint8 = %v, want %v", got, want)
	}
}

func TestTake(t *testing.T) {
	// (2, 3) src, take along axis 1 with k = 2 per row.
	src := []float32{10, 11, 12, 20, 21, 22}
	idx := []int64{2, 0, 1, 1}
	dst := make([]float32, 4)
	Take(dst, src, idx, 2, 3, 2, 1)
	if want := []float32{12, 10, 21, 21}; !slices.Equal(dst, want) {
		t.Errorf("Take = %v, want %v", dst, want)
	}
}

func TestCumSum(t *testing.T) {
	// (2, 3) along axis 1 and along axis 0, forward and reverse.
	src := []int32{1, 2, 3, 4, 5, math.MaxInt32}
	dst := make([]int64, 6)
	CumSum[int32, int64, int64](dst, src, 2, 3, 1, false)
	if want := []int64{1, 3, 6, 4, 9, 9 + math.MaxInt32}; !slices.Equal(dst, want) {
		t.Errorf("rows = %v, want %v (no int32 overflow)", dst, want)
	}
	CumSum[int32, int64, int64](dst, src, 1, 2, 3, false)
	if want := []int64{1, 2, 3, 5, 7, 3 + math.MaxInt32}; !slices.Equal(dst, want) {
		t.Errorf("columns = %v, want %v", dst, want)
	}
	CumSum[int32, int64, int64](dst, src, 2, 3, 1, true)
	if want := []int64{6, 5, 3, 9 + math.MaxInt32, 5 + math.MaxInt32, math.MaxInt32}; !slices.Equal(dst, want) {
		t.Errorf("reverse = %v, want %v", dst, want)
	}
	// float32 accumulates in float64: 2^24 + 1 + 1 stays 2^24 in float32
	// steps (each +1 is a tie, rounded to even) but is 2^24 + 2 with a
	// float64 accumulator.
	f := make([]float32, 3)
	CumSum[float32, float64, float32](f, []float32{1 << 24, 1, 1}, 1, 3, 1, false)
	if want := []float32{1 << 24, 1 << 24, 1<<24 + 2}; !slices.Equal(f, want) {
		t.Errorf("float32 = %v, want %v", f, want)
	}
}

func TestProd(t *testing.T) {
	src := []int32{2, 3, 0, -4, 5, 6}
	dst := make([]int64, 2)
	Prod[int32, int64](dst, src, 2, 3, 1)
	if want := []int64{0, -120}; !slices.Equal(dst, want) {
		t.Errorf("rows = %v, want %v", dst, want)
	}
	dst = make([]int64, 3)
	Prod[int32, int64](dst, src, 1, 2, 3)
	if want := []int64{-8, 15, 0}; !slices.Equal(dst, want) {
		t.Errorf("columns = %v, want %v", dst, want)
	}
	others := make([]float64, 6)
	ProdOthers(others, []float64{2, 3, 4, 0, 5, 0}, 2, 3, 1)
	if want := []float64{12, 8, 6, 0, 0, 0}; !slices.Equal(others, want) {
		t.Errorf("ProdOthers = %v, want %v", others, want)
	}
	ProdOthers(others, []float64{2, 3, 0, 4, 5, 6}, 1, 2, 3)
	if want := []float64{4, 5, 6, 2, 3, 0}; !slices.Equal(others, want) {
		t.Errorf("ProdOthers columns = %v, want %v", others, want)
	}
	ProdOthers(others[:3], []float64{0, 3, 4}, 1, 3, 1)
	if want := []float64{12, 0, 0}; !slices.Equal(others[:3], want) {
		t.Errorf("ProdOthers one zero = %v, want %v", others[:3], want)
	}
}

func TestUnique(t *testing.T) {
	v, inv, cnt := Unique([]int64{3, 1, 3, 2, 1, 3})
	if !slices.Equal(v, []int64{1, 2, 3}) || !slices.Equal(inv, []int64{2, 0, 2, 1, 0, 2}) || !slices.Equal(cnt, []int64{2, 1, 3}) {
		t.Errorf("Unique = %v %v %v", v, inv, cnt)
	}
	nan := math.NaN()
	f, inv, cnt := Unique([]float64{nan, 1, nan, 1})
	if len(f) != 3 || f[0] != 1 || !math.IsNaN(f[1]) || !math.IsNaN(f[2]) || !slices.Equal(inv, []int64{1, 0, 2, 0}) || !slices.Equal(cnt, []int64{2, 1, 1}) {
		t.Errorf("Unique with NaNs = %v %v %v", f, inv, cnt)
	}
	if v, inv, cnt := Unique([]uint8{}); len(v) != 0 || len(inv) != 0 || len(cnt) != 0 {
		t.Errorf("Unique of nothing = %v %v %v", v, inv, cnt)
	}
}

func TestBinCountNonzero(t *testing.T) {
	dst := make([]int64, 5)
	BinCount(dst, []int64{1, 3, 1, 0}, nil)
	if want := []int64{1, 2, 0, 1, 0}; !slices.Equal(dst, want) {
		t.Errorf("BinCount = %v, want %v", dst, want)
	}
	w := make([]float64, 3)
	BinCount(w, []int32{2, 2, 0}, []float64{0.5, 0.25, -1})
	if want := []float64{-1, 0, 0.75}; !slices.Equal(w, want) {
		t.Errorf("weighted BinCount = %v, want %v", w, want)
	}
	src := []float32{0, 1, 0, float32(math.NaN()), 0, -2}
	if n := CountNonzero(src); n != 3 {
		t.Errorf("CountNonzero = %d, want 3", n)
	}
	idx := make([]int64, 3*2)
	Nonzero(idx, src, []int{2, 3})
	if want := []int64{0, 1, 1, 0, 1, 2}; !slices.Equal(idx, want) {
		t.Errorf("Nonzero = %v, want %v", idx, want)
	}
	one := make([]int64, 0)
	Nonzero(one, []uint8{5}, nil) // a 0-d tensor: one row of no entries
	if CountNonzero([]uint8{5}) != 1 {
		t.Error("CountNonzero of a 0-d nonzero")
	}
}
