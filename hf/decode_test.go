package hf

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nabla-go/nabla"
)

// TestFastLogitsMatchPyTorch checks the generation loop's logits of a
// prompt's last position against PyTorch's, on the reference models it
// runs (GPT-2 takes the tensor path).
func TestFastLogitsMatchPyTorch(t *testing.T) {
	for _, name := range []string{"llama-tiny", "llama-tiny-bf16", "qwen2-tiny"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", name)
			m, err := LoadModel(dir)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range loadReference(t, dir).Prompts {
				f := m.newFastGen(1, len(p.IDs), nil)
				if f == nil {
					t.Fatal("the model does not take the generation loop")
				}
				if r := worstRel(f.step(p.IDs, len(p.IDs)), p.LastLogits); r > 1e-4 {
					t.Errorf("prompt %d: last logits differ by %.2g relative", i, r)
				}
				f.release()
			}
		})
	}
}

// TestFastMatchesStep runs the generation loop and Model.Step side by side
// on left-padded batches, one prompt step (or two, the second attending
// over the first's cache through the mask) and then single tokens, and
// compares the logits of every step: float32 weights with q/k/v biases
// (Qwen2), grouped-query attention, bfloat16 weights, and a model whose
// head dimension is not hidden/heads.
func TestFastMatchesStep(t *testing.T) {
	tied := true
	configs := map[string]*Config{
		"gqa": {ModelType: "llama", VocabSize: 97, HiddenSize: 64, IntermediateSize: 96, NumHiddenLayers: 2,
			NumAttentionHeads: 4, NumKeyValueHeads: 2, MaxPositionEmbeddings: 64, RMSNormEps: 1e-6, RopeTheta: 10000},
		"qwen2 tied": {ModelType: "qwen2", VocabSize: 97, HiddenSize: 48, IntermediateSize: 80, NumHiddenLayers: 2,
			NumAttentionHeads: 6, NumKeyValueHeads: 3, MaxPositionEmbeddings: 64, RMSNormEps: 1e-6, RopeTheta: 1e6, TieWordEmbeddings: &tied},
		"head_dim 24": {ModelType: "llama", VocabSize: 50, HiddenSize: 32, IntermediateSize: 40, NumHiddenLayers: 1,
			NumAttentionHeads: 2, NumKeyValueHeads: 1, HeadDim: 24, MaxPositionEmbeddings: 64, RMSNormEps: 1e-5, RopeTheta: 500000},
	}
	for name, cfg := range configs {
		for _, bf16 := range []bool{false, true} {
			t.Run(name+map[bool]string{false: "", true: " bf16"}[bf16], func(t *testing.T) {
				m, err := NewRandomModel(cfg, rand.New(rand.NewPCG(7, 8)))
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range m.Params() {
					if len(p.Tensor.Shape()) == 1 {
						// norms and biases off their defaults, so that a
						// norm weight or bias left out would show
						m.SetParam(p.Name, p.Tensor.Add(nabla.Normal(rand.New(rand.NewPCG(9, uint64(len(p.Name)))), 0, 0.1, p.Tensor.Shape()...)))
					}
					if bf16 && len(p.Tensor.Shape()) == 2 {
						m.SetParam(p.Name, p.Tensor.To(nabla.BFloat16))
					}
				}
				for _, split := range []bool{false, true} {
					compareFastStep(t, m, split)
				}
			})
		}
	}
}

func compareFastStep(t *testing.T, m *Model, split bool) {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, 12))
	V := m.Config.VocabSize
	lens := []int{9, 5, 1}
	B, longest := len(lens), 9
	pads := make([]int, B)
	ids := make([]int, B*longest)
	for b, n := range lens {
		pads[b] = longest - n
		for j := range longest {
			ids[b*longest+j] = rng.IntN(V)
		}
	}
	const steps = 4
	f := m.newFastGen(B, longest+steps, pads)
	if f == nil {
		t.Fatal("the model does not take the generation loop")
	}
	defer f.release()
	c := m.NewCache(pads)
	check := func(what string, got []float32, h *nabla.Tensor) {
		t.Helper()
		T := h.Shape()[1]
		want := m.Logits(h.Slice(1, T-1, T, 1)).Float32s()
		worst := 0.0
		for i := range want {
			worst = max(worst, math.Abs(float64(got[i]-want[i]))/(1+math.Abs(float64(want[i]))))
		}
		if worst > 1e-5 {
			t.Errorf("split=%v %s: logits differ from Step's by %.2g", split, what, worst)
		}
	}
	// the prompt in one step, or in two (the second with a mask over the
	// cached positions and itself)
	cuts := []int{0, longest}
	if split {
		cuts = []int{0, 4, longest}
	}
	for i := 1; i < len(cuts); i++ {
		T := cuts[i] - cuts[i-1]
		chunk := make([]int, 0, B*T)
		for b := range B {
			chunk = append(chunk, ids[b*longest+cuts[i-1]:b*longest+cuts[i]]...)
		}
		got := slices.Clone(f.step(chunk, T))
		check("prompt", got, m.Hidden(indexTensor(chunk).Reshape(B, T), c))
	}
	for s := range steps - 1 {
		next := make([]int, B)
		for b := range next {
			next[b] = rng.IntN(V)
		}
		got := slices.Clone(f.step(next, 1))
		check("step "+string(rune('1'+s)), got, m.Hidden(indexTensor(next).Reshape(B, 1), c))
	}
}

// TestFastFallback checks which models take the tensor path: GPT-2 and a
// model with LoRA adapters; and that generation with adapters still works
// (through it) and gives what the merged weights give.
func TestFastFallback(t *testing.T) {
	g, err := LoadModel(filepath.Join("testdata", "gpt2-tiny"))
	if err != nil {
		t.Fatal(err)
	}
	if g.fast() != nil {
		t.Error("GPT-2 takes the generation loop, which only knows LLaMA-style models")
	}
	m, err := LoadModel(filepath.Join("testdata", "llama-tiny"))
	if err != nil {
		t.Fatal(err)
	}
	if m.fast() == nil {
		t.Fatal("the tiny LLaMA does not take the generation loop")
	}
	prompt := [][]int{loadReference(t, filepath.Join("testdata", "llama-tiny")).Prompts[0].IDs}
	plain, err := m.Generate(context.Background(), prompt, GenerateOptions{MaxTokens: 5})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.AddLoRA(LoRAConfig{Rank: 2, Alpha: 4}, rand.New(rand.NewPCG(1, 2))); err != nil {
		t.Fatal(err)
	}
	if m.fast() != nil {
		t.Error("a model with LoRA adapters takes the generation loop, which ignores them")
	}
	// fresh adapters are zero (B = 0): the same tokens, through the ops
	adapted, err := m.Generate(context.Background(), prompt, GenerateOptions{MaxTokens: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(adapted[0], plain[0]) {
		t.Errorf("with zero adapters %v; without %v", adapted[0], plain[0])
	}
}
