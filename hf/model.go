package hf

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/internal/half"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/safetensors"
)

// Model is a pretrained decoder-only language model: GPT-2 or a
// LLaMA-style decoder (LLaMA 2 and 3, Qwen2, Mistral), with Hugging Face's
// parameter names. Forward maps token ids (B, T) to logits (B, T, V); Step
// does the same for new tokens after those a Cache holds, one step per
// generated token.
//
// The parameters are float32 and do not require gradients when loaded;
// call [Model.SetTrainable] to fine-tune. Loaded with [WeightDType]
// (nabla.BFloat16), the weight matrices stay in bfloat16 and the model
// computes in float32 from them.
type Model struct {
	Config *Config
	family Family
	params []nn.Param // in a fixed order: embeddings, layers, final norm, head
	byName map[string]*nabla.Tensor

	// rotary tables (max positions, head_dim) for Llama: cos and sin of
	// each position's angles, the half repeated as rotate-half pairs them
	ropeCos, ropeSin *nabla.Tensor

	// LoRA adapters by module path ("model.layers.0.self_attn.q_proj"),
	// nil without; see AddLoRA
	lora    map[string]*adapter
	loraCfg LoRAConfig

	// arenas recycles Generate's arenas from call to call, so that a
	// prompt's activations reuse the memory of the last one's instead of
	// being allocated (and zeroed) afresh
	arenas sync.Pool // *nabla.Arena
}

// LoadModel builds the model of the folder dir from its config.json and
// safetensors weights, converting float16 and bfloat16 weights to float32
// (unless told otherwise by [WeightDType]). Every tensor the architecture
// needs must be present with its shape; tensors it does not use (GPT-2's
// attn.bias masks, rotary inv_freq buffers) are ignored.
func LoadModel(dir string, opts ...Option) (*Model, error) {
	cfg, err := ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	w, err := OpenWeights(dir)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	return NewModel(cfg, w, opts...)
}

// Option configures how LoadModel, Load and NewModel build a model.
type Option func(*options)

type options struct {
	weightDType nabla.DType
}

// WeightDType sets the dtype in which the weight matrices (embeddings,
// projections, the output head) are kept: nabla.Float32 (the default) or
// nabla.BFloat16, which halves their memory: a bfloat16 checkpoint then
// needs its own size in RAM, not twice it. Norm weights and biases stay
// float32, and the model computes in float32 either way: the products
// read the bfloat16 matrices as they are stored (bfloat16 widens to
// float32 exactly). Weights stored in float32 or float16 are rounded to
// the nearest bfloat16. A model with bfloat16 weights can be fine-tuned
// with LoRA adapters, not in full.
func WeightDType(dt nabla.DType) Option {
	return func(o *options) { o.weightDType = dt }
}

// NewModel builds the model that cfg describes with the weights w.
func NewModel(cfg *Config, w *Weights, opts ...Option) (*Model, error) {
	o := options{weightDType: nabla.Float32}
	for _, f := range opts {
		f(&o)
	}
	if o.weightDType != nabla.Float32 && o.weightDType != nabla.BFloat16 {
		return nil, fmt.Errorf("hf: weights can be kept in float32 or bfloat16, not %s", o.weightDType)
	}
	fam, err := cfg.Family()
	if err != nil {
		return nil, err
	}
	m := &Model{Config: cfg, family: fam, byName: map[string]*nabla.Tensor{}}
	// Find every tensor and check its shape before converting anything,
	// so that a wrong file costs no memory. GPT-2 files name theirs with
	// or without the "transformer." of GPT2LMHeadModel.
	specs := m.specs()
	found := make([]safetensors.Tensor, len(specs))
	for i, s := range specs {
		t, ok := w.Get(s.name)
		if !ok && fam == GPT2 {
			t, ok = w.Get(strings.TrimPrefix(s.name, "transformer."))
		}
		if !ok {
			return nil, fmt.Errorf("hf: the weights have no tensor %q, which a %s model with this config needs", s.name, cfg.ModelType)
		}
		if !slices.Equal(t.Shape, s.shape) {
			return nil, fmt.Errorf("hf: tensor %q has shape %v; the config implies %v", s.name, t.Shape, s.shape)
		}
		found[i] = t
	}
	for i, s := range specs {
		var x *nabla.Tensor
		var err error
		if o.weightDType == nabla.BFloat16 && len(s.shape) == 2 {
			x, err = toBFloat16(found[i])
		} else {
			x, err = toFloat32(found[i])
		}
		if err != nil {
			return nil, fmt.Errorf("hf: tensor %q: %w", s.name, err)
		}
		m.params = append(m.params, nn.Param{Name: s.name, Tensor: x})
		m.byName[s.name] = x
	}
	if fam == Llama {
		m.rope()
	}
	return m, nil
}

type spec struct {
	name  string
	shape []int
}

