package data_test

import (
	"slices"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/data"
)

func TestSplit(t *testing.T) {
	ds := indexDataset(t, 101)
	train, val := data.Split(ds, 0.8, 5)
	if train.Len() != 81 || val.Len() != 20 {
		t.Fatalf("split sizes %d + %d; want 81 + 20", train.Len(), val.Len())
	}
	all := slices.Concat(train.Indices(), val.Indices())
	slices.Sort(all)
	for i, v := range all {
		if v != i {
			t.Fatalf("split indices are not a partition of 0..100: %v", all)
		}
	}
	if slices.IsSorted(train.Indices()) {
		t.Error("split is not shuffled")
	}
	t2, v2 := data.Split(ds, 0.8, 5)
	if !slices.Equal(t2.Indices(), train.Indices()) || !slices.Equal(v2.Indices(), val.Indices()) {
		t.Error("the same seed gives different splits")
	}
	if t3, _ := data.Split(ds, 0.8, 6); slices.Equal(t3.Indices(), train.Indices()) {
		t.Error("seeds 5 and 6 give the same split")
	}
	if tr, va := data.Split(ds, 1, 5); tr.Len() != 101 || va.Len() != 0 {
		t.Errorf("fraction 1: %d + %d", tr.Len(), va.Len())
	}
	if err := nabla.Maybe(func() { data.Split(ds, 1.5, 0) }); err == nil {
		t.Error("fraction 1.5 accepted")
	}
}
