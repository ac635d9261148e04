package workload

import (
	"context"
	"testing"
)

func TestQuickWorkloads(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	var got []Result
	err := Run(context.Background(), Config{Workloads: []string{"W2", "W5"}, Quick: true}, func(r Result) { got = append(got, r) })
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"W2/1elem/fwd_us_per_op": false, "W2/64x64/fwd_bwd_us_per_op": false, "W5/mlp-batch1/us_per_call": false}
	for _, r := range got {
		k := r.Workload + "/" + r.Case + "/" + r.Metric
		if _, ok := want[k]; ok {
			want[k] = true
		}
		if !(r.Value > 0) || r.Impl != "nabla" || r.Threads != 1 {
			t.Errorf("bad result %+v", r)
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("no %s figure", k)
		}
	}
}

func TestUnknownWorkload(t *testing.T) {
	if err := Run(context.Background(), Config{Workloads: []string{"W9"}}, func(Result) {}); err == nil {
		t.Error("Run(W9) = nil; want an error")
	}
}
