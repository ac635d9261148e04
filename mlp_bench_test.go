package nabla_test

import (
	"math/rand/v2"
	"testing"

	"github.com/nabla-go/nabla"
)

// mlpStep is one training step of the 784-256-128-10 ReLU MLP written with
// the core ops alone (no nn package): forward, cross-entropy, backward and
// a plain SGD update.
type mlp struct{ w, b []*nabla.Tensor }

func newMLP(rng *rand.Rand, sizes ...int) *mlp {
	m := &mlp{}
	for i := 0; i+1 < len(sizes); i++ {
		m.w = append(m.w, nabla.Normal(rng, 0, 0.05, sizes[i+1], sizes[i]).RequireGrad())
		m.b = append(m.b, nabla.Zeros(sizes[i+1]).RequireGrad())
	}
	return m
}

func (m *mlp) loss(x, labels *nabla.Tensor) *nabla.Tensor {
	h := x
	for i := range m.w {
		h = h.MatMul(m.w[i].T()).Add(m.b[i])
		if i < len(m.w)-1 {
			h = h.Relu()
		}
	}
	logp := h.LogSoftmax(1)
	return logp.Gather(1, labels.Unsqueeze(1)).Mean().Neg()
}

func (m *mlp) step(x, labels *nabla.Tensor, lr float32) float64 {
	for i := range m.w {
		m.w[i].ZeroGrad()
		m.b[i].ZeroGrad()
	}
	l := m.loss(x, labels)
	l.Backward()
	for _, ps := range [][]*nabla.Tensor{m.w, m.b} {
		for _, p := range ps {
			d, g := p.Data32(), p.Grad().Data32()
			for j := range d {
				d[j] -= lr * g[j]
			}
		}
	}
	return l.Item()
}

func BenchmarkMLPStep(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := newMLP(rng, 784, 256, 128, 10)
	x := nabla.Rand(rng, 128, 784)
	lab := make([]float32, 128)
	for i := range lab {
		lab[i] = float32(rng.IntN(10))
	}
	labels := nabla.FromSlice(lab).To(nabla.Int64)
	b.Run("heap", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.step(x, labels, 0.01)
		}
	})
	b.Run("arena", func(b *testing.B) {
		ar := nabla.NewArena()
		b.ReportAllocs()
		for b.Loop() {
			m.step(x.InArena(ar), labels, 0.01)
			ar.Reset()
		}
	})
}

func TestMLPStepLearns(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := newMLP(rng, 20, 64, 32, 3)
	x := nabla.Rand(rng, 32, 20)
	lab := make([]float32, 32)
	for i := range lab {
		lab[i] = float32(i % 3)
	}
	labels := nabla.FromSlice(lab).To(nabla.Int64)
	first := m.step(x, labels, 0.5)
	var last float64
	for range 1500 {
		last = m.step(x, labels, 0.5)
	}
	if !(last < first/5) {
		t.Errorf("loss %v -> %v; want it to fall 5-fold on a memorisable set", first, last)
	}
}
