package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/hf"
)

const generateUsage = `generate --hf DIR --prompt TEXT [flags]

Continues a prompt with a pretrained language model and prints the new text as it is
generated. DIR is a Hugging Face model folder (config.json, model.safetensors or its
shards, tokenizer.json) of a GPT-2, LLaMA, Qwen2 or Mistral model, e.g. one downloaded with

  huggingface-cli download Qwen/Qwen2.5-0.5B --local-dir DIR

The default is greedy decoding (--temperature 0); --temperature with --top-k, --top-p and
--seed samples. Generation stops after --tokens tokens or at the model's end-of-text token.
--dtype bfloat16 keeps the weight matrices in bfloat16 (half the memory of float32; the
model still computes in float32).`

// weightDType turns a --dtype flag into hf's option.
func weightDType(s string) (hf.Option, error) {
	switch s {
	case "float32", "f32":
		return hf.WeightDType(nabla.Float32), nil
	case "bfloat16", "bf16":
		return hf.WeightDType(nabla.BFloat16), nil
	}
	return nil, usagef("invalid value %q for --dtype: want float32 or bfloat16", s)
}

// genFlags are generate's decoding flags, shared by --hf and --checkpoint.
type genFlags struct {
	prompt            string
	tokens            int
	temperature, topP float64
	topK              int
	repetitionPenalty float64
	seed              uint64
	stats             bool
}

// sampling returns the flags as hf's sampling options.
func (g *genFlags) sampling() hf.Sampling {
	s := hf.Sampling{Temperature: g.temperature, TopK: g.topK, TopP: g.topP, RepetitionPenalty: g.repetitionPenalty}
	if g.temperature > 0 {
		s.Rng = rand.New(rand.NewPCG(g.seed, 1))
	}
	return s
}

// generateCheckpoint generates with a model that nabla train saved (the
// sequence models); nil while this build has none, and --checkpoint is
// then refused with a message that says so.
var generateCheckpoint func(ctx context.Context, checkpoint string, g genFlags, stdout, stderr io.Writer) error

func runGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var dir, ckpt, dtype string
	var g genFlags
	fs := newFlags("generate", generateUsage, stdout)
	fs.StringVar(&dir, "hf", "", "a Hugging Face model folder")
	fs.StringVar(&dtype, "dtype", "float32", "dtype of the weight matrices of --hf: float32 or bfloat16")
	fs.StringVar(&ckpt, "checkpoint", "", "a train run's output folder (a sequence model trained by nabla train)")
	fs.StringVar(&g.prompt, "prompt", "", "the text to continue")
	fs.IntVar(&g.tokens, "tokens", 64, "new tokens to generate, at most")
	fs.Float64Var(&g.temperature, "temperature", 0, "sampling temperature; 0 is greedy decoding")
	fs.IntVar(&g.topK, "top-k", 0, "sample from the K most likely tokens only (0: all)")
	fs.Float64Var(&g.topP, "top-p", 1, "sample from the most likely tokens whose probabilities add up to P (1: all)")
	fs.Float64Var(&g.repetitionPenalty, "repetition-penalty", 1, "make tokens already in the text less likely (1: off; 1.1 to 1.3 is typical)")
	fs.Uint64Var(&g.seed, "seed", 1, "random seed of the sampling")
	fs.BoolVar(&g.stats, "stats", false, "print the tokens and tokens per second to stderr at the end")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (quote the prompt: --prompt \"...\")", fs.Arg(0))
	}
	switch {
	case dir != "" && ckpt != "":
		return usagef("give --hf or --checkpoint, not both")
	case dir == "" && ckpt == "":
		return usagef("--hf DIR (a Hugging Face model folder) or --checkpoint RUN is required")
	case g.prompt == "":
		return usagef("--prompt is required")
	case g.tokens < 1:
		return usagef("invalid value %d for --tokens: want 1 or more", g.tokens)
	case !(g.temperature >= 0):
		return usagef("invalid value %v for --temperature: want 0 or more", g.temperature)
	case g.topK < 0:
		return usagef("invalid value %d for --top-k: want 0 or more", g.topK)
	case !(g.topP > 0 && g.topP <= 1):
		return usagef("invalid value %v for --top-p: want more than 0 and at most 1", g.topP)
	case !(g.repetitionPenalty > 0):
		return usagef("invalid value %v for --repetition-penalty: want more than 0", g.repetitionPenalty)
	}
	wdt, err := weightDType(dtype)
	if err != nil {
		return err
	}
	if ckpt != "" {
		if generateCheckpoint == nil {
			return errors.New("--checkpoint: generating with a model trained by nabla train is not implemented in this build yet; use --hf DIR with a Hugging Face model folder")
		}
		return generateCheckpoint(ctx, ckpt, g, stdout, stderr)
	}
	p, err := hf.Load(dir, wdt)
	if err != nil {
		return err
	}
	ids := p.EncodePrompt(g.prompt) // with <s> where the tokenizer adds it
	if len(ids) == 0 {
		return usagef("--prompt has no tokens")
	}
	o := hf.GenerateOptions{MaxTokens: g.tokens, Stop: p.Config.EOSTokens(), Sampling: g.sampling()}
	ts := hf.NewTextStream(p.Tokenizer)
	var writeErr error
	n := 0
	o.OnToken = func(_, tok int) bool {
		n++
		if slices.Contains(o.Stop, tok) {
			return false
		}
		piece, err := ts.Add(tok)
		if err == nil && piece != "" {
			_, writeErr = io.WriteString(stdout, piece)
		}
		return writeErr == nil
	}
	start := time.Now()
	_, err = p.Generate(ctx, [][]int{ids}, o)
	elapsed := time.Since(start)
	if writeErr == nil {
		_, writeErr = io.WriteString(stdout, ts.Flush()+"\n")
	}
	switch {
	case ctx.Err() != nil:
		fmt.Fprintf(stderr, "nabla generate: interrupted after %d tokens\n", n)
		return errInterrupted
	case err != nil:
		return err
	case writeErr != nil:
		return writeErr
	}
	if g.stats {
		fmt.Fprintf(stderr, "%d prompt tokens, %d new tokens in %v: %.1f tokens/s\n", len(ids), n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
	}
	return nil
}
