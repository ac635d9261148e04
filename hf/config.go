// Package hf loads pretrained language models from Hugging Face model
// folders: config.json, model.safetensors (or the shards that
// model.safetensors.index.json lists) and tokenizer.json.
package hf

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Config is the part of a model's config.json that nabla reads. Fields
// of the two families are side by side: GPT-2's names (n_embd, n_layer,
// ...) and LLaMA's (hidden_size, num_hidden_layers, ...).
type Config struct {
	ModelType string `json:"model_type"`
	VocabSize int    `json:"vocab_size"`

	// GPT-2
	NEmbd              int     `json:"n_embd"`
	NLayer             int     `json:"n_layer"`
	NHead              int     `json:"n_head"`
	NInner             *int    `json:"n_inner"`
	NPositions         int     `json:"n_positions"`
	ActivationFunction string  `json:"activation_function"`
	LayerNormEpsilon   float64 `json:"layer_norm_epsilon"`

	// LLaMA, Qwen2
	HiddenSize            int          `json:"hidden_size"`
	IntermediateSize      int          `json:"intermediate_size"`
	NumHiddenLayers       int          `json:"num_hidden_layers"`
	NumAttentionHeads     int          `json:"num_attention_heads"`
	NumKeyValueHeads      int          `json:"num_key_value_heads"`
	HeadDim               int          `json:"head_dim"`
	HiddenAct             string       `json:"hidden_act"`
	MaxPositionEmbeddings int          `json:"max_position_embeddings"`
	RMSNormEps            float64      `json:"rms_norm_eps"`
	RopeTheta             float64      `json:"rope_theta"`
	RopeScaling           *RopeScaling `json:"rope_scaling"`
	AttentionBias         bool         `json:"attention_bias"`

	TieWordEmbeddings *bool  `json:"tie_word_embeddings"`
	BOSTokenID        any    `json:"bos_token_id"`
	EOSTokenID        any    `json:"eos_token_id"` // a number or a list of numbers
	TorchDType        string `json:"torch_dtype"`

	// raw is config.json as read, every key, for SaveFolder to write back
	raw map[string]any
}

// RopeScaling is config.json's rope_scaling: the "linear" and "llama3"
// types are supported.
type RopeScaling struct {
	Type                          string  `json:"type"`
	RopeType                      string  `json:"rope_type"`
	Factor                        float64 `json:"factor"`
	LowFreqFactor                 float64 `json:"low_freq_factor"`
	HighFreqFactor                float64 `json:"high_freq_factor"`
	OriginalMaxPositionEmbeddings int     `json:"original_max_position_embeddings"`
}

// Kind returns the scaling type, from rope_type or the older type.
func (r *RopeScaling) Kind() string {
	if r.RopeType != "" {
		return r.RopeType
	}
	return r.Type
}

// Family is the architecture family of a model_type.
type Family int

const (
	// GPT2 is GPT-2: learned positions, LayerNorm, Conv1D projections, GELU (tanh).
	GPT2 Family = iota + 1
	// Llama is a LLaMA-style decoder: RMSNorm, rotary positions, SwiGLU,
	// grouped-query attention; Qwen2 is one with biases on q, k and v.
	Llama
)

// Family returns the architecture family of c's model_type, or an error
// naming an unsupported one.
func (c *Config) Family() (Family, error) {
	switch c.ModelType {
	case "gpt2":
		return GPT2, nil
	case "llama", "qwen2", "mistral":
		return Llama, nil
	}
	return 0, fmt.Errorf("hf: model_type %q is not supported (supported: gpt2, llama, qwen2, mistral)", c.ModelType)
}

// maxConfigSize bounds config.json.
const maxConfigSize = 1 << 20

// ReadConfig reads and checks dir/config.json.
func ReadConfig(dir string) (*Config, error) {
	path := filepath.Join(dir, "config.json")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("hf: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("hf: %s: %w", path, err)
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("hf: %s: larger than %d bytes", path, maxConfigSize)
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("hf: %s: %v", path, err)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("hf: %s: %v", path, err)
	}
	json.Unmarshal(data, &c.raw) // it parsed as a Config, so it is an object
	return &c, nil
}

// limits on sizes a config may declare, far above any model nabla can run
// here but low enough that a lying file cannot make it allocate terabytes
const (
	maxDim    = 1 << 16
	maxLayers = 1 << 10
	maxVocab  = 1 << 22
	maxCtx    = 1 << 22
)

