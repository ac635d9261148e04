package gpt

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
)

// Cache holds the keys and values of every layer for the positions seen
// so far, so that each new token costs one step instead of a rerun of the
// prefix. Len is the number of cached positions.
type Cache struct {
	Len    int
	layers []layerCache
}

type layerCache struct {
	k, v *nabla.Tensor // (N, H, Len, D), nil before the first step
	// outside a graph: buffers with room to grow along the positions,
	// whose first Len positions k and v view, so that a step copies only
	// its new keys and values (a concatenation copies them all)
	kbuf, vbuf *nabla.Tensor
}

// appendKV adds the new keys and values (N, H, T, D) after the cached ones
// and returns all of them.
func (c *layerCache) appendKV(k, v *nabla.Tensor) (*nabla.Tensor, *nabla.Tensor) {
	if c.k != nil && (k.RequiresGrad() || v.RequiresGrad() || c.kbuf == nil) {
		c.k = nabla.Concat([]*nabla.Tensor{c.k, k}, 2)
		c.v = nabla.Concat([]*nabla.Tensor{c.v, v}, 2)
		return c.k, c.v
	}
	if k.RequiresGrad() || v.RequiresGrad() {
		c.k, c.v = k, v
		return k, v
	}
	past, T := 0, k.Size(2)
	if c.k != nil {
		past = c.k.Size(2)
	}
	if c.kbuf == nil || c.kbuf.Size(2) < past+T {
		grow := func(old, x *nabla.Tensor) *nabla.Tensor {
			sh := x.Shape()
			sh[2] = max(2*(past+T), 64)
			b := nabla.Zeros(sh...).To(x.DType())
			if past > 0 {
				b.Slice(2, 0, past, 1).CopyFrom(old.Slice(2, 0, past, 1))
			}
			return b
		}
		c.kbuf, c.vbuf = grow(c.kbuf, k), grow(c.vbuf, v)
	}
	c.kbuf.Slice(2, past, past+T, 1).CopyFrom(k)
	c.vbuf.Slice(2, past, past+T, 1).CopyFrom(v)
	c.k, c.v = c.kbuf.Slice(2, 0, past+T, 1), c.vbuf.Slice(2, 0, past+T, 1)
	return c.k, c.v
}

// NewCache returns an empty cache for g.
func (g *GPT) NewCache() *Cache { return &Cache{layers: make([]layerCache, len(g.Blocks))} }

// Step runs the model on the new tokens idx (N, T) after the cached
// positions, appends their keys and values to c, and returns the logits
// (N, T, Vocab). It panics with a *nabla.ShapeError if the cached and new
// positions exceed the context.
func (g *GPT) Step(idx *nabla.Tensor, c *Cache) *nabla.Tensor { return g.run(idx, c) }

// attendCached is m.Attend(x, x, x) for the new positions x (N, T, E)
// with the keys and values of the earlier positions taken from c, which
// it extends. New query i (position Len+i) sees keys 0..Len+i.
func attendCached(m *nn.MultiheadAttention, x *nabla.Tensor, c *layerCache) *nabla.Tensor {
	N, T, E := x.Size(0), x.Size(1), x.Size(2)
	H := m.NumHeads
	D := E / H
	qkv := nabla.Linear(x, m.InProjWeight, m.InProjBias)
	heads := func(t *nabla.Tensor) *nabla.Tensor { return t.Reshape(N, T, H, D).Permute(0, 2, 1, 3) }
	p := qkv.Split(-1, E, E, E)
	q, k, v := heads(p[0]), heads(p[1]).Contiguous(), heads(p[2]).Contiguous()
	past := 0
	if c.k != nil {
		past = c.k.Size(2)
	}
	k, v = c.appendKV(k, v)
	var mask *nabla.Tensor
	if T > 1 && past > 0 {
		// queries are the last T of past+T positions: key j is seen by
		// query i when j <= past+i
		d := make([]float64, T*(past+T))
		for i := range T {
			for j := past + i + 1; j < past+T; j++ {
				d[i*(past+T)+j] = math.Inf(-1)
			}
		}
		mask = nabla.FromSlice(d, T, past+T).To(x.DType())
	}
	o := nabla.ScaledDotProductAttention(q, k, v, nabla.AttentionOptions{Mask: mask, Causal: T > 1 && past == 0})
	return m.OutProj.Forward(o.Permute(0, 2, 1, 3).Reshape(N, T, E))
}

// Sampler picks the next token from a row of logits.
type Sampler func(logits []float64) int

