package hf

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/optim"
	"github.com/nabla-go/nabla/safetensors"
)

// weightBytes returns the bytes the parameters hold, by dtype.
func weightBytes(m *Model) map[nabla.DType]int {
	out := map[nabla.DType]int{}
	for _, p := range m.Params() {
		out[p.Tensor.DType()] += p.Tensor.Len() * p.Tensor.DType().Size()
	}
	return out
}

// TestBFloat16Storage loads the bfloat16 reference model keeping its
// matrices in bfloat16: the logits must still match PyTorch's (which
// computes in float32 from the same bfloat16 values), greedy decoding must
// give PyTorch's tokens with and without the cache, and the matrices must
// take half the memory of the float32 load.
func TestBFloat16Storage(t *testing.T) {
	dir := filepath.Join("testdata", "llama-tiny-bf16")
	m, err := LoadModel(dir, WeightDType(nabla.BFloat16))
	if err != nil {
		t.Fatal(err)
	}
	f32, err := LoadModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params() {
		want := nabla.Float32
		if len(p.Tensor.Shape()) == 2 {
			want = nabla.BFloat16
		}
		if p.Tensor.DType() != want {
			t.Errorf("%s: dtype %v; want %v", p.Name, p.Tensor.DType(), want)
		}
	}
	b16, b32 := weightBytes(m), weightBytes(f32)
	total := b16[nabla.BFloat16] + b16[nabla.Float32]
	t.Logf("weights: %d bytes in bfloat16 + float32, %d in float32", total, b32[nabla.Float32])
	if 100*total > 55*b32[nabla.Float32] {
		t.Errorf("bfloat16 storage takes %d bytes, more than 55%% of float32's %d", total, b32[nabla.Float32])
	}
	ref := loadReference(t, dir)
	for i, p := range ref.Prompts {
		all := m.Forward(ids2D(p.IDs)).Float32s()
		if r := worstRel(all[len(all)-m.Config.VocabSize:], p.LastLogits); r > 1e-4 {
			t.Errorf("prompt %d: last logits differ from PyTorch's by %.2g relative", i, r)
		}
		if got := greedyUncached(m, p.IDs, len(p.Greedy)); !slices.Equal(got, p.Greedy) {
			t.Errorf("prompt %d: greedy %v; PyTorch %v", i, got, p.Greedy)
		}
		out, err := m.Generate(context.Background(), [][]int{p.IDs}, GenerateOptions{MaxTokens: len(p.Greedy)})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(out[0], p.Greedy) {
			t.Errorf("prompt %d: cached greedy %v; PyTorch %v", i, out[0], p.Greedy)
		}
	}
}

// TestBFloat16FromFloat32 rounds float32 checkpoints to bfloat16 on load
// (both families, GPT-2's Conv1D layout too): the logits stay within
// bfloat16 rounding of the float32 model's, and cached generation equals
// uncached greedy decoding of the same model.
func TestBFloat16FromFloat32(t *testing.T) {
	for _, name := range []string{"gpt2-tiny", "qwen2-tiny"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", name)
			m, err := LoadModel(dir, WeightDType(nabla.BFloat16))
			if err != nil {
				t.Fatal(err)
			}
			f32, err := LoadModel(dir)
			if err != nil {
				t.Fatal(err)
			}
			ref := loadReference(t, dir)
			p := ref.Prompts[0]
			got := m.Forward(ids2D(p.IDs)).Float32s()
			want := f32.Forward(ids2D(p.IDs)).Float32s()
			w64 := make([]float64, len(want))
			for i, v := range want {
				w64[i] = float64(v)
			}
			r := worstRel(got, w64)
			t.Logf("bfloat16 weights: logits within %.2g relative of float32's", r)
			if r > 3e-2 || r == 0 {
				t.Errorf("logits differ by %.2g relative; want a bfloat16 rounding effect, nonzero and below 3e-2", r)
			}
			out, err := m.Generate(context.Background(), [][]int{p.IDs}, GenerateOptions{MaxTokens: 8})
			if err != nil {
				t.Fatal(err)
			}
			if g := greedyUncached(m, p.IDs, 8); !slices.Equal(out[0], g) {
				t.Errorf("cached %v; uncached %v", out[0], g)
			}
		})
	}
}

