package hf

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/optim"
)

// opticks is a little of the text the fixtures' tokenizers were trained on.
const opticks = `The Light whose Rays are all alike Refrangible, I call Simple, Homogeneal and Similar; and that whose Rays are some more Refrangible than others, I call Compound, Heterogeneal and Dissimilar. The former Light I call Homogeneal, not because I would affirm it so in all respects, but because the Rays which agree in Refrangibility, agree at least in all those their other Properties which I consider in the following Discourse.`

func batchOf(t *testing.T, p *Pretrained, T int) *nabla.Tensor {
	t.Helper()
	b, err := p.TokenBatch(p.Tokenizer.Encode(opticks), T)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func logitsOf(m *Model, ids *nabla.Tensor) []float32 {
	var out []float32
	m.noGrad(func() { out = m.Forward(ids).Float32s() })
	return out
}

// train runs steps of AdamW on the loss of ids and returns the first and
// last losses.
func train(t *testing.T, m *Model, opt *optim.Adam, ids *nabla.Tensor, steps int) (first, last float64) {
	t.Helper()
	for i := range steps {
		opt.ZeroGrad()
		loss := m.Loss(ids)
		if i == 0 {
			first = loss.Item()
		}
		last = loss.Item()
		loss.Backward()
		opt.Step()
	}
	return first, last
}

func TestFullFineTune(t *testing.T) {
	for _, name := range []string{"gpt2-tiny", "llama-tiny"} {
		t.Run(name, func(t *testing.T) {
			p, err := Load(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			ids := batchOf(t, p, 24)
			p.SetTrainable(true)
			loss := p.Loss(ids)
			loss.Backward()
			for _, q := range p.Params() {
				g := q.Tensor.Grad()
				if g == nil || slices.Max(g.Abs().Float32s()) == 0 {
					t.Errorf("%s has no gradient: the graph does not reach it", q.Name)
				}
			}
			opt := optim.NewAdamW(p.Params(), optim.AdamConfig{LR: 3e-3, WeightDecay: 0.01})
			first, last := train(t, p.Model, opt, ids, 8)
			t.Logf("loss %.3f -> %.3f in 8 steps", first, last)
			if !(last < 0.8*first) {
				t.Errorf("8 AdamW steps moved the loss from %.4f to %.4f; want a drop of 20%%", first, last)
			}
		})
	}
}

// TestLossIsCrossEntropy checks Loss against the log-softmax of Forward's
// logits, computed by hand.
func TestLossIsCrossEntropy(t *testing.T) {
	p, err := Load(filepath.Join("testdata", "qwen2-tiny"))
	if err != nil {
		t.Fatal(err)
	}
	ids := batchOf(t, p, 9)
	B, T, V := ids.Shape()[0], ids.Shape()[1], p.Config.VocabSize
	logits := logitsOf(p.Model, ids)
	flat := ids.Ints()
	want := 0.0
	for b := range B {
		for i := range T - 1 {
			row := logits[(b*T+i)*V:][:V]
			lse := nabla.FromSlice(slices.Clone(row)).LogSumExp(0).Item()
			want += lse - float64(row[flat[b*T+i+1]])
		}
	}
	want /= float64(B * (T - 1))
	if got := p.Loss(ids).Item(); !near(got, want, 1e-5) {
		t.Errorf("Loss = %v; the cross-entropy of the logits is %v", got, want)
	}
}

func near(a, b, rel float64) bool {
	d := a - b
	if d < 0 {
		d = -d
	}
	return d <= rel*max(1, b, -b)
}

func TestLoRA(t *testing.T) {
	for _, c := range []struct {
		name    string
		targets []string
		param   string // a tensor the adapters must not change
	}{
		{"llama-tiny", nil, "model.layers.0.self_attn.q_proj.weight"},
		{"qwen2-tiny", []string{"q_proj", "k_proj", "v_proj", "o_proj", "down_proj"}, "model.layers.1.mlp.down_proj.weight"},
		{"gpt2-tiny", nil, "transformer.h.0.attn.c_attn.weight"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join("testdata", c.name)
			p, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			ids := batchOf(t, p, 16)
			before := logitsOf(p.Model, ids)
			if err := p.AddLoRA(LoRAConfig{Rank: 4, Alpha: 8, Targets: c.targets}, rand.New(rand.NewPCG(1, 2))); err != nil {
				t.Fatal(err)
			}
			if got := logitsOf(p.Model, ids); !slices.Equal(got, before) {
				t.Error("fresh adapters (B = 0) changed the logits")
			}
			for _, q := range p.Params() {
				if q.Tensor.RequiresGrad() {
					t.Fatalf("base weight %s is trainable after AddLoRA", q.Name)
				}
			}
			lp := p.LoRAParams()
			layers := max(p.Config.NLayer, p.Config.NumHiddenLayers)
			targets := max(1, len(c.targets))
			if c.targets == nil && c.name != "gpt2-tiny" {
				targets = 2
			}
			if len(lp) != 2*layers*targets {
				t.Fatalf("%d adapter tensors; want %d", len(lp), 2*layers*targets)
			}
			for _, q := range lp {
				if !strings.HasPrefix(q.Name, "base_model.model.") || !strings.HasSuffix(q.Name, ".lora_A.weight") && !strings.HasSuffix(q.Name, ".lora_B.weight") || !q.Tensor.RequiresGrad() {
					t.Errorf("adapter %s (trainable %v): not PEFT's name or not trainable", q.Name, q.Tensor.RequiresGrad())
				}
			}
			if c.name == "llama-tiny" && lp[0].Name != "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight" {
				t.Errorf("first adapter %s", lp[0].Name)
			}
			frozen := slices.Clone(p.w(c.param).Float32s())
			opt := optim.NewAdamW(lp, optim.AdamConfig{LR: 1e-2})
			first, last := train(t, p.Model, opt, ids, 8)
			t.Logf("loss %.3f -> %.3f in 8 steps of the adapters", first, last)
			if !(last < first-0.1) {
				t.Errorf("8 steps on the adapters moved the loss from %.4f to %.4f; want a drop of 0.1", first, last)
			}
			if !slices.Equal(p.w(c.param).Float32s(), frozen) {
				t.Errorf("training the adapters changed %s", c.param)
			}
			unmerged := logitsOf(p.Model, ids)
			if slices.Equal(unmerged, before) {
				t.Fatal("training left the logits as they were")
			}

			// saved in PEFT's layout and loaded into a fresh base model: the same logits
			out := t.TempDir()
			if err := p.SaveLoRA(out, "tiny"); err != nil {
				t.Fatal(err)
			}
			var ac map[string]any
			raw, _ := os.ReadFile(filepath.Join(out, "adapter_config.json"))
			if err := json.Unmarshal(raw, &ac); err != nil || ac["peft_type"] != "LORA" || ac["r"] != 4.0 || ac["lora_alpha"] != 8.0 {
				t.Errorf("adapter_config.json: %s (%v)", raw, err)
			}
			q, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := q.LoadLoRA(out); err != nil {
				t.Fatal(err)
			}
			if got := logitsOf(q.Model, ids); !slices.Equal(got, unmerged) {
				t.Error("adapters saved and loaded give other logits")
			}
			if err := p.SaveFolder(t.TempDir()); err == nil {
				t.Error("SaveFolder with unmerged adapters: no error")
			}

			// merged into the weights: the same function, within rounding
			p.MergeLoRA()
			if len(p.LoRAParams()) != 0 {
				t.Error("adapters left after MergeLoRA")
			}
			merged := logitsOf(p.Model, ids)
			if r := worstRel(merged, float64s(unmerged)); r > 1e-5 {
				t.Errorf("merged logits differ from the adapters' by %.2g relative", r)
			}
		})
	}
	p, _ := Load(filepath.Join("testdata", "llama-tiny"))
	for _, bad := range []LoRAConfig{{Targets: []string{"c_attn"}}, {Rank: 1000}, {Rank: 2, Alpha: -1}} {
		if err := p.AddLoRA(bad, rand.New(rand.NewPCG(1, 1))); err == nil {
			t.Errorf("AddLoRA(%+v): no error", bad)
			p.lora = nil
		}
	}
}

func float64s(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func TestSaveFolder(t *testing.T) {
	for _, name := range []string{"qwen2-tiny", "llama-tiny", "gpt2-tiny", "llama-tiny-bf16"} {
		t.Run(name, func(t *testing.T) {
			p, err := Load(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			ids := batchOf(t, p, 12)
			p.SetTrainable(true)
			train(t, p.Model, optim.NewAdamW(p.Params(), optim.AdamConfig{LR: 1e-3}), ids, 1) // weights unlike the files'
			p.SetTrainable(false)
			want := logitsOf(p.Model, ids)
			out := t.TempDir()
			if err := p.SaveFolder(out); err != nil {
				t.Fatal(err)
			}
			q, err := Load(out)
			if err != nil {
				t.Fatal(err)
			}
			if got := logitsOf(q.Model, ids); !slices.Equal(got, want) {
				t.Error("saved and loaded: other logits")
			}
			var cfg map[string]any
			raw, _ := os.ReadFile(filepath.Join(out, "config.json"))
			json.Unmarshal(raw, &cfg)
			if cfg["torch_dtype"] != "float32" || cfg["model_type"] != p.Config.ModelType || cfg["architectures"] == nil {
				t.Errorf("config.json: %s", raw)
			}
			w, err := OpenWeights(out)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			_, hasHead := w.Get("lm_head.weight")
			if hasHead == p.Config.Tied() {
				t.Errorf("lm_head.weight saved: %v; the model's head is tied: %v", hasHead, p.Config.Tied())
			}
			tok, _ := os.ReadFile(filepath.Join(out, "tokenizer.json"))
			orig, _ := os.ReadFile(filepath.Join("testdata", name, "tokenizer.json"))
			if len(tok) == 0 || string(tok) != string(orig) {
				t.Error("tokenizer.json not copied")
			}
		})
	}
	// a model made from a Config alone
	cfg := &Config{ModelType: "qwen2", VocabSize: 50, HiddenSize: 16, IntermediateSize: 24, NumHiddenLayers: 1, NumAttentionHeads: 2, NumKeyValueHeads: 1, MaxPositionEmbeddings: 32}
	m, err := NewRandomModel(cfg, rand.New(rand.NewPCG(3, 3)))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := m.SaveFolder(out); err != nil {
		t.Fatal(err)
	}
	m2, err := LoadModel(out)
	if err != nil {
		t.Fatal(err)
	}
	ids := indexTensor([]int{1, 2, 3, 4}).Reshape(1, 4)
	if !slices.Equal(logitsOf(m, ids), logitsOf(m2, ids)) || m2.Config.RopeTheta != cfg.RopeTheta || !m2.Config.Tied() {
		t.Errorf("a random model saved and loaded differs (config %+v)", m2.Config)
	}
}

// TestExportForPyTorch writes fine-tuned folders for
// bench/reference/check_hf_saved.py to check in PyTorch, when
// NABLA_HF_EXPORT names a folder.
func TestExportForPyTorch(t *testing.T) {
	root := os.Getenv("NABLA_HF_EXPORT")
	if root == "" {
		t.Skip("NABLA_HF_EXPORT is not set")
	}
	for _, c := range []struct {
		name    string
		targets []string
	}{{"gpt2-tiny", []string{"c_attn", "c_proj"}}, {"llama-tiny", nil}, {"qwen2-tiny", []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj"}}} {
		p, err := Load(filepath.Join("testdata", c.name))
		if err != nil {
			t.Fatal(err)
		}
		ids := batchOf(t, p, 16)
		if err := p.AddLoRA(LoRAConfig{Rank: 4, Alpha: 16, Targets: c.targets}, rand.New(rand.NewPCG(5, 5))); err != nil {
			t.Fatal(err)
		}
		train(t, p.Model, optim.NewAdamW(p.LoRAParams(), optim.AdamConfig{LR: 1e-2}), ids, 5)
		dir := filepath.Join(root, c.name)
		if err := p.SaveLoRA(filepath.Join(dir, "adapter"), c.name); err != nil {
			t.Fatal(err)
		}
		logits := logitsOf(p.Model, ids)
		var loss float64
		p.noGrad(func() { loss = p.Loss(ids).Item() })
		p.MergeLoRA()
		if err := p.SaveFolder(filepath.Join(dir, "merged")); err != nil {
			t.Fatal(err)
		}
		rows := ids.Shape()[0]
		flat := ids.Ints()
		var id2 [][]int
		for r := range rows {
			id2 = append(id2, flat[r*16:(r+1)*16])
		}
		b, _ := json.Marshal(map[string]any{"ids": id2, "logits": logits, "loss": loss})
		if err := os.WriteFile(filepath.Join(dir, "nabla.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