// specs lists the tensors of the architecture with their shapes.
func (m *Model) specs() []spec {
	c := m.Config
	var s []spec
	add := func(name string, shape ...int) { s = append(s, spec{name: name, shape: shape}) }
	switch m.family {
	case GPT2:
		n := c.NEmbd
		inner := 4 * n
		if c.NInner != nil {
			inner = *c.NInner
		}
		add("transformer.wte.weight", c.VocabSize, n)
		add("transformer.wpe.weight", c.NPositions, n)
		for i := range c.NLayer {
			p := "transformer.h." + strconv.Itoa(i) + "."
			add(p+"ln_1.weight", n)
			add(p+"ln_1.bias", n)
			add(p+"attn.c_attn.weight", n, 3*n)
			add(p+"attn.c_attn.bias", 3*n)
			add(p+"attn.c_proj.weight", n, n)
			add(p+"attn.c_proj.bias", n)
			add(p+"ln_2.weight", n)
			add(p+"ln_2.bias", n)
			add(p+"mlp.c_fc.weight", n, inner)
			add(p+"mlp.c_fc.bias", inner)
			add(p+"mlp.c_proj.weight", inner, n)
			add(p+"mlp.c_proj.bias", n)
		}
		add("transformer.ln_f.weight", n)
		add("transformer.ln_f.bias", n)
		if !c.Tied() {
			add("lm_head.weight", c.VocabSize, n)
		}
	case Llama:
		h, hd := c.HiddenSize, c.HeadDim
		nq, nkv := c.NumAttentionHeads*hd, c.NumKeyValueHeads*hd
		bias := c.ModelType == "qwen2" || c.AttentionBias
		add("model.embed_tokens.weight", c.VocabSize, h)
		for i := range c.NumHiddenLayers {
			p := "model.layers." + strconv.Itoa(i) + "."
			add(p+"input_layernorm.weight", h)
			add(p+"self_attn.q_proj.weight", nq, h)
			add(p+"self_attn.k_proj.weight", nkv, h)
			add(p+"self_attn.v_proj.weight", nkv, h)
			if bias {
				add(p+"self_attn.q_proj.bias", nq)
				add(p+"self_attn.k_proj.bias", nkv)
				add(p+"self_attn.v_proj.bias", nkv)
			}
			add(p+"self_attn.o_proj.weight", h, nq)
			if c.AttentionBias {
				add(p+"self_attn.o_proj.bias", h)
			}
			add(p+"post_attention_layernorm.weight", h)
			add(p+"mlp.gate_proj.weight", c.IntermediateSize, h)
			add(p+"mlp.up_proj.weight", c.IntermediateSize, h)
			add(p+"mlp.down_proj.weight", h, c.IntermediateSize)
		}
		add("model.norm.weight", h)
		if !c.Tied() {
			add("lm_head.weight", c.VocabSize, h)
		}
	}
	return s
}

// toFloat32 converts a safetensors tensor of F32, F16 or BF16 to a float32
// nabla tensor.
func toFloat32(t safetensors.Tensor) (*nabla.Tensor, error) {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	out := make([]float32, n)
	switch t.DType {
	case safetensors.F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
		}
	case safetensors.F16, safetensors.BF16:
		bits := make([]uint16, n)
		for i := range bits {
			bits[i] = binary.LittleEndian.Uint16(t.Data[2*i:])
		}
		if t.DType == safetensors.F16 {
			half.Float16ToFloat32(out, bits)
		} else {
			half.BFloat16ToFloat32(out, bits)
		}
	default:
		return nil, fmt.Errorf("dtype %s is not a floating-point weight type (F32, F16, BF16)", t.DType)
	}
	return nabla.FromSlice(out, slices.Clone(t.Shape)...), nil
}

// toBFloat16 converts a safetensors tensor of F32, F16 or BF16 to a
// bfloat16 nabla tensor: BF16 bytes are taken as they are, the others are
// rounded to the nearest bfloat16.
func toBFloat16(t safetensors.Tensor) (*nabla.Tensor, error) {
	if t.DType != safetensors.BF16 {
		x, err := toFloat32(t)
		if err != nil {
			return nil, err
		}
		return x.To(nabla.BFloat16), nil
	}
	bits := make([]uint16, len(t.Data)/2)
	for i := range bits {
		bits[i] = binary.LittleEndian.Uint16(t.Data[2*i:])
	}
	return nabla.FromHalfBits(nabla.BFloat16, bits, slices.Clone(t.Shape)...), nil
}

// Params returns the parameters with Hugging Face's names.
func (m *Model) Params() []nn.Param { return m.params }

