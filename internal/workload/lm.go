package workload

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/models/gpt"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/optim"
	"github.com/nabla-go/nabla/text"
)

// The language-model workloads, the same on both sides
// (bench/torch_bench.py's w6, w7, w8), on Newton's Opticks at character
// level (the vocabulary is the file's distinct characters in code-point
// order; the last 10 % of the tokens are the validation split):
//
//	W6 GPT training: 4 layers, 4 heads, embedding 128, context 128,
//	   batch 32, AdamW lr 3e-4 weight decay 0.01, no dropout, untied head
//	W7 LSTM language model training: embedding 128, 2 layers of 256,
//	   context 64, batch 32, Adam lr 1e-3
//	W8 greedy generation with the W6 architecture at context 512 and its
//	   KV cache: batch 1, a 16-token prompt, 256 new tokens
const (
	w6Layers, w6Heads, w6Embed, w6Context, w6Batch  = 4, 4, 128, 128, 32
	w7Embed, w7Hidden, w7Layers, w7Context, w7Batch = 128, 256, 2, 64, 32
	w8Context, w8Prompt, w8New                      = 512, 16, 256
)

// OpticksPath returns the path of Isaac.Newton-Opticks.txt in the Go
// installation (GOROOT/src/testdata), asking `go env GOROOT` when the
// running binary's GOROOT does not have it.
func OpticksPath() (string, error) {
	roots := []string{runtime.GOROOT()}
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		roots = append(roots, strings.TrimSpace(string(out)))
	}
	for _, r := range roots {
		if r == "" {
			continue
		}
		p := filepath.Join(r, "src", "testdata", "Isaac.Newton-Opticks.txt")
		if _, err := text.ReadFile(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("Isaac.Newton-Opticks.txt is not in GOROOT/src/testdata (looked in %q)", roots)
}

// opticks returns the character-level training and validation token
// streams of Opticks and the vocabulary size.
func opticks(cfg Config) (train, val []int, vocab int, err error) {
	path := cfg.TextFile
	if path == "" {
		if path, err = OpticksPath(); err != nil {
			return nil, nil, 0, err
		}
	}
	s, err := text.ReadFile(path)
	if err != nil {
		return nil, nil, 0, err
	}
	tok := text.NewCharTokenizer(s)
	ids, err := tok.Encode(s)
	if err != nil {
		return nil, nil, 0, err
	}
	train, val, err = text.SplitTokens(ids, 0.1)
	return train, val, tok.VocabSize(), err
}

// tokenIDs returns rows of token ids as an (N, T) tensor in the form the
// models take (float32 today; the one place to change for Int64 ids).
func tokenIDs(rows [][]int) *nabla.Tensor {
	T := len(rows[0])
	d := make([]int64, 0, len(rows)*T)
	for _, r := range rows {
		for _, id := range r {
			d = append(d, int64(id))
		}
	}
	return nabla.FromSlice(d, len(rows), T)
}

// batch draws B windows of T+1 tokens at random starts in ids and returns
// the inputs and the next-token targets.
func batch(rng *rand.Rand, ids []int, B, T int) (x, y *nabla.Tensor) {
	xs, ys := make([][]int, B), make([][]int, B)
	for i := range B {
		s := rng.IntN(len(ids) - T)
		xs[i], ys[i] = ids[s:s+T], ids[s+1:s+T+1]
	}
	return tokenIDs(xs), tokenIDs(ys)
}

// lossModel is a language model trained by W6 and W7.
type lossModel interface {
	nn.Module
	Loss(x, y *nabla.Tensor) *nabla.Tensor
}

// timeSteps runs warm training steps and then steps more, and returns
// the median seconds per step of the latter. Each step's buffers come from
// an arena, recycled for the next step, as nabla train does (and as
// PyTorch's caching allocator does for its side).
func timeSteps(ctx context.Context, m lossModel, opt optim.Optimizer, ids []int, B, T, warm, steps int) (float64, error) {
	rng := rand.New(rand.NewPCG(6, 6))
	nn.SetTraining(m, true)
	ar := nabla.NewArena()
	var per []float64
	for i := range warm + steps {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		x, y := batch(rng, ids, B, T)
		start := time.Now()
		opt.ZeroGrad()
		m.Loss(x.InArena(ar), y).Backward()
		opt.Step()
		ar.Reset()
		if i >= warm {
			per = append(per, time.Since(start).Seconds())
		}
	}
	return median(per), nil
}

// W6Model returns the W6 GPT over vocab tokens with the given context.
func W6Model(vocab, context int) (*gpt.GPT, error) {
	return gpt.New(rand.New(rand.NewPCG(6, 0)), gpt.Config{Vocab: vocab, Context: context,
		Layers: w6Layers, Heads: w6Heads, Embed: w6Embed})
}

// gptTraining measures W6: seconds per step and tokens per second, and,
// when cfg.W6ValSteps > 0, the validation loss after that many steps.
func gptTraining(ctx context.Context, cfg Config, emit func(Result)) error {
	train, val, vocab, err := opticks(cfg)
	if err != nil {
		return err
	}
	g, err := W6Model(vocab, w6Context)
	if err != nil {
		return err
	}
	opt := optim.NewAdamW(g.Params(), optim.AdamConfig{LR: 3e-4, WeightDecay: 0.01})
	warm, steps := 2, 20
	if cfg.Quick {
		warm, steps = 1, 4
	}
	sec, err := timeSteps(ctx, g, opt, train, w6Batch, w6Context, warm, steps)
	if err != nil {
		return err
	}
	emit(Result{Case: "opticks-gpt", Metric: "sec_per_step", Unit: "s", Value: sec})
	emit(Result{Case: "opticks-gpt", Metric: "tokens_per_sec", Unit: "tokens/s", Value: w6Batch * w6Context / sec})
	if cfg.W6ValSteps > 0 {
		loss, err := w6ValLoss(ctx, vocab, train, val, cfg.W6ValSteps)
		if err != nil {
			return err
		}
		emit(Result{Case: "opticks-gpt-" + strconv.Itoa(cfg.W6ValSteps) + "steps", Metric: "val_loss", Unit: "nats", Value: loss})
	}
	return nil
}

// The W6 validation run is the same computation on both sides: its
// initial weights and its batches come from a counter-based generator,
// splitmix64, that bench/torch_bench.py computes identically, so that the
// two validation losses differ by the implementations alone, not by the
// random draws (with their own generators, the two sides start from
// different weights and see different windows).

// splitmix64 is the finaliser of the SplitMix64 generator: a bijection of
// the 64-bit integers that scrambles consecutive counters.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// fnv1a64 is the 64-bit FNV-1a hash of s: each parameter's stream key.
func fnv1a64(s string) uint64 {
	h := uint64(0xcbf29ce484222325)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 0x100000001b3
	}
	return h
}

