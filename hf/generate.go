package hf

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/nabla-go/nabla"
)

// Sampling says how the next token is chosen from the logits. The zero
// value is greedy decoding.
type Sampling struct {
	// Temperature divides the logits; 0 means greedy (the most likely
	// token).
	Temperature float64
	// TopK keeps only the K most likely tokens (0: all).
	TopK int
	// TopP keeps the smallest set of most likely tokens whose
	// probabilities add up to at least TopP (0 or 1: all), as nucleus
	// sampling.
	TopP float64
	// RepetitionPenalty > 1 makes tokens already in the sequence less
	// likely, as transformers' RepetitionPenaltyLogitsProcessor: a
	// positive logit is divided by it, a negative one multiplied (0 or 1:
	// off).
	RepetitionPenalty float64
	// Rng draws the samples; it is required when Temperature > 0.
	Rng *rand.Rand
}

// GenerateOptions are the arguments of [Model.Generate].
type GenerateOptions struct {
	// MaxTokens is the number of new tokens per prompt, at most.
	MaxTokens int
	// Stop lists the token ids that end a sequence (they are returned
	// as its last token). Nil means none; use Config.EOSTokens for the
	// model's own.
	Stop []int
	Sampling
	// OnToken, if not nil, is called with each row's new token as soon as
	// it is chosen (row is the prompt's index), for streaming. Returning
	// false stops that row.
	OnToken func(row, token int) bool
}

// Generate continues each prompt (token ids) with up to o.MaxTokens new
// tokens, all prompts in one batch, left-padded to the longest, with a
// key-value cache: the prompts are run once and then each new token costs
// one step. It returns the new tokens of each prompt. It stops early when
// ctx is done, returning what it has and ctx's error.
func (m *Model) Generate(ctx context.Context, prompts [][]int, o GenerateOptions) ([][]int, error) {
	if len(prompts) == 0 {
		return nil, nil
	}
	if o.Temperature > 0 && o.Rng == nil {
		return nil, fmt.Errorf("hf: Generate: sampling at temperature %v needs an Rng", o.Temperature)
	}
	if o.Temperature < 0 || o.TopK < 0 || o.TopP < 0 || o.TopP > 1 || o.RepetitionPenalty < 0 || o.MaxTokens < 0 {
		return nil, fmt.Errorf("hf: Generate: invalid options (temperature %v, top-k %d, top-p %v, repetition penalty %v, max tokens %d)", o.Temperature, o.TopK, o.TopP, o.RepetitionPenalty, o.MaxTokens)
	}
	B := len(prompts)
	longest := 0
	for i, p := range prompts {
		if len(p) == 0 {
			return nil, fmt.Errorf("hf: Generate: prompt %d is empty", i)
		}
		for _, id := range p {
			if id < 0 || id >= m.Config.VocabSize {
				return nil, fmt.Errorf("hf: Generate: prompt %d has token id %d, outside the vocabulary of %d", i, id, m.Config.VocabSize)
			}
		}
		longest = max(longest, len(p))
	}
	if longest+o.MaxTokens > m.MaxPositions() {
		return nil, fmt.Errorf("hf: Generate: a prompt of %d tokens and %d new ones need %d positions; the model has %d", longest, o.MaxTokens, longest+o.MaxTokens, m.MaxPositions())
	}
	pads := make([]int, B)
	ids := make([]int, B*longest)
	for b, p := range prompts {
		pads[b] = longest - len(p)
		copy(ids[b*longest+pads[b]:], p)
		// padding takes the prompt's first token: any valid id will do,
		// since no real position attends to it
		for j := range pads[b] {
			ids[b*longest+j] = p[0]
		}
	}
	out := make([][]int, B)
	done := make([]bool, B)
	seen := make([][]int, B) // for the repetition penalty
	for b, p := range prompts {
		seen[b] = slices.Clone(p)
	}
	// logits returns the logits (B×V) of the last of the T new tokens of
	// each row, valid until its next call
	var logits func(ids []int, T int) []float32
	if f := m.newFastGen(B, longest+o.MaxTokens, pads); f != nil {
		// a LLaMA-style model generates outside the tensor ops (decode.go)
		defer f.release()
		logits = f.step
	} else {
		cache := m.NewCache(pads)
		// each step's activations are recycled once its logits are
		// read: generation allocates (and the GC scans) next to nothing
		// per token
		ar, _ := m.arenas.Get().(*nabla.Arena)
		if ar == nil {
			ar = nabla.NewArena()
		}
		defer m.arenas.Put(ar)
		cache.arena = ar
		logits = func(ids []int, T int) []float32 {
			// only the last position's logits are needed (a prompt's
			// others would cost a product of every position with the
			// head)
			h := m.Hidden(indexTensor(ids).Reshape(B, T), cache)
			all := m.Logits(h.Slice(1, T-1, T, 1)).Float32s() // a copy
			cache.arena.Reset()
			return all
		}
	}
	var err error
	m.noGrad(func() {
		step, T := ids, longest
		V := m.Config.VocabSize
		for range o.MaxTokens {
			if err = ctx.Err(); err != nil {
				return
			}
			all := logits(step, T)
			next := make([]int, B)
			for b := range B {
				if done[b] {
					next[b] = out[b][len(out[b])-1]
					continue
				}
				row := all[b*V:][:V]
				next[b] = o.pick(row, seen[b])
				out[b] = append(out[b], next[b])
				seen[b] = append(seen[b], next[b])
				keep := o.OnToken == nil || o.OnToken(b, next[b])
				if !keep || slices.Contains(o.Stop, next[b]) {
					done[b] = true
				}
			}
			if !slices.Contains(done, false) {
				return
			}
			step, T = next, 1
		}
	})
	return out, err
}

