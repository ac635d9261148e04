package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/safetensors"
)

// SaveFolder writes the model to dir in Hugging Face's layout, so that
// LoadModel and transformers' from_pretrained read it back:
// config.json (the one read, every key kept, torch_dtype float32; or one
// written from Config for a model made by NewRandomModel) and
// model.safetensors with Hugging Face's tensor names in float32, the
// tied output projection left out as transformers leaves it. Adapters
// are not saved with it: merge them with [Model.MergeLoRA] first, or save
// them apart with [Model.SaveLoRA].
func (m *Model) SaveFolder(dir string) error {
	if m.lora != nil {
		return fmt.Errorf("hf: SaveFolder: the model has LoRA adapters: MergeLoRA first, or SaveLoRA them")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	cfg, err := m.configJSON()
	if err != nil {
		return err
	}
	if err := writeJSONFile(filepath.Join(dir, "config.json"), cfg); err != nil {
		return err
	}
	// a leftover index would make loaders look for shards
	os.Remove(filepath.Join(dir, "model.safetensors.index.json"))
	return writeTensors(filepath.Join(dir, "model.safetensors"), m.params)
}

// configJSON returns config.json's object for the model as it is now.
func (m *Model) configJSON() (map[string]any, error) {
	out := map[string]any{}
	if m.Config.raw != nil {
		for k, v := range m.Config.raw {
			out[k] = v
		}
	} else {
		b, err := json.Marshal(m.Config)
		if err != nil {
			return nil, fmt.Errorf("hf: %w", err)
		}
		var all map[string]any
		json.Unmarshal(b, &all)
		for k, v := range all {
			// keep what the config sets; zero numbers and empty strings
			// are fields of the other family or defaults
			if v == nil || v == 0.0 || v == "" {
				continue
			}
			out[k] = v
		}
		arch := map[string]string{"gpt2": "GPT2LMHeadModel", "llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "mistral": "MistralForCausalLM"}[m.Config.ModelType]
		out["architectures"] = []string{arch}
	}
	out["torch_dtype"] = "float32"
	return out, nil
}

// writeTensors writes params as float32 safetensors with the metadata
// transformers requires ("format": "pt").
func writeTensors(path string, params []nn.Param) error {
	ts := make([]safetensors.Tensor, len(params))
	for i, p := range params {
		ts[i] = safetensors.FromFloat32s(p.Name, p.Tensor.Shape(), p.Tensor.Float32s())
	}
	if err := safetensors.WriteFile(path, ts, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	return nil
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	return nil
}

// tokenizerFiles are the files of a model folder besides the weights and
// config.json that SaveFolder copies when they exist.
var tokenizerFiles = []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"}

// SaveFolder writes the model as [Model.SaveFolder] does and copies the
// tokenizer files of the folder it was loaded from (tokenizer.json, and
// tokenizer_config.json, special_tokens_map.json and
// generation_config.json where present): the result is a model folder
// that Load reads.
func (p *Pretrained) SaveFolder(dir string) error {
	if err := p.Model.SaveFolder(dir); err != nil {
		return err
	}
	if p.dir == "" {
		return fmt.Errorf("hf: SaveFolder: the model was not loaded from a folder, so there is no tokenizer.json to copy; use Model.SaveFolder")
	}
	src, _ := filepath.Abs(p.dir)
	dst, _ := filepath.Abs(dir)
	if src == dst {
		return nil
	}
	for _, name := range tokenizerFiles {
		if err := copyFile(filepath.Join(p.dir, name), filepath.Join(dir, name)); err != nil && !(errors.Is(err, os.ErrNotExist) && name != "tokenizer.json") {
			return fmt.Errorf("hf: SaveFolder: %w", err)
		}
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