// Greedy picks the most likely token (the first of equals).
func Greedy(logits []float64) int {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	return best
}

// Sampling returns a Sampler that draws from softmax(logits/temperature)
// restricted to the topK most likely tokens (0: all) and then to the
// smallest set of most likely tokens whose probability reaches topP (0 or
// 1: all), from rng. A temperature of 0 is Greedy.
func Sampling(rng *rand.Rand, temperature float64, topK int, topP float64) Sampler {
	return func(logits []float64) int {
		if temperature == 0 {
			return Greedy(logits)
		}
		idx := make([]int, len(logits))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return logits[idx[a]] > logits[idx[b]] })
		if topK > 0 && topK < len(idx) {
			idx = idx[:topK]
		}
		mx := logits[idx[0]]
		p := make([]float64, len(idx))
		var sum float64
		for i, t := range idx {
			p[i] = math.Exp((logits[t] - mx) / temperature)
			sum += p[i]
		}
		if topP > 0 && topP < 1 {
			var acc float64
			for i := range p {
				acc += p[i] / sum
				if acc >= topP {
					p, idx = p[:i+1], idx[:i+1]
					break
				}
			}
			sum = 0
			for _, v := range p {
				sum += v
			}
		}
		u := rng.Float64() * sum
		for i, v := range p {
			u -= v
			if u < 0 {
				return idx[i]
			}
		}
		return idx[len(idx)-1]
	}
}

// Generate appends n tokens to each row of prompt (N, T) and returns the
// whole sequences (N, T+n) as Int64 token ids. With cached it runs the
// prompt once and then one step per token through a [Cache]; without, it
// reruns the model on the last Context tokens for every new token. Once
// the sequence is longer than the context, a cached step too reruns the
// model on the last Context tokens (learned positions cannot slide), so
// that both give the same tokens; only the tokens within the context are
// cheap. It returns an error if the prompt is empty or longer than the
// context. The model is run without
// recording a graph; set it to evaluation mode (nn.SetTraining) first
// unless dropout is wanted.
func (g *GPT) Generate(prompt *nabla.Tensor, n int, sample Sampler, cached bool) (*nabla.Tensor, error) {
	if prompt.Dim() != 2 || prompt.Size(1) == 0 {
		return nil, fmt.Errorf("gpt: Generate: want a prompt of shape (N, T) with T > 0, got %v", prompt.Shape())
	}
	N, T := prompt.Size(0), prompt.Size(1)
	if T > g.Cfg.Context {
		return nil, fmt.Errorf("gpt: Generate: a prompt of %d tokens exceeds the context of %d", T, g.Cfg.Context)
	}
	seq := make([][]int64, N)
	ids := prompt.Ints()
	for r := range N {
		for _, t := range ids[r*T : (r+1)*T] {
			seq[r] = append(seq[r], int64(t))
		}
	}
	var c *Cache
	if cached {
		c = g.NewCache()
	}
	next := prompt
	var err error
	nn.NoGrad(g, func() {
		for range n {
			var logits *nabla.Tensor
			if cached && c.Len+next.Size(1) <= g.Cfg.Context {
				logits = g.Step(next, c)
			} else {
				// Without a cache, or with a full one: the model on the
				// last Context tokens, as the uncached path does, so
				// that both give the same tokens; the cache restarts
				// from that window (its positions have shifted).
				L := len(seq[0])
				lo := max(0, L-g.Cfg.Context)
				flat := make([]int64, 0, N*(L-lo))
				for r := range N {
					flat = append(flat, seq[r][lo:]...)
				}
				window := nabla.FromSlice(flat, N, L-lo)
				if cached {
					c = g.NewCache()
					logits = g.Step(window, c)
				} else {
					logits = g.Forward(window)
				}
			}
			V := g.Cfg.Vocab
			last := logits.Slice(1, logits.Size(1)-1, logits.Size(1), 1).Float64s()
			col := make([]int64, N)
			for r := range N {
				t := sample(last[r*V : (r+1)*V])
				if t < 0 || t >= V {
					err = fmt.Errorf("gpt: Generate: the sampler chose token %d outside [0, %d)", t, V)
					return
				}
				seq[r] = append(seq[r], int64(t))
				col[r] = int64(t)
			}
			next = nabla.FromSlice(col, N, 1)
		}
	})
	if err != nil {
		return nil, err
	}
	flat := make([]int64, 0, N*(T+n))
	for r := range N {
		flat = append(flat, seq[r]...)
	}
	return nabla.FromSlice(flat, N, T+n), nil
}