// noGrad runs f without recording a graph. When no parameter requires a
// gradient (a loaded model that is not being fine-tuned) there is nothing
// to switch off and f runs as it is: nabla.NoGrad writes the leaves'
// flags, which would be a data race when several goroutines generate with
// one model, as a server does.
func (m *Model) noGrad(f func()) {
	for _, t := range m.leaves() {
		if t.RequiresGrad() {
			nabla.NoGrad(f, m.leaves()...)
			return
		}
	}
	f()
}

func (m *Model) leaves() []*nabla.Tensor {
	ts := make([]*nabla.Tensor, 0, len(m.params)+2*len(m.lora))
	for _, p := range m.params {
		ts = append(ts, p.Tensor)
	}
	for _, p := range m.LoRAParams() {
		ts = append(ts, p.Tensor)
	}
	return ts
}

// pick chooses the next token from one row of logits.
func (s *Sampling) pick(logits []float32, seen []int) int {
	if p := s.RepetitionPenalty; p > 0 && p != 1 {
		logits = slices.Clone(logits)
		for _, id := range seen {
			if logits[id] > 0 {
				logits[id] /= float32(p)
			} else {
				logits[id] *= float32(p)
			}
		}
	}
	if s.Temperature == 0 {
		return argmaxFirst(logits)
	}
	type cand struct {
		id int
		p  float64
	}
	cs := make([]cand, len(logits))
	hi := math.Inf(-1)
	for i, l := range logits {
		cs[i] = cand{i, float64(l) / s.Temperature}
		hi = max(hi, cs[i].p)
	}
	// most likely first; equal logits keep id order, so that a seed gives
	// the same tokens everywhere
	slices.SortStableFunc(cs, func(a, b cand) int {
		switch {
		case a.p > b.p:
			return -1
		case a.p < b.p:
			return 1
		}
		return 0
	})
	if s.TopK > 0 && s.TopK < len(cs) {
		cs = cs[:s.TopK]
	}
	total := 0.0
	for i := range cs {
		cs[i].p = math.Exp(cs[i].p - hi)
		total += cs[i].p
	}
	if s.TopP > 0 && s.TopP < 1 {
		acc := 0.0
		for i := range cs {
			acc += cs[i].p / total
			if acc >= s.TopP {
				cs = cs[:i+1]
				break
			}
		}
		total = 0
		for _, c := range cs {
			total += c.p
		}
	}
	r := s.Rng.Float64() * total
	for _, c := range cs {
		if r -= c.p; r < 0 {
			return c.id
		}
	}
	return cs[len(cs)-1].id
}

// argmaxFirst returns the index of the largest value, the first of equal
// ones (as torch.argmax).
func argmaxFirst(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