// w6ValStart is the start of window i of step s of the validation run's
// batches, in [0, n).
func w6ValStart(step, i, n int) int {
	return int(splitmix64(uint64(step*w6Batch+i)) % uint64(n))
}

// w6ValInit sets g's parameters as gpt.New distributes them (GPT-2's
// initialisation) but drawn from the counter-based generator: element j
// of parameter p is N(0, σ²) by Box-Muller from the uniforms of counters
// 2j and 2j+1 of the stream keyed by p's name.
func w6ValInit(g *gpt.GPT) {
	for _, p := range g.Params() {
		d := p.Tensor.Data32()
		std := 0.02
		switch {
		case p.Tensor.Dim() == 1 && strings.Contains(p.Name, "ln_") && strings.HasSuffix(p.Name, ".weight"):
			std = -1 // ones
		case p.Tensor.Dim() == 1:
			std = 0
		case strings.HasSuffix(p.Name, "out_proj.weight") || strings.HasSuffix(p.Name, "mlp.2.weight"):
			std = 0.02 / math.Sqrt(2*float64(g.Cfg.Layers))
		}
		key := fnv1a64(p.Name)
		for j := range d {
			switch std {
			case -1:
				d[j] = 1
			case 0:
				d[j] = 0
			default:
				u1 := float64(splitmix64(key+uint64(2*j))>>11+1) / (1 << 53)
				u2 := float64(splitmix64(key+uint64(2*j+1))>>11) / (1 << 53)
				d[j] = float32(std * math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2))
			}
		}
	}
}

