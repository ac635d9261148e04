package hf

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/safetensors"
)

// LoRAConfig describes low-rank adapters (LoRA, Hu et al. 2021) on a
// model's projections: each targeted weight W gets a trainable update
// (Alpha/Rank)·B·A with A (Rank, in) and B (out, Rank), so that
// y = x·Wᵀ + (Alpha/Rank)·x·Aᵀ·Bᵀ, while W stays frozen. Dropout on the
// adapter's input is not implemented (PEFT's lora_dropout = 0).
type LoRAConfig struct {
	// Rank is r, the adapters' inner size (default 8).
	Rank int `json:"r"`
	// Alpha is lora_alpha; the update is scaled by Alpha/Rank (default
	// 2·Rank, a scale of 2).
	Alpha float64 `json:"lora_alpha"`
	// Targets are the projections that get adapters, by the last part of
	// their name: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj or
	// down_proj for LLaMA-style models (default q_proj and v_proj), c_attn,
	// c_proj or c_fc for GPT-2 (default c_attn, its fused q, k, v).
	Targets []string `json:"target_modules"`
}

// adapter is one projection's LoRA pair.
type adapter struct {
	a, b  *nabla.Tensor // (r, in), (out, r)
	scale float64
	conv  bool // GPT-2's Conv1D, whose weight is (in, out)
}

// withLoRA adds the adapter of the projection p (if any) to its output y
// for the input x.
func (m *Model) withLoRA(p string, x, y *nabla.Tensor) *nabla.Tensor {
	ad := m.lora[p]
	if ad == nil {
		return y
	}
	return y.Add(x.MatMul(ad.a.T()).MatMul(ad.b.T()).MulScalar(ad.scale))
}

// AddLoRA adds adapters to the projections cfg targets, in every layer,
// and freezes the model's own weights: afterwards only the adapters
// ([Model.LoRAParams]) require gradients. A is drawn as PEFT does
// (uniform in ±1/√in, Kaiming's with a = √5) and B is zero, so the model's
// output is unchanged until training moves B.
func (m *Model) AddLoRA(cfg LoRAConfig, rng *rand.Rand) error {
	if m.lora != nil {
		return fmt.Errorf("hf: AddLoRA: the model already has adapters (merge them first)")
	}
	if cfg.Rank == 0 {
		cfg.Rank = 8
	}
	if cfg.Alpha == 0 {
		cfg.Alpha = 2 * float64(cfg.Rank)
	}
	known := []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
	if m.family == GPT2 {
		known = []string{"c_attn", "c_proj", "c_fc"}
	}
	if len(cfg.Targets) == 0 {
		cfg.Targets = []string{"q_proj", "v_proj"}
		if m.family == GPT2 {
			cfg.Targets = []string{"c_attn"}
		}
	}
	if cfg.Rank < 0 || !(cfg.Alpha > 0) {
		return fmt.Errorf("hf: AddLoRA: rank %d and alpha %v must be positive", cfg.Rank, cfg.Alpha)
	}
	for _, t := range cfg.Targets {
		if !slices.Contains(known, t) {
			return fmt.Errorf("hf: AddLoRA: target %q is not a projection of a %s model (%s)", t, m.Config.ModelType, strings.Join(known, ", "))
		}
	}
	m.SetTrainable(false)
	m.lora, m.loraCfg = map[string]*adapter{}, cfg
	for _, path := range m.loraPaths(cfg.Targets) {
		w := m.w(path + ".weight")
		out, in := w.Shape()[0], w.Shape()[1]
		conv := m.family == GPT2
		if conv {
			out, in = in, out
		}
		if cfg.Rank > min(in, out) {
			m.lora = nil
			return fmt.Errorf("hf: AddLoRA: rank %d is larger than %s's %d×%d weight", cfg.Rank, path, out, in)
		}
		bound := 1 / math.Sqrt(float64(in))
		m.lora[path] = &adapter{
			a:     nabla.Uniform(rng, -bound, bound, cfg.Rank, in).SetRequiresGrad(true),
			b:     nabla.Zeros(out, cfg.Rank).SetRequiresGrad(true),
			scale: cfg.Alpha / float64(cfg.Rank),
			conv:  conv,
		}
	}
	return nil
}

// loraPaths lists the module paths of the targets, layer by layer.
func (m *Model) loraPaths(targets []string) []string {
	var paths []string
	for i := range max(m.Config.NLayer, m.Config.NumHiddenLayers) {
		for _, t := range targets {
			switch {
			case m.family == GPT2 && t == "c_attn":
				paths = append(paths, "transformer.h."+strconv.Itoa(i)+".attn.c_attn")
			case m.family == GPT2:
				paths = append(paths, "transformer.h."+strconv.Itoa(i)+".mlp."+t)
				if t == "c_proj" {
					paths = append(paths, "transformer.h."+strconv.Itoa(i)+".attn.c_proj")
				}
			case strings.HasSuffix(t, "_proj") && (t == "gate_proj" || t == "up_proj" || t == "down_proj"):
				paths = append(paths, "model.layers."+strconv.Itoa(i)+".mlp."+t)
			default:
				paths = append(paths, "model.layers."+strconv.Itoa(i)+".self_attn."+t)
			}
		}
	}
	slices.Sort(paths)
	return paths
}

