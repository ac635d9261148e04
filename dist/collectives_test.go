package dist_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nabla-go/nabla/dist"
)

func init() { roles["collectives"] = collectivesRank }

// collectivesRank checks every collective against the values each rank
// can compute alone.
func collectivesRank(json.RawMessage) (code int) {
	if err := dist.Init(); err != nil {
		rankf(-1, "%v", err)
		return 1
	}
	r, n := dist.Rank(), dist.Size()
	fail := func(format string, a ...any) {
		rankf(r, format, a...)
		code = 1
	}
	// sums of r+i over the ranks: n*i + n(n-1)/2
	sum := func(i int) float64 { return float64(n*i) + float64(n*(n-1)/2) }
	for _, size := range []int{1, 1000, 3 << 20} { // up to 12 MiB of float32
		f32 := make([]float32, size)
		f64 := make([]float64, size)
		i64 := make([]int64, size)
		for i := range size {
			f32[i], f64[i], i64[i] = float32(r+i%100), float64(r+i%100), int64(r+i%100)
		}
		if err := dist.AllReduce(f32, dist.Sum); err != nil {
			fail("AllReduce float32: %v", err)
		}
		if err := dist.AllReduce(f64, dist.Mean); err != nil {
			fail("AllReduce float64: %v", err)
		}
		if err := dist.AllReduce(i64, dist.Sum); err != nil {
			fail("AllReduce int64: %v", err)
		}
		for i := range size {
			s := sum(i % 100)
			if float64(f32[i]) != s || f64[i] != s/float64(n) || float64(i64[i]) != s {
				fail("size %d, element %d: sum %v, mean %v, int sum %v; want %v, %v, %v", size, i, f32[i], f64[i], i64[i], s, s/float64(n), s)
				break
			}
		}
	}
	for root := range n {
		b := []float64{float64(r), float64(10 * r)}
		if err := dist.Broadcast(b, root); err != nil || !slices.Equal(b, []float64{float64(root), float64(10 * root)}) {
			fail("Broadcast from %d: %v, %v", root, b, err)
		}
	}
	all := make([]int64, 2*n)
	if err := dist.AllGather([]int64{int64(r), int64(-r)}, all); err != nil {
		fail("AllGather: %v", err)
	}
	for q := range n {
		if all[2*q] != int64(q) || all[2*q+1] != int64(-q) {
			fail("AllGather: %v", all)
		}
	}
	if err := dist.Barrier(); err != nil {
		fail("Barrier: %v", err)
	}
	// bad calls fail on every rank alike, before any MPI call
	var de *dist.Error
	if err := dist.Broadcast([]float32{1}, n); !errors.As(err, &de) {
		fail("Broadcast from rank %d of %d: %v, want a *dist.Error", n, n, err)
	}
	if err := dist.AllGather([]float32{1}, make([]float32, n+1)); !errors.As(err, &de) {
		fail("AllGather into a short buffer: %v, want a *dist.Error", err)
	}
	// several in flight at once complete in order of issue
	hs := make([]*dist.Handle, 8)
	bufs := make([][]float32, len(hs))
	for k := range hs {
		bufs[k] = []float32{float32(k * (r + 1))}
		hs[k] = dist.AllReduceAsync(bufs[k], dist.Sum)
	}
	for k, h := range hs {
		if err := h.Wait(); err != nil || bufs[k][0] != float32(k*n*(n+1)/2) {
			fail("async AllReduce %d: %v, %v", k, bufs[k], err)
		}
	}
	if err := dist.Finalize(); err != nil {
		fail("Finalize: %v", err)
	}
	return code
}

// TestCollectives runs the collectives on 2 and 3 ranks.
func TestCollectives(t *testing.T) {
	for _, np := range []int{2, 3} {
		t.Run(fmt.Sprint("np", np), func(t *testing.T) {
			mpirun(t, np, 1, 2*time.Minute, "collectives", nil).ok(t)
		})
	}
}

// TestSingleProcess checks that a process started without mpirun is a
// job of one rank in which the collectives need no MPI.
func TestSingleProcess(t *testing.T) {
	if dist.Rank() != 0 || dist.Size() != 1 {
		t.Fatalf("before Init: rank %d of %d, want 0 of 1", dist.Rank(), dist.Size())
	}
	if err := dist.AllReduce([]float32{1}, dist.Sum); err == nil {
		t.Fatal("AllReduce before Init: no error")
	}
	t.Setenv("OMPI_COMM_WORLD_SIZE", "")
	t.Setenv("PMIX_RANK", "")
	t.Setenv("PMI_RANK", "")
	if err := dist.Init(); err != nil {
		t.Fatal(err)
	}
	defer dist.Finalize()
	if err := dist.Init(); err == nil {
		t.Error("second Init: no error")
	}
	b := []float64{1, 2}
	if err := dist.AllReduce(b, dist.Mean); err != nil || !slices.Equal(b, []float64{1, 2}) {
		t.Errorf("AllReduce: %v, %v", b, err)
	}
	g := make([]int64, 2)
	if err := dist.AllGather([]int64{4, 5}, g); err != nil || !slices.Equal(g, []int64{4, 5}) {
		t.Errorf("AllGather: %v, %v", g, err)
	}
	if err := dist.Broadcast(b, 1); err == nil {
		t.Error("Broadcast from rank 1 of 1: no error")
	}
	if err := dist.Barrier(); err != nil {
		t.Error(err)
	}
}

// TestMissingLibrary checks the error when Open MPI cannot be loaded.
func TestMissingLibrary(t *testing.T) {
	t.Setenv("OMPI_COMM_WORLD_SIZE", "2")
	t.Setenv("NABLA_LIBMPI", "/nonexistent/libmpi.so.40")
	err := dist.Init()
	if err == nil {
		dist.Finalize()
		t.Fatal("Init with a missing library: no error")
	}
	if want := "cannot load Open MPI's /nonexistent/libmpi.so.40"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}
