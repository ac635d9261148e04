package nabla_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"testing"

	"github.com/nabla-go/nabla"
)

// testdata/attention_reference.json comes from
// bench/reference/make_seq_reference.py: PyTorch 1.13's
// softmax(q·kᵀ·scale + mask)·v (1.13 has no scaled_dot_product_attention)
// in float64, with its gradients for a fixed upstream. Non-finite values
// are the strings "-inf", "inf" and "nan".

type attnRefTensor struct {
	Shape []int       `json:"shape"`
	Data  attnRefData `json:"data"`
}

type attnRefData []float64

func (d *attnRefData) UnmarshalJSON(b []byte) error {
	var vs []any
	if err := json.Unmarshal(b, &vs); err != nil {
		return err
	}
	out := make([]float64, len(vs))
	for i, v := range vs {
		switch v := v.(type) {
		case float64:
			out[i] = v
		case string:
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("value %d: %q", i, v)
			}
			out[i] = f
		default:
			return fmt.Errorf("value %d: %v is not a number", i, v)
		}
	}
	*d = out
	return nil
}

func (r *attnRefTensor) tensor(dt nabla.DType) *nabla.Tensor {
	if r == nil {
		return nil
	}
	return nabla.FromSlice([]float64(r.Data), r.Shape...).To(dt).Contiguous()
}

type attnRefCase struct {
	Name             string
	Q, K, V, Mask    *attnRefTensor
	Causal           bool
	Scale            float64
	Upstream, Output *attnRefTensor
	DQ               *attnRefTensor `json:"dq"`
	DK               *attnRefTensor `json:"dk"`
	DV               *attnRefTensor `json:"dv"`
}

func TestAttentionMatchesPyTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/attention_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []attnRefCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 7 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		for _, dt := range []nabla.DType{nabla.Float64, nabla.Float32} {
			t.Run(c.Name+"/"+dt.String(), func(t *testing.T) {
				q, k, v := c.Q.tensor(dt).RequireGrad(), c.K.tensor(dt).RequireGrad(), c.V.tensor(dt).RequireGrad()
				y := nabla.ScaledDotProductAttention(q, k, v, nabla.AttentionOptions{Mask: c.Mask.tensor(dt), Causal: c.Causal, Scale: c.Scale})
				gs := nabla.Gradients(y, []*nabla.Tensor{q, k, v}, nabla.WithUpstream(c.Upstream.tensor(dt)))
				tol := 1e-10
				if dt == nabla.Float32 {
					tol = 1e-5
				}
				for i, p := range []struct {
					name      string
					got, want *nabla.Tensor
				}{{"output", y, c.Output.tensor(dt)}, {"dq", gs[0], c.DQ.tensor(dt)}, {"dk", gs[1], c.DK.tensor(dt)}, {"dv", gs[2], c.DV.tensor(dt)}} {
					if d := maxRelDiff(p.got, p.want); d > tol || math.IsNaN(d) {
						t.Errorf("%d %s differs from PyTorch by %g", i, p.name, d)
					}
				}
			})
		}
	}
}
