package hf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/nabla-go/nabla/tokenizer"
)

// Pretrained is a model folder loaded whole: the model and its tokenizer.
type Pretrained struct {
	*Model
	Tokenizer *tokenizer.Tokenizer

	dir string // the folder it was loaded from, for SaveFolder's tokenizer files
}

// Load reads the model folder dir: config.json, the safetensors weights
// and tokenizer.json, and tokenizer_config.json if there is one. The
// options are LoadModel's.
func Load(dir string, opts ...Option) (*Pretrained, error) {
	m, err := LoadModel(dir, opts...)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "tokenizer.json")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("hf: %s has no tokenizer.json (tokenizer.model, SentencePiece's format, is not read)", dir)
	}
	tok, err := tokenizer.Load(path)
	if err != nil {
		return nil, fmt.Errorf("hf: %w", err)
	}
	if tok.VocabSize() > m.Config.VocabSize {
		return nil, fmt.Errorf("hf: the tokenizer has ids up to %d; the model's vocabulary has %d", tok.VocabSize()-1, m.Config.VocabSize)
	}
	if err := applyTokenizerConfig(tok, filepath.Join(dir, "tokenizer_config.json")); err != nil {
		return nil, err
	}
	return &Pretrained{Model: m, Tokenizer: tok, dir: dir}, nil
}

// llamaTokenizers are the tokenizer classes of transformers whose
// add_bos_token and add_eos_token (true and false when not given)
// replace tokenizer.json's post-processor when they are loaded.
var llamaTokenizers = []string{"LlamaTokenizer", "LlamaTokenizerFast", "CodeLlamaTokenizer", "CodeLlamaTokenizerFast"}

// applyTokenizerConfig reads the tokenizer_config.json at path, if there
// is one, and for a LLaMA tokenizer class sets the special tokens that
// EncodeSpecial adds from its add_bos_token and add_eos_token, as
// transformers' LlamaTokenizerFast rebuilds its post-processor from them:
// <s> before a prompt unless add_bos_token is false, </s> after it when
// add_eos_token is true. For other classes tokenizer.json's
// post-processor stands, as it does in transformers.
func applyTokenizerConfig(tok *tokenizer.Tokenizer, path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	var c struct {
		Class  string          `json:"tokenizer_class"`
		AddBOS *bool           `json:"add_bos_token"`
		AddEOS *bool           `json:"add_eos_token"`
		BOS    json.RawMessage `json:"bos_token"`
		EOS    json.RawMessage `json:"eos_token"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return fmt.Errorf("hf: %s: %v", path, err)
	}
	if !slices.Contains(llamaTokenizers, c.Class) {
		return nil
	}
	add := func(on *bool, def bool, raw json.RawMessage, name, fallback string) ([]int, error) {
		if on == nil && !def || on != nil && !*on {
			return nil, nil
		}
		tokName, err := specialName(raw, fallback)
		if err != nil {
			return nil, fmt.Errorf("hf: %s: %s: %v", path, name, err)
		}
		id, ok := tok.ID(tokName)
		if !ok {
			return nil, fmt.Errorf("hf: %s: add_%s is on but the tokenizer has no token %q", path, name, tokName)
		}
		return []int{id}, nil
	}
	before, err := add(c.AddBOS, true, c.BOS, "bos_token", "<s>")
	if err != nil {
		return err
	}
	after, err := add(c.AddEOS, false, c.EOS, "eos_token", "</s>")
	if err != nil {
		return err
	}
	return tok.SetTemplate(before, after)
}

// specialName reads a special token of tokenizer_config.json: a string,
// an object with its "content", or absent (fallback).
func specialName(raw json.RawMessage, fallback string) (string, error) {
	if len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return fallback, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var obj struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Content == "" {
		return "", fmt.Errorf("%s is neither a token nor an object with its content", raw)
	}
	return obj.Content, nil
}

// EncodePrompt returns the token ids of a prompt as the model expects to
// see it: with the special tokens that the tokenizer puts around a text
// (tokenizer.EncodeSpecial: LLaMA 2's <s> before it, after
// tokenizer_config.json where it says otherwise), except for those that
// the text already begins or ends with, so that a prompt written with
// its own <s> (or a chat template's <|begin_of_text|>) does not get a
// second one.
func (p *Pretrained) EncodePrompt(text string) []int {
	ids := p.Tokenizer.Encode(text)
	before, after := p.Tokenizer.Template()
	if len(before) > 0 && !hasPrefix(ids, before) {
		ids = append(before, ids...)
	}
	if len(after) > 0 && !hasPrefix(ids[max(0, len(ids)-len(after)):], after) {
		ids = append(ids, after...)
	}
	return ids
}

func hasPrefix(ids, prefix []int) bool {
	return len(ids) >= len(prefix) && slices.Equal(ids[:len(prefix)], prefix)
}

// Embed returns one embedding per text: the mean over its tokens (those
// of [Pretrained.EncodePrompt], special tokens included as
// sentence-transformers tokenizes) of the final hidden states (mean
// pooling, as sentence-transformers does for decoder models without a
// pooling config), as float32 values.
func (p *Pretrained) Embed(texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	var err error
	p.noGrad(func() {
		for i, s := range texts {
			ids := p.EncodePrompt(s)
			if len(ids) == 0 {
				err = fmt.Errorf("hf: Embed: text %d has no tokens", i)
				return
			}
			if len(ids) > p.MaxPositions() {
				err = fmt.Errorf("hf: Embed: text %d has %d tokens; the model reads at most %d", i, len(ids), p.MaxPositions())
				return
			}
			out[i] = p.Hidden(indexTensor(ids).Reshape(1, len(ids)), nil).Mean(1).Float32s()
		}
	})
	return out, err
}

// GenerateText continues prompt (encoded by [Pretrained.EncodePrompt])
// with up to o.MaxTokens tokens and returns the new text. Stop defaults to the model's end-of-sequence tokens when
// nil.
func (p *Pretrained) GenerateText(prompt string, o GenerateOptions) (string, error) {
	ids := p.EncodePrompt(prompt)
	if len(ids) == 0 {
		return "", fmt.Errorf("hf: the prompt has no tokens")
	}
	if o.Stop == nil {
		o.Stop = p.Config.EOSTokens()
	}
	out, err := p.Generate(context.Background(), [][]int{ids}, o)
	if err != nil {
		return "", err
	}
	return p.Tokenizer.Decode(out[0], true)
}
