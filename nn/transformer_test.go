package nn_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
)

// TestLoadPyTorchEncoder loads testdata/encoder.safetensors, the
// state_dict of a 2-layer torch.nn.TransformerEncoder (GELU, batch_first,
// final norm) written by make_seq_reference.py byte by byte, into a
// nabla TransformerEncoder by name, and checks its output on PyTorch's
// input (float32).
func TestLoadPyTorchEncoder(t *testing.T) {
	b, err := os.ReadFile("testdata/encoder_io.json")
	if err != nil {
		t.Fatal(err)
	}
	var io struct {
		Keys          []string
		Input, Output refTensor
	}
	if err := json.Unmarshal(b, &io); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	cfg := nn.TransformerConfig{DimFeedforward: 32, Activation: "gelu", BatchFirst: true}
	enc := nn.NewTransformerEncoder([]*nn.TransformerEncoderLayer{
		nn.NewTransformerEncoderLayer(rng, 16, 4, cfg), nn.NewTransformerEncoderLayer(rng, 16, 4, cfg)}, nn.NewLayerNorm(16))
	var names []string
	for _, p := range nn.StateDict(enc) {
		names = append(names, p.Name)
	}
	if !slices.Equal(names, io.Keys) {
		t.Errorf("state_dict order\n got %v\nwant %v", names, io.Keys)
	}
	if _, err := nn.Load("testdata/encoder.safetensors", enc); err != nil {
		t.Fatal(err)
	}
	var y *nabla.Tensor
	nn.NoGrad(enc, func() { y = enc.Forward(io.Input.tensor(nabla.Float32)) })
	if d := relDiff(y, io.Output.tensor(nabla.Float32)); d > 1e-5 {
		t.Errorf("output differs from PyTorch's by %g", d)
	}

	// A model of another shape is refused with the differences named.
	other := nn.NewTransformerEncoder([]*nn.TransformerEncoderLayer{nn.NewTransformerEncoderLayer(rng, 16, 4, nn.TransformerConfig{DimFeedforward: 8})}, nil)
	_, err = nn.Load("testdata/encoder.safetensors", other)
	if err == nil || !strings.Contains(err.Error(), "linear1.weight") || !strings.Contains(err.Error(), "unexpected") {
		t.Errorf("loading into another architecture: got %v", err)
	}
}

// TestCausalEqualsSubsequentMask: MultiheadAttention's Causal option and
// an attn_mask from GenerateSquareSubsequentMask give the same output,
// through the fused kernel and through the weights path.
func TestCausalEqualsSubsequentMask(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m := nn.NewMultiheadAttention(rng, 8, 2, nn.MHAConfig{BatchFirst: true})
	x := nabla.RandN(rng, 2, 5, 8)
	for _, need := range []bool{false, true} {
		a, wa := m.Attend(x, x, x, nn.AttendOptions{Causal: true, NeedWeights: need})
		b, wb := m.Attend(x, x, x, nn.AttendOptions{AttnMask: nn.GenerateSquareSubsequentMask(5), NeedWeights: need})
		if d := relDiff(a, b); d > 1e-6 {
			t.Errorf("need_weights=%v: outputs differ by %g", need, d)
		}
		if need && relDiff(wa, wb) > 1e-6 {
			t.Errorf("weights differ")
		}
	}
	// position 0 sees only itself: its weights are one-hot
	_, w := m.Attend(x, x, x, nn.AttendOptions{Causal: true, NeedWeights: true})
	if row := w.Float64s()[:5]; math.Abs(row[0]-1) > 1e-6 || row[1] != 0 {
		t.Errorf("first row of causal weights %v, want [1 0 0 0 0]", row)
	}
}

func TestSeqLayersBadInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m := nn.NewMultiheadAttention(rng, 8, 2, nn.MHAConfig{})
	x := nabla.RandN(rng, 5, 2, 8)
	cases := []struct {
		name, want string
		f          func()
	}{
		{"heads", "multiple of num_heads", func() { nn.NewMultiheadAttention(rng, 7, 2, nn.MHAConfig{}) }},
		{"features", "query", func() { m.Forward(nabla.RandN(rng, 5, 2, 6)) }},
		{"attn_mask", "attn_mask", func() { m.Attend(x, x, x, nn.AttendOptions{AttnMask: nabla.Zeros(4, 5)}) }},
		{"key_padding_mask", "key_padding_mask", func() { m.Attend(x, x, x, nn.AttendOptions{KeyPaddingMask: nabla.Zeros(2, 4)}) }},
		{"activation", "activation", func() { nn.NewTransformerEncoderLayer(rng, 8, 2, nn.TransformerConfig{Activation: "tanh"}) }},
		{"rotary", "even", func() { nn.NewRotary(5, 0) }},
		{"positions", "longer", func() { nn.NewPositionalEncoding(3, 8, false).Forward(x) }},
		{"rmsnorm", "trailing", func() { nn.NewRMSNorm(4).Forward(x) }},
	}
	for _, c := range cases {
		err := nabla.Maybe(c.f)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
}
