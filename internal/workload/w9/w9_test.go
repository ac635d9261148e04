package w9

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/nabla-go/nabla/internal/workload"
)

// TestNeedsModels: without a model folder W9 is an error that says where
// the file comes from.
func TestNeedsModels(t *testing.T) {
	t.Setenv(ModelsEnv, "")
	err := workload.Run(context.Background(), workload.Config{Workloads: []string{"W9"}}, func(workload.Result) {})
	if err == nil || !strings.Contains(err.Error(), "make_onnx_reference.py --large") {
		t.Errorf("Run(W9) without models = %v; want an error naming the script", err)
	}
}

// TestQuick runs W9 quickly on the exported resnet18, when
// NABLA_ONNX_MODELS names its folder.
func TestQuick(t *testing.T) {
	if os.Getenv(ModelsEnv) == "" || testing.Short() {
		t.Skip(ModelsEnv + " is not set")
	}
	var got []workload.Result
	err := workload.Run(context.Background(), workload.Config{Workloads: []string{"W9"}, Quick: true}, func(r workload.Result) { got = append(got, r) })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Case != "resnet18-batch1" || got[1].Case != "resnet18-batch16" || !(got[0].Value > 0) || got[0].Impl != "nabla" {
		t.Errorf("results %+v", got)
	}
}