// TestBFloat16Training: full fine-tuning of bfloat16 weights is refused
// with a message that names the way out; LoRA adapters train on them, and
// merging keeps the weights bfloat16.
func TestBFloat16Training(t *testing.T) {
	p, err := Load(filepath.Join("testdata", "llama-tiny-bf16"), WeightDType(nabla.BFloat16))
	if err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			var ve *nabla.ValueError
			if e, _ := recover().(error); !errors.As(e, &ve) {
				t.Errorf("SetTrainable(true) on bfloat16 weights: panic %v; want a *nabla.ValueError", e)
			}
		}()
		p.SetTrainable(true)
	}()
	ids := batchOf(t, p, 16)
	if err := p.AddLoRA(LoRAConfig{Rank: 4, Alpha: 8}, rand.New(rand.NewPCG(1, 2))); err != nil {
		t.Fatal(err)
	}
	opt := optim.NewAdamW(p.LoRAParams(), optim.AdamConfig{LR: 1e-2})
	first, last := train(t, p.Model, opt, ids, 8)
	t.Logf("loss %.4f -> %.4f in 8 LoRA steps on bfloat16 weights", first, last)
	if !(last < first) {
		t.Errorf("LoRA on bfloat16 weights did not lower the loss: %.4f -> %.4f", first, last)
	}
	before := logitsOf(p.Model, ids)
	p.MergeLoRA()
	if dt := p.w("model.layers.0.self_attn.q_proj.weight").DType(); dt != nabla.BFloat16 {
		t.Errorf("merged weight is %v; want bfloat16", dt)
	}
	after := logitsOf(p.Model, ids)
	w64 := make([]float64, len(before))
	for i, v := range before {
		w64[i] = float64(v)
	}
	if r := worstRel(after, w64); r > 3e-2 {
		t.Errorf("merged model's logits differ by %.2g relative from the adapted model's", r)
	}
}

func TestWeightDTypeRefused(t *testing.T) {
	_, err := LoadModel(filepath.Join("testdata", "llama-tiny"), WeightDType(nabla.Float16))
	if err == nil {
		t.Fatal("WeightDType(Float16) was accepted")
	}
	t.Log(err)
}

// TestBFloat16Memory writes a bfloat16 checkpoint of 17 M parameters and
// measures the heap its model holds once loaded: about the file's size
// with WeightDType(BFloat16), twice it in float32.
func TestBFloat16Memory(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("writes and reads a 34 MB checkpoint (slow under -race; the race run has the other bfloat16 tests)")
	}
	untied := false
	cfg := &Config{ModelType: "llama", VocabSize: 32000, HiddenSize: 256, IntermediateSize: 512, NumHiddenLayers: 2,
		NumAttentionHeads: 4, NumKeyValueHeads: 2, MaxPositionEmbeddings: 64, RMSNormEps: 1e-5, RopeTheta: 10000, TieWordEmbeddings: &untied}
	dir := t.TempDir()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cfg.check(); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	var ts []safetensors.Tensor
	fileBytes := 0
	for _, s := range (&Model{Config: cfg, family: Llama}).specs() {
		n := 1
		for _, d := range s.shape {
			n *= d
		}
		bits := make([]uint16, n)
		for i := range bits {
			bits[i] = uint16(math.Float32bits(float32(rng.NormFloat64()*0.02)) >> 16)
		}
		ts = append(ts, safetensors.FromBFloat16Bits(s.name, s.shape, bits))
		fileBytes += 2 * n
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	ts = nil
	heapOf := func(opts ...Option) (int, *Model) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m, err := LoadModel(dir, opts...)
		if err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		return int(after.HeapAlloc) - int(before.HeapAlloc), m
	}
	h16, m16 := heapOf(WeightDType(nabla.BFloat16))
	h32, m32 := heapOf()
	t.Logf("file %.1f MB; heap of the loaded model: bfloat16 %.1f MB, float32 %.1f MB", float64(fileBytes)/1e6, float64(h16)/1e6, float64(h32)/1e6)
	if float64(h16) > 1.15*float64(fileBytes) {
		t.Errorf("the bfloat16 model holds %d bytes of heap, more than 1.15 × the file's %d", h16, fileBytes)
	}
	if float64(h32) < 1.8*float64(fileBytes) {
		t.Errorf("the float32 model holds %d bytes; expected about twice the file's %d (is the measurement right?)", h32, fileBytes)
	}
	runtime.KeepAlive(m16)
	runtime.KeepAlive(m32)
}
