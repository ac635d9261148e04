package hf_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/nabla-go/nabla/hf"
	"github.com/nabla-go/nabla/optim"
)

// Fine-tune LoRA adapters on a little text, merge them and save the model
// as a Hugging Face folder.
func ExamplePretrained_AddLoRA() {
	p, err := hf.Load(filepath.Join("testdata", "llama-tiny"))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := p.AddLoRA(hf.LoRAConfig{Rank: 4, Alpha: 8}, rand.New(rand.NewPCG(1, 1))); err != nil {
		fmt.Println(err)
		return
	}
	opt := optim.NewAdamW(p.LoRAParams(), optim.AdamConfig{LR: 1e-2})
	text := "Of the Refractions of Light, and the Colours which they exhibit in a Prism."
	batch, err := p.TokenBatch(p.Tokenizer.Encode(text), 8)
	if err != nil {
		fmt.Println(err)
		return
	}
	var first, last float64
	for i := range 10 {
		opt.ZeroGrad()
		loss := p.Loss(batch)
		if i == 0 {
			first = loss.Item()
		}
		last = loss.Item()
		loss.Backward()
		opt.Step()
	}
	fmt.Println("adapter tensors:", len(p.LoRAParams()), "loss fell:", last < first)
	p.MergeLoRA()
	dir, _ := os.MkdirTemp("", "tuned")
	defer os.RemoveAll(dir)
	if err := p.SaveFolder(dir); err != nil {
		fmt.Println(err)
		return
	}
	q, err := hf.Load(dir)
	fmt.Println("reloaded:", err == nil, q.Config.ModelType)
	// Output:
	// adapter tensors: 16 loss fell: true
	// reloaded: true llama
}