// w6ValLoss trains a W6 model from w6ValInit's weights on the scheduled
// batches for steps steps and returns its mean loss over the disjoint
// validation windows (at most 64 batches of 32).
func w6ValLoss(ctx context.Context, vocab int, train, val []int, steps int) (float64, error) {
	g, err := W6Model(vocab, w6Context)
	if err != nil {
		return 0, err
	}
	w6ValInit(g)
	opt := optim.NewAdamW(g.Params(), optim.AdamConfig{LR: 3e-4, WeightDecay: 0.01})
	T := w6Context
	nn.SetTraining(g, true)
	ar := nabla.NewArena()
	for step := range steps {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		xs, ys := make([][]int, w6Batch), make([][]int, w6Batch)
		for i := range w6Batch {
			s := w6ValStart(step, i, len(train)-T)
			xs[i], ys[i] = train[s:s+T], train[s+1:s+T+1]
		}
		opt.ZeroGrad()
		g.Loss(tokenIDs(xs).InArena(ar), tokenIDs(ys)).Backward()
		opt.Step()
		ar.Reset()
	}
	nn.SetTraining(g, false)
	var sum float64
	n := 0
	for s := 0; s+T+1 <= len(val) && n < 64*w6Batch; s += w6Batch * T {
		var xs, ys [][]int
		for i := s; i < s+w6Batch*T && i+T+1 <= len(val); i += T {
			xs, ys = append(xs, val[i:i+T]), append(ys, val[i+1:i+T+1])
		}
		nn.NoGrad(g, func() { sum += g.Loss(tokenIDs(xs), tokenIDs(ys)).Float64s()[0] * float64(len(xs)) })
		n += len(xs)
	}
	return sum / float64(n), nil
}

// lstmTraining measures W7: seconds per step.
func lstmTraining(ctx context.Context, cfg Config, emit func(Result)) error {
	train, _, vocab, err := opticks(cfg)
	if err != nil {
		return err
	}
	m := nn.NewLSTMLanguageModel(rand.New(rand.NewPCG(7, 0)), vocab, w7Embed, w7Hidden, w7Layers, 0)
	opt := optim.NewAdam(m.Params(), optim.AdamConfig{LR: 1e-3})
	warm, steps := 2, 20
	if cfg.Quick {
		warm, steps = 1, 4
	}
	sec, err := timeSteps(ctx, m, opt, train, w7Batch, w7Context, warm, steps)
	if err != nil {
		return err
	}
	emit(Result{Case: "opticks-lstm", Metric: "sec_per_step", Unit: "s", Value: sec})
	return nil
}

// gptGeneration measures W8: new tokens per second of greedy generation
// with the KV cache (the prompt's one step included in the time).
func gptGeneration(ctx context.Context, cfg Config, emit func(Result)) error {
	train, _, vocab, err := opticks(cfg)
	if err != nil {
		return err
	}
	g, err := W6Model(vocab, w8Context)
	if err != nil {
		return err
	}
	nn.SetTraining(g, false)
	prompt := tokenIDs([][]int{train[:w8Prompt]})
	reps, n := 3, w8New
	if cfg.Quick {
		reps, n = 1, 64
	}
	if _, err := g.Generate(prompt, 2, gpt.Greedy, true); err != nil { // warm-up
		return err
	}
	var per []float64
	for range reps {
		if err := ctx.Err(); err != nil {
			return err
		}
		start := time.Now()
		if _, err := g.Generate(prompt, n, gpt.Greedy, true); err != nil {
			return err
		}
		per = append(per, float64(n)/time.Since(start).Seconds())
	}
	emit(Result{Case: "opticks-gpt-prompt16-new" + strconv.Itoa(n), Metric: "tokens_per_sec", Unit: "tokens/s", Value: median(per)})
	return nil
}