// LoRAParams returns the adapters' tensors with PEFT's names
// ("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"), in a
// fixed order: the parameters to give the optimizer. It is empty without
// adapters.
func (m *Model) LoRAParams() []nn.Param {
	paths := make([]string, 0, len(m.lora))
	for p := range m.lora {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	var ps []nn.Param
	for _, p := range paths {
		ad := m.lora[p]
		ps = append(ps, nn.Param{Name: "base_model.model." + p + ".lora_A.weight", Tensor: ad.a}, nn.Param{Name: "base_model.model." + p + ".lora_B.weight", Tensor: ad.b})
	}
	return ps
}

// MergeLoRA adds each adapter's update into its weight,
// W ← W + (Alpha/Rank)·B·A (transposed for GPT-2's Conv1D weights), and
// removes the adapters: the model computes what it computed with them, at
// the cost of the plain model, and SaveFolder writes the merged weights.
func (m *Model) MergeLoRA() {
	for path, ad := range m.lora {
		delta := ad.b.Detach().MatMul(ad.a.Detach()).MulScalar(ad.scale) // (out, in)
		if ad.conv {
			delta = delta.T()
		}
		name := path + ".weight"
		old := m.w(name)
		m.SetParam(name, old.Detach().Add(delta).To(old.DType()).Contiguous()) // a bfloat16 weight stays bfloat16
	}
	m.lora = nil
}

// adapterConfig is PEFT's adapter_config.json, the fields nabla writes.
type adapterConfig struct {
	PEFTType          string   `json:"peft_type"`
	TaskType          string   `json:"task_type"`
	Rank              int      `json:"r"`
	Alpha             float64  `json:"lora_alpha"`
	Dropout           float64  `json:"lora_dropout"`
	Targets           []string `json:"target_modules"`
	Bias              string   `json:"bias"`
	FanInFanOut       bool     `json:"fan_in_fan_out"`
	InferenceMode     bool     `json:"inference_mode"`
	BaseModel         string   `json:"base_model_name_or_path"`
	ModulesToSave     []string `json:"modules_to_save"`
	InitLoRAWeights   bool     `json:"init_lora_weights"`
	UseRSLoRA         bool     `json:"use_rslora"`
	LayersToTransform []int    `json:"layers_to_transform"`
}

// SaveLoRA writes the adapters to dir in PEFT's layout:
// adapter_model.safetensors with PEFT's tensor names and
// adapter_config.json, which peft.PeftModel.from_pretrained(base, dir)
// reads. base is recorded as base_model_name_or_path (it may be "").
func (m *Model) SaveLoRA(dir, base string) error {
	if m.lora == nil {
		return fmt.Errorf("hf: SaveLoRA: the model has no adapters")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	c := m.loraCfg
	ac := adapterConfig{PEFTType: "LORA", TaskType: "CAUSAL_LM", Rank: c.Rank, Alpha: c.Alpha, Targets: c.Targets, Bias: "none",
		FanInFanOut: m.family == GPT2, InferenceMode: true, BaseModel: base, InitLoRAWeights: true}
	if err := writeJSONFile(filepath.Join(dir, "adapter_config.json"), ac); err != nil {
		return err
	}
	return writeTensors(filepath.Join(dir, "adapter_model.safetensors"), m.LoRAParams())
}

// LoadLoRA adds the adapters that dir holds in PEFT's layout
// (adapter_config.json and adapter_model.safetensors, as SaveLoRA or
// PEFT's save_pretrained write them) to the model.
func (m *Model) LoadLoRA(dir string) error {
	raw, err := os.ReadFile(filepath.Join(dir, "adapter_config.json"))
	if err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	var ac adapterConfig
	if err := json.Unmarshal(raw, &ac); err != nil {
		return fmt.Errorf("hf: %s: %v", filepath.Join(dir, "adapter_config.json"), err)
	}
	if ac.PEFTType != "LORA" || ac.UseRSLoRA || ac.Bias != "none" && ac.Bias != "" || len(ac.ModulesToSave) > 0 || len(ac.LayersToTransform) > 0 {
		return fmt.Errorf("hf: %s: only plain LoRA adapters are read (peft_type LORA, bias none, no rslora, modules_to_save or layers_to_transform)", dir)
	}
	f, err := safetensors.ReadFile(filepath.Join(dir, "adapter_model.safetensors"))
	if err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	if err := m.AddLoRA(LoRAConfig{Rank: ac.Rank, Alpha: ac.Alpha, Targets: ac.Targets}, rand.New(rand.NewPCG(0, 0))); err != nil {
		return err
	}
	fail := func(format string, a ...any) error {
		m.lora = nil
		return fmt.Errorf("hf: %s: "+format, append([]any{dir}, a...)...)
	}
	for path, ad := range m.lora {
		for _, part := range []struct {
			name string
			t    **nabla.Tensor
		}{{"lora_A", &ad.a}, {"lora_B", &ad.b}} {
			name := "base_model.model." + path + "." + part.name + ".weight"
			t, ok := f.Get(name)
			if !ok {
				// PEFT puts a non-default adapter's name in the tensor
				// names (lora_A.NAME.weight): not read
				return fail("no tensor %q", name)
			}
			if !slices.Equal(t.Shape, (*part.t).Shape()) {
				return fail("tensor %q has shape %v; want %v", name, t.Shape, (*part.t).Shape())
			}
			x, err := toFloat32(t)
			if err != nil {
				return fail("tensor %q: %v", name, err)
			}
			*part.t = x.SetRequiresGrad(true)
		}
	}
	return nil
}