// SetTrainable makes every parameter require (or not require) a gradient.
// It panics with a *nabla.ValueError when asked to train a model whose
// weights are kept in bfloat16 (see [WeightDType]): load it in float32 to
// fine-tune it in full, or train LoRA adapters ([Model.AddLoRA]).
func (m *Model) SetTrainable(on bool) {
	if on {
		for _, p := range m.params {
			if p.Tensor.DType() != nabla.Float32 {
				panic(&nabla.ValueError{Op: "hf.Model.SetTrainable", Reason: "weight " + strconv.Quote(p.Name) + " is kept in " + p.Tensor.DType().String() + "; load the model in float32 to fine-tune it in full, or train LoRA adapters"})
			}
		}
	}
	for _, p := range m.params {
		p.Tensor.SetRequiresGrad(on)
	}
}

// SetParam replaces the parameter called name (for nn.To and gradient
// checks).
func (m *Model) SetParam(name string, t *nabla.Tensor) {
	old, ok := m.byName[name]
	if !ok {
		panic(&nabla.ValueError{Op: "hf.Model.SetParam", Reason: "no parameter " + strconv.Quote(name)})
	}
	if !slices.Equal(old.Shape(), t.Shape()) {
		panic(&nabla.ShapeError{Op: "hf.Model.SetParam", Reason: name + ": the shape differs", Shapes: [][]int{old.Shape(), t.Shape()}})
	}
	m.byName[name] = t
	for i := range m.params {
		if m.params[i].Name == name {
			m.params[i].Tensor = t
		}
	}
}

func (m *Model) w(name string) *nabla.Tensor { return m.byName[name] }

// MaxPositions returns the longest sequence the model can attend over.
func (m *Model) MaxPositions() int {
	if m.family == GPT2 {
		return m.Config.NPositions
	}
	return m.Config.MaxPositionEmbeddings
}

// rope precomputes the rotary tables cos(p·θ_i) and sin(p·θ_i) for every
// position p and frequency θ_i = rope_theta^(-2i/head_dim), with the
// config's scaling, in float64 before rounding to float32 (as HF computes
// them in float32, the two agree to a float32 ulp of the angle).
func (m *Model) rope() {
	c := m.Config
	hd := c.HeadDim
	inv := make([]float64, hd/2)
	for i := range inv {
		inv[i] = 1 / math.Pow(c.RopeTheta, float64(2*i)/float64(hd))
	}
	posScale := 1.0
	if sc := c.RopeScaling; sc != nil {
		switch sc.Kind() {
		case "linear":
			posScale = 1 / sc.Factor
		case "llama3":
			old := float64(sc.OriginalMaxPositionEmbeddings)
			lowWL, highWL := old/sc.LowFreqFactor, old/sc.HighFreqFactor
			for i, f := range inv {
				wl := 2 * math.Pi / f
				switch {
				case wl < highWL:
				case wl > lowWL:
					inv[i] = f / sc.Factor
				default:
					smooth := (old/wl - sc.LowFreqFactor) / (sc.HighFreqFactor - sc.LowFreqFactor)
					inv[i] = (1-smooth)*f/sc.Factor + smooth*f
				}
			}
		}
	}
	P := c.MaxPositionEmbeddings
	cos, sin := make([]float32, P*hd), make([]float32, P*hd)
	for p := range P {
		for i, f := range inv {
			// the angle in float32, as HF forms it, then cos and sin
			a := float64(float32(float32(float64(p)*posScale) * float32(f)))
			cs, sn := float32(math.Cos(a)), float32(math.Sin(a))
			cos[p*hd+i], cos[p*hd+i+hd/2] = cs, cs
			sin[p*hd+i], sin[p*hd+i+hd/2] = sn, sn
		}
	}
	m.ropeCos = nabla.FromSlice(cos, P, hd)
	m.ropeSin = nabla.FromSlice(sin, P, hd)
}

// NewRandomModel returns a model of the architecture cfg describes with
// weights drawn from rng: normal with standard deviation 0.02 (norm
// weights 1, biases 0), transformers' initializer_range default. It is
// for training from scratch and for benchmarks.
func NewRandomModel(cfg *Config, rng *rand.Rand) (*Model, error) {
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("hf: %v", err)
	}
	fam, _ := cfg.Family()
	m := &Model{Config: cfg, family: fam, byName: map[string]*nabla.Tensor{}}
	for _, s := range m.specs() {
		var t *nabla.Tensor
		switch {
		case strings.HasSuffix(s.name, "norm.weight") || strings.Contains(s.name, ".ln_") && strings.HasSuffix(s.name, ".weight"):
			t = nabla.Ones(s.shape...)
		case strings.HasSuffix(s.name, ".bias"):
			t = nabla.Zeros(s.shape...)
		default:
			t = nabla.Normal(rng, 0, 0.02, s.shape...)
		}
		m.params = append(m.params, nn.Param{Name: s.name, Tensor: t})
		m.byName[s.name] = t
	}
	if fam == Llama {
		m.rope()
	}
	return m, nil
}
