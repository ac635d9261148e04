package hf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadConfig(t *testing.T) {
	cases := []struct {
		dir    string
		family Family
		tied   bool
		eos    int
	}{
		{"gpt2-tiny", GPT2, true, 999},
		{"llama-tiny", Llama, false, 998},
		{"qwen2-tiny", Llama, true, 997},
	}
	for _, c := range cases {
		cfg, err := ReadConfig(filepath.Join("testdata", c.dir))
		if err != nil {
			t.Fatal(err)
		}
		fam, _ := cfg.Family()
		if fam != c.family || cfg.Tied() != c.tied || len(cfg.EOSTokens()) != 1 || cfg.EOSTokens()[0] != c.eos {
			t.Errorf("%s: family %v tied %v eos %v", c.dir, fam, cfg.Tied(), cfg.EOSTokens())
		}
	}
}

func TestBadConfig(t *testing.T) {
	cases := []struct{ json, want string }{
		{`{"model_type": "bert", "vocab_size": 10}`, `model_type "bert" is not supported`},
		{`{"model_type": "gpt2", "vocab_size": 10, "n_embd": 1000000000, "n_layer": 1, "n_head": 1, "n_positions": 8}`, "n_embd = 1000000000"},
		{`{"model_type": "gpt2", "vocab_size": 10, "n_embd": 10, "n_layer": 1, "n_head": 3, "n_positions": 8}`, "not a multiple of n_head"},
		{`{"model_type": "llama", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 3, "max_position_embeddings": 8}`, "num_key_value_heads 3"},
		{`{"model_type": "llama", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 8, "rope_scaling": {"type": "yarn", "factor": 4}}`, `rope_scaling type "yarn"`},
		{`{"model_type": "llama", "vocab_size": 0}`, "vocab_size = 0"},
		{`[1, 2]`, "cannot unmarshal"},
	}
	for _, c := range cases {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(c.json), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadConfig(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v; want one containing %q", c.json, err, c.want)
		}
	}
}

func TestOpenWeights(t *testing.T) {
	for _, c := range []struct {
		dir, name, dtype string
	}{
		{"gpt2-tiny", "transformer.h.3.attn.c_attn.weight", "F32"},
		{"llama-tiny", "lm_head.weight", "F32"}, // sharded: in the second file
		{"llama-tiny", "model.embed_tokens.weight", "F32"},
		{"llama-tiny-bf16", "model.layers.0.self_attn.k_proj.weight", "BF16"},
	} {
		w, err := OpenWeights(filepath.Join("testdata", c.dir))
		if err != nil {
			t.Fatal(err)
		}
		tt, ok := w.Get(c.name)
		if !ok || string(tt.DType) != c.dtype {
			t.Errorf("%s: %s: found %v, dtype %v; want %s", c.dir, c.name, ok, tt.DType, c.dtype)
		}
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	}
}

func TestBadIndex(t *testing.T) {
	for _, c := range []struct{ index, want string }{
		{`{"weight_map": {"a": "../evil.safetensors"}}`, "not a .safetensors file in the model's folder"},
		{`{"weight_map": {"a": "/etc/passwd"}}`, "not a .safetensors file"},
		{`{"weight_map": {}}`, "weight_map is empty"},
		{`{"weight_map": {"a": "missing.safetensors"}}`, "missing.safetensors"},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), []byte(c.index), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := OpenWeights(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v; want one containing %q", c.index, err, c.want)
		}
	}
	if _, err := OpenWeights(t.TempDir()); err == nil || !strings.Contains(err.Error(), "neither model.safetensors") {
		t.Errorf("empty folder: err = %v", err)
	}
}
