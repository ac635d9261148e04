package onnx

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nabla-go/nabla"
)

// residualBlock is x (N, 4, 7, 7) through a ResNet block and a strided
// convolution:
//
//	a = Relu(Conv(x, w1, b1))            Conv → Relu
//	s = Relu(Add(x, Conv(a, w2)))         Conv → Add → Relu, residual first
//	t = Relu(Add(Conv(s, w3, b3), s))     residual second
//	u = Conv(t, w4, stride 2)            read by Relu and a graph output: not fused
//	y = Relu(u)
func residualBlock(rng *rand.Rand) graphSpec {
	w := func(name string, dims ...int64) pb {
		n := int64(1)
		for _, d := range dims {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * 0.3)
		}
		return tensorPB(name, typeFloat, dims, floatsRaw(v...))
	}
	pads := intsAttr("pads", 1, 1, 1, 1)
	return graphSpec{
		nodes: []pb{
			nodePB("Conv", "c1", []string{"x", "w1", "b1"}, []string{"c1"}, pads),
			nodePB("Relu", "r1", []string{"c1"}, []string{"a"}),
			nodePB("Conv", "c2", []string{"a", "w2"}, []string{"c2"}, pads),
			nodePB("Add", "add2", []string{"x", "c2"}, []string{"s2"}),
			nodePB("Relu", "r2", []string{"s2"}, []string{"s"}),
			nodePB("Conv", "c3", []string{"s", "w3", "b3"}, []string{"c3"}, pads),
			nodePB("Add", "add3", []string{"c3", "s"}, []string{"s3"}),
			nodePB("Relu", "r3", []string{"s3"}, []string{"t"}),
			nodePB("Conv", "c4", []string{"t", "w4"}, []string{"u"}, pads, intsAttr("strides", 2, 2)),
			nodePB("Relu", "r4", []string{"u"}, []string{"y"}),
		},
		inits: []pb{w("w1", 4, 4, 3, 3), w("b1", 4), w("w2", 4, 4, 3, 3), w("w3", 4, 4, 3, 3), w("b3", 4),
			w("w4", 6, 4, 3, 3)},
		inputs:  []pb{valueInfoPB("x", -1, 4, 7, 7)},
		outputs: []pb{valueInfoPB("y", -1, 6, 4, 4), valueInfoPB("u", -1, 6, 4, 4)},
	}
}

// TestFusedConvChains checks which chains Load fuses, and that the fused
// model gives the unfused one's outputs bit for bit, under NoGrad (the
// fused pass) and with grad (the ops), and the same parameter gradients.
func TestFusedConvChains(t *testing.T) {
	load := func(fuse bool) *Model {
		m, err := LoadBytes(modelPB(8, 13, residualBlock(rand.New(rand.NewPCG(1, 2)))), "")
		if err != nil {
			t.Fatal(err)
		}
		if !fuse {
			for _, n := range m.nodes {
				n.fused, n.inChain = nil, false
			}
		}
		return m
	}
	m := load(true)
	fused := map[string]string{}
	for _, n := range m.nodes {
		if n.fused != nil {
			add := ""
			if n.fused.add != nil {
				add = n.fused.add.name
			}
			fused[n.name] = n.fused.conv.name + "+" + add
		}
	}
	want := map[string]string{"r1": "c1+", "r2": "c2+add2", "r3": "c3+add3"}
	if len(fused) != len(want) {
		t.Fatalf("fused chains %v; want %v", fused, want)
	}
	for k, v := range want {
		if fused[k] != v {
			t.Fatalf("fused chains %v; want %v", fused, want)
		}
	}
	plain := load(false)
	x := nabla.RandN(rand.New(rand.NewPCG(3, 4)), 2, 4, 7, 7)
	in := map[string]*nabla.Tensor{"x": x}
	same := func(what string, a, b *nabla.Tensor) {
		t.Helper()
		av, bv := a.Float32s(), b.Float32s()
		for i := range av {
			if math.Float32bits(av[i]) != math.Float32bits(bv[i]) {
				t.Fatalf("%s [%d] = %v fused; %v unfused", what, i, av[i], bv[i])
			}
		}
	}
	var got, ref map[string]*nabla.Tensor
	var err error
	nabla.NoGrad(func() {
		if got, err = m.Run(in); err != nil {
			t.Fatal(err)
		}
		if ref, err = plain.Run(in); err != nil {
			t.Fatal(err)
		}
	}, append(paramTensors(m), paramTensors(plain)...)...)
	same("NoGrad y", got["y"], ref["y"])
	same("NoGrad u", got["u"], ref["u"])
	if got, err = m.Run(in); err != nil {
		t.Fatal(err)
	}
	if ref, err = plain.Run(in); err != nil {
		t.Fatal(err)
	}
	same("y", got["y"], ref["y"])
	got["y"].Square().Sum().Backward()
	ref["y"].Square().Sum().Backward()
	for i, p := range m.Params() {
		same("grad "+p.Name, p.Tensor.Grad(), plain.Params()[i].Tensor.Grad())
	}
}