func (c *Config) check() error {
	fam, err := c.Family()
	if err != nil {
		return err
	}
	in := func(name string, v, lo, hi int) error {
		if v < lo || v > hi {
			return fmt.Errorf("%s = %d, want %d to %d", name, v, lo, hi)
		}
		return nil
	}
	if err := in("vocab_size", c.VocabSize, 1, maxVocab); err != nil {
		return err
	}
	switch fam {
	case GPT2:
		if c.LayerNormEpsilon == 0 {
			c.LayerNormEpsilon = 1e-5
		}
		if c.ActivationFunction == "" {
			c.ActivationFunction = "gelu_new"
		}
		for _, f := range []struct {
			n     string
			v, hi int
		}{{"n_embd", c.NEmbd, maxDim}, {"n_layer", c.NLayer, maxLayers}, {"n_head", c.NHead, maxDim}, {"n_positions", c.NPositions, maxCtx}} {
			if err := in(f.n, f.v, 1, f.hi); err != nil {
				return err
			}
		}
		if c.NEmbd%c.NHead != 0 {
			return fmt.Errorf("n_embd %d is not a multiple of n_head %d", c.NEmbd, c.NHead)
		}
		if c.NInner != nil {
			if err := in("n_inner", *c.NInner, 1, 4*maxDim); err != nil {
				return err
			}
		}
		switch c.ActivationFunction {
		case "gelu_new", "gelu_pytorch_tanh", "gelu":
		default:
			return fmt.Errorf("activation_function %q is not supported", c.ActivationFunction)
		}
	case Llama:
		if c.NumKeyValueHeads == 0 {
			c.NumKeyValueHeads = c.NumAttentionHeads
		}
		if c.RopeTheta == 0 {
			c.RopeTheta = 10000
		}
		if c.RMSNormEps == 0 {
			c.RMSNormEps = 1e-6
		}
		if c.HiddenAct == "" {
			c.HiddenAct = "silu"
		}
		for _, f := range []struct {
			n     string
			v, hi int
		}{{"hidden_size", c.HiddenSize, maxDim}, {"intermediate_size", c.IntermediateSize, 4 * maxDim}, {"num_hidden_layers", c.NumHiddenLayers, maxLayers},
			{"num_attention_heads", c.NumAttentionHeads, maxDim}, {"num_key_value_heads", c.NumKeyValueHeads, maxDim}, {"max_position_embeddings", c.MaxPositionEmbeddings, maxCtx}} {
			if err := in(f.n, f.v, 1, f.hi); err != nil {
				return err
			}
		}
		if c.NumAttentionHeads%c.NumKeyValueHeads != 0 {
			return fmt.Errorf("num_attention_heads %d is not a multiple of num_key_value_heads %d", c.NumAttentionHeads, c.NumKeyValueHeads)
		}
		if c.HeadDim == 0 {
			if c.HiddenSize%c.NumAttentionHeads != 0 {
				return fmt.Errorf("hidden_size %d is not a multiple of num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
			}
			c.HeadDim = c.HiddenSize / c.NumAttentionHeads
		}
		if c.HeadDim%2 != 0 || c.HeadDim > maxDim {
			return fmt.Errorf("head_dim %d must be even and at most %d", c.HeadDim, maxDim)
		}
		if c.HiddenAct != "silu" {
			return fmt.Errorf("hidden_act %q is not supported (only silu)", c.HiddenAct)
		}
		if c.RopeScaling != nil {
			switch c.RopeScaling.Kind() {
			case "linear", "llama3", "default":
			default:
				return fmt.Errorf("rope_scaling type %q is not supported (linear, llama3)", c.RopeScaling.Kind())
			}
			if c.RopeScaling.Kind() != "default" && !(c.RopeScaling.Factor > 0) {
				return fmt.Errorf("rope_scaling factor %v must be positive", c.RopeScaling.Factor)
			}
		}
	}
	return nil
}

// Tied reports whether the output projection shares the token embedding:
// tie_word_embeddings, which defaults to true as in transformers.
func (c *Config) Tied() bool { return c.TieWordEmbeddings == nil || *c.TieWordEmbeddings }

// EOSTokens returns the end-of-sequence ids: eos_token_id as a number or a
// list.
func (c *Config) EOSTokens() []int {
	switch v := c.EOSTokenID.(type) {
	case float64:
		return []int{int(v)}
	case []any:
		var out []int
		for _, x := range v {
			if f, ok := x.(float64); ok {
				out = append(out, int(f))
			}
		}
		return out
	}
	return nil
}
