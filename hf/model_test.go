package hf

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nabla-go/nabla"
)

type reference struct {
	ModelType string `json:"model_type"`
	DType     string `json:"dtype"`
	Prompts   []struct {
		Text       string    `json:"text"`
		IDs        []int     `json:"ids"`
		LastLogits []float64 `json:"last_logits"`
		Logits     []float64 `json:"logits"`
		MeanHidden []float64 `json:"mean_hidden"`
		Greedy     []int     `json:"greedy"`
	} `json:"prompts"`
}

func loadReference(t *testing.T, dir string) reference {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// worstRel returns the largest |got - want| relative to the largest |want|.
func worstRel(got []float32, want []float64) float64 {
	scale, worst := 0.0, 0.0
	for _, w := range want {
		scale = max(scale, math.Abs(w))
	}
	for i, w := range want {
		worst = max(worst, math.Abs(float64(got[i])-w)/scale)
	}
	return worst
}

func ids2D(ids []int) *nabla.Tensor { return indexTensor(ids).Reshape(1, len(ids)) }

var referenceModels = []string{"gpt2-tiny", "llama-tiny", "llama-tiny-bf16", "qwen2-tiny"}

// TestLogitsMatchPyTorch compares logits, hidden states and greedy
// continuations with bench/reference/make_hf_reference.py's PyTorch
// implementations of GPT-2 and LLaMA/Qwen2 on the same weights.
func TestLogitsMatchPyTorch(t *testing.T) {
	for _, name := range referenceModels {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", name)
			m, err := LoadModel(dir)
			if err != nil {
				t.Fatal(err)
			}
			ref := loadReference(t, dir)
			for i, p := range ref.Prompts {
				h := m.Hidden(ids2D(p.IDs), nil)
				logits := m.Logits(h)
				V := m.Config.VocabSize
				all := logits.Float32s()
				if r := worstRel(all[len(all)-V:], p.LastLogits); r > 1e-4 {
					t.Errorf("prompt %d: last logits differ by %.2g relative", i, r)
				}
				if p.Logits != nil {
					if r := worstRel(all, p.Logits); r > 1e-4 {
						t.Errorf("prompt %d: logits differ by %.2g relative", i, r)
					}
					if r := worstRel(h.Mean(1).Float32s(), p.MeanHidden); r > 1e-4 {
						t.Errorf("prompt %d: mean hidden state differs by %.2g relative", i, r)
					}
				}
				got := greedyUncached(m, p.IDs, len(p.Greedy))
				if !slices.Equal(got, p.Greedy) {
					t.Errorf("prompt %d: greedy %v; PyTorch %v", i, got, p.Greedy)
				}
			}
		})
	}
}

func greedyUncached(m *Model, ids []int, n int) []int {
	ids = slices.Clone(ids)
	var out []int
	for range n {
		l := m.Forward(ids2D(ids))
		V := m.Config.VocabSize
		last := l.Float32s()
		next := argmax(last[len(last)-V:])
		out = append(out, next)
		ids = append(ids, next)
	}
	return out
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
