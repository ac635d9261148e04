package hf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nabla-go/nabla/tokenizer"
)

// Pretrained is a model folder loaded whole: the model and its tokenizer.
type Pretrained struct {
	*Model
	Tokenizer *tokenizer.Tokenizer

	dir string // the folder it was loaded from, for SaveFolder's tokenizer files
}

// Load reads the model folder dir: config.json, the safetensors weights
// and tokenizer.json. The options are LoadModel's.
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
	return &Pretrained{Model: m, Tokenizer: tok, dir: dir}, nil
}

// Embed returns one embedding per text: the mean over its tokens of the
// final hidden states (mean pooling, as sentence-transformers does for
// decoder models without a pooling config), as float32 values.
func (p *Pretrained) Embed(texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	var err error
	p.noGrad(func() {
		for i, s := range texts {
			ids := p.Tokenizer.Encode(s)
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

// GenerateText continues prompt with up to o.MaxTokens tokens and returns
// the new text. Stop defaults to the model's end-of-sequence tokens when
// nil.
func (p *Pretrained) GenerateText(prompt string, o GenerateOptions) (string, error) {
	ids := p.Tokenizer.Encode(prompt)
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
