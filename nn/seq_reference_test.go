package nn_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
)

// testdata/seq.json comes from bench/reference/make_seq_reference.py,
// which runs PyTorch 1.13's MultiheadAttention and Transformer layers
// (and the formulas of RMSNorm, rotary and sinusoidal embeddings) in
// float64 with every parameter redrawn, dropout 0. These tests build the
// same modules in nabla, load PyTorch's parameters by their state_dict
// names (which must be exactly nabla's), and compare outputs, attention
// weights and the gradients of inputs and parameters.

type seqCase struct {
	Name       string
	Kind       string
	Config     map[string]any
	Params     map[string]refTensor
	Inputs     map[string]refTensor
	Masks      map[string]refTensor
	Upstream   refTensor
	Output     refTensor
	Weights    *refTensor
	Grads      map[string]refTensor
	InputGrads map[string]refTensor `json:"input_grads"`

	boolMasks bool // pass the masks that are 0 and -Inf only as Bool masks
}

func (c seqCase) int(k string) int    { return int(c.Config[k].(float64)) }
func (c seqCase) bool(k string) bool  { b, _ := c.Config[k].(bool); return b }
func (c seqCase) str(k string) string { s, _ := c.Config[k].(string); return s }

func (c seqCase) mask(name string) *nabla.Tensor {
	m, ok := c.Masks[name]
	if !ok {
		return nil
	}
	t := m.tensor(nabla.Float64)
	if c.boolMasks && zeroOrInf(m.Data) {
		return t.Equal(nabla.FullOf(nabla.Float64, math.Inf(-1)))
	}
	return t
}

// zeroOrInf reports whether a float mask is a Bool mask in disguise.
func zeroOrInf(d []float64) bool {
	for _, v := range d {
		if v != 0 && !math.IsInf(v, -1) {
			return false
		}
	}
	return true
}

// hasBoolMask reports whether some mask of the case can be given as Bool.
func (c seqCase) hasBoolMask() bool {
	for _, m := range c.Masks {
		if zeroOrInf(m.Data) {
			return true
		}
	}
	return false
}

func (c seqCase) tcfg() nn.TransformerConfig {
	return nn.TransformerConfig{DimFeedforward: c.int("dim_feedforward"), Activation: c.str("activation"),
		BatchFirst: c.bool("batch_first"), NormFirst: c.bool("norm_first")}
}

// build returns the nabla module for a case and the function that runs
// it on the inputs (by name), giving the output and the weights (or nil).
func (c seqCase) build(rng *rand.Rand) (nn.Module, func(in map[string]*nabla.Tensor) (*nabla.Tensor, *nabla.Tensor)) {
	E, H := 0, 0
	if _, ok := c.Config["d_model"]; ok {
		E, H = c.int("d_model"), c.int("nhead")
	}
	switch c.Kind {
	case "MultiheadAttention":
		E, H := c.int("embed_dim"), c.int("num_heads")
		m := nn.NewMultiheadAttention(rng, E, H, nn.MHAConfig{NoBias: !c.bool("bias"), AddBiasKV: c.bool("add_bias_kv"),
			KDim: c.int("kdim"), VDim: c.int("vdim"), BatchFirst: c.bool("batch_first")})
		return m, func(in map[string]*nabla.Tensor) (*nabla.Tensor, *nabla.Tensor) {
			return m.Attend(in["query"], in["key"], in["value"], nn.AttendOptions{AttnMask: c.mask("attn_mask"), KeyPaddingMask: c.mask("key_padding_mask"),
				NeedWeights: c.bool("need_weights"), PerHeadWeights: !c.bool("average_attn_weights")})
		}
	case "TransformerEncoderLayer":
		m := nn.NewTransformerEncoderLayer(rng, E, H, c.tcfg())
		return m, func(in map[string]*nabla.Tensor) (*nabla.Tensor, *nabla.Tensor) {
			return m.Encode(in["src"], nn.MaskOptions{AttnMask: c.mask("src_mask"), KeyPaddingMask: c.mask("src_key_padding_mask")}), nil
		}
	case "TransformerDecoderLayer":
		m := nn.NewTransformerDecoderLayer(rng, E, H, c.tcfg())
		return m, func(in map[string]*nabla.Tensor) (*nabla.Tensor, *nabla.Tensor) {
			return m.Decode(in["tgt"], in["memory"], nn.DecodeOptions{Tgt: nn.MaskOptions{AttnMask: c.mask("tgt_mask")},
				Memory: nn.MaskOptions{KeyPaddingMask: c.mask("memory_key_padding_mask")}}), nil
		}
	case "TransformerEncoder":
		ls := make([]*nn.TransformerEncoderLayer, c.int("num_layers"))
		for i := range ls {
			ls[i] = nn.NewTransformerEncoderLayer(rng, E, H, c.tcfg())
		}
		var norm *nn.LayerNorm
		if c.bool("norm") {
			norm = nn.NewLayerNorm(E)
		}
		m := nn.NewTransformerEncoder(ls, norm)
		return m, func(in map[string]*nabla.Tensor) (*nabla.Tensor, *nabla.Tensor) {
			return m.Encode(in["src"], nn.MaskOptions{KeyPaddingMask: c.mask("src_key_padding_mask")}), nil
		}
	case "TransformerDecoder":
		ls := make([]*nn.TransformerDecoderLayer, c.int("num_layers"))
		for i := range ls {
			ls[i] = nn.NewTransformerDecoderLayer(rng, E, H, c.tcfg())
		}
		m := nn.NewTransformerDecoder(ls, nil)
		return m, func(in map[string]*nabla.Tensor) (*nabla.Tensor, *nabla.Tensor) {
			return m.Decode(in["tgt"], in["memory"], nn.DecodeOptions{Tgt: nn.MaskOptions{AttnMask: c.mask("tgt_mask")}}), nil
		}
	case "Transformer":
		m := nn.NewTransformer(rng, E, H, c.int("num_encoder_layers"), c.int("num_decoder_layers"), c.tcfg())
		return m, func(in map[string]*nabla.Tensor) (*nabla.Tensor, *nabla.Tensor) {
			return m.Run(in["src"], in["tgt"], nn.TransformerMasks{Tgt: nn.MaskOptions{AttnMask: c.mask("tgt_mask")}}), nil
		}
	case "RMSNorm":
		m := nn.NewRMSNorm(c.int("dim"))
		m.Eps = c.Config["eps"].(float64)
		return m, func(in map[string]*nabla.Tensor) (*nabla.Tensor, *nabla.Tensor) { return m.Forward(in["x"]), nil }
	case "Rotary":
		r := nn.NewRotary(c.int("dim"), c.Config["theta"].(float64))
		return nn.Identity{}, func(in map[string]*nabla.Tensor) (*nabla.Tensor, *nabla.Tensor) {
			return r.Apply(in["x"], c.int("offset")), nil
		}
	}
	return nil, nil
}

func TestSeqLayersMatchPyTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/seq.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []seqCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	var all []seqCase
	for _, c := range cases {
		all = append(all, c)
		if c.hasBoolMask() {
			c.boolMasks = true
			c.Name += "/bool-masks"
			all = append(all, c)
		}
	}
	for _, c := range all {
		kinds[c.Kind] = true
		t.Run(c.Name, func(t *testing.T) {
			if c.Kind == "Sinusoidal" {
				got := nn.SinusoidalPositions(c.int("n"), c.int("d"))
				if d := relDiff(got, c.Output.tensor(nabla.Float64)); d > 1e-6 {
					t.Errorf("table differs by %g", d)
				}
				return
			}
			m, run := c.build(rand.New(rand.NewPCG(1, 2)))
			if m == nil {
				t.Fatalf("unknown kind %q", c.Kind)
			}
			nn.SetTraining(m, false)
			nn.To(m, nabla.Float64)
			var names, want []string
			for _, p := range m.Params() {
				names = append(names, p.Name)
			}
			for n := range c.Params {
				want = append(want, n)
			}
			sort.Strings(want)
			if got := slices.Sorted(slices.Values(names)); !slices.Equal(got, want) {
				t.Fatalf("parameter names\n got %v\nwant %v", got, want)
			}
			for n, p := range c.Params {
				nn.SetParam(m, n, p.tensor(nabla.Float64).RequireGrad())
			}
			in := map[string]*nabla.Tensor{}
			var leaves []*nabla.Tensor
			var inNames []string
			for n, x := range c.Inputs {
				in[n] = x.tensor(nabla.Float64).RequireGrad()
				leaves = append(leaves, in[n])
				inNames = append(inNames, n)
			}
			y, w := run(in)
			if d := relDiff(y, c.Output.tensor(nabla.Float64)); d > 1e-9 {
				t.Errorf("output differs by %g", d)
			}
			if c.Weights != nil {
				if w == nil {
					t.Errorf("no weights returned")
				} else if d := relDiff(w, c.Weights.tensor(nabla.Float64)); d > 1e-9 {
					t.Errorf("weights differ by %g", d)
				}
			}
			ps := m.Params()
			for _, p := range ps {
				leaves = append(leaves, p.Tensor)
			}
			gs := nabla.Gradients(y, leaves, nabla.WithUpstream(c.Upstream.tensor(nabla.Float64)))
			for i, n := range inNames {
				if d := relDiff(gs[i], c.InputGrads[n].tensor(nabla.Float64)); d > 1e-9 {
					t.Errorf("gradient of input %s differs by %g", n, d)
				}
			}
			for i, p := range ps {
				if d := relDiff(gs[len(inNames)+i], c.Grads[p.Name].tensor(nabla.Float64)); d > 1e-9 {
					t.Errorf("gradient of %s differs by %g", p.Name, d)
				}
			}
		})
	}
	for _, k := range []string{"MultiheadAttention", "TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder", "TransformerDecoder", "Transformer", "RMSNorm", "Rotary"} {
		if !kinds[k] {
			t.Errorf("no reference case of %s", k)
		}
	}
}

// relDiff returns max |a-b| / (1 + max |b|), ignoring positions where
// both are NaN; Inf if the shapes differ or a gradient is missing.
func relDiff(a, b *nabla.Tensor) float64 {
	if a == nil || b == nil || !slices.Equal(a.Shape(), b.Shape()) {
		return math.Inf(1)
	}
	x, y := a.Float64s(), b.Float64s()
	var scale, d float64
	for i := range y {
		if math.IsNaN(x[i]) && math.IsNaN(y[i]) {
			continue
		}
		scale = max(scale, math.Abs(y[i]))
		d = max(d, math.Abs(x[i]-y[i]))
	}
	if math.IsNaN(d) {
		return math.Inf(1)
	}
	return d / (1 + scale)
}
