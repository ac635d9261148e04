package onnx

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/data"
	"github.com/nabla-go/nabla/datasets"
	"github.com/nabla-go/nabla/internal/workload"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/optim"
)

// TestFineTuneMatchesNabla trains the imported LeNet-5 and nabla's own
// LeNet-5 (internal/workload's W4 model) from the same weights with Adam
// on the same batches: the losses agree step by step, so fine-tuning an
// ONNX model is training the same network.
func TestFineTuneMatchesNabla(t *testing.T) {
	m, err := Load("testdata/lenet.onnx")
	if err != nil {
		t.Fatal(err)
	}
	own := workload.LeNet(rand.New(rand.NewPCG(1, 1)))
	if len(m.Params()) != len(own.Params()) {
		t.Fatalf("%d parameters imported, nabla's LeNet has %d", len(m.Params()), len(own.Params()))
	}
	for _, p := range m.Params() {
		nn.SetParam(own, p.Name, p.Tensor.Detach().Clone().RequireGrad())
	}
	// Names and order line up with nabla's, as PyTorch's state_dict.
	for i, p := range own.Params() {
		if p.Name != m.Params()[i].Name {
			t.Fatalf("parameter %d is %q, imported %q", i, p.Name, m.Params()[i].Name)
		}
	}
	cfg := optim.AdamConfig{LR: 1e-3}
	optA, optB := optim.NewAdam(m.Params(), cfg), optim.NewAdam(own.Params(), cfg)
	rng := rand.New(rand.NewPCG(2, 2))
	steps, batch := 15, 32
	if raceEnabled {
		steps = 5
	}
	var first, last float64
	// One batch of random images and labels, seen at every step, so that
	// the loss must fall as the networks memorise it.
	x := nabla.Rand(rng, batch, 1, 28, 28)
	y := make([]float32, batch)
	for i := range y {
		y[i] = float32(rng.IntN(10))
	}
	labels := nabla.FromSlice(y, batch).To(nabla.Int64)
	for step := range steps {
		optA.ZeroGrad()
		la := nn.CrossEntropy(m.Forward(x), labels)
		la.Backward()
		optA.Step()
		optB.ZeroGrad()
		lb := nn.CrossEntropy(own.Forward(x), labels)
		lb.Backward()
		optB.Step()
		a, b := la.Item(), lb.Item()
		if math.Abs(a-b) > 1e-5*math.Abs(b) {
			t.Fatalf("step %d: imported model's loss %v, nabla's %v", step, a, b)
		}
		if step == 0 {
			first = a
		}
		last = a
	}
	if !(last < first-0.01) {
		t.Fatalf("the loss did not fall: %v -> %v", first, last)
	}
	// The initializers themselves were trained.
	for i, p := range m.Params() {
		q := own.Params()[i].Tensor.Float32s()
		if k, ok := closeTo(p.Tensor.Float32s(), q, 1e-4, 1e-6); !ok {
			t.Fatalf("%s[%d] = %v after training, nabla's %v", p.Name, k, p.Tensor.Float32s()[k], q[k])
		}
	}
}

// TestBackwardReachesParams: gradients flow from the outputs of every
// committed model back to every parameter.
func TestBackwardReachesParams(t *testing.T) {
	for _, name := range []string{"mlp", "lenet", "ops_op17"} {
		m, err := Load("testdata/" + name + ".onnx")
		if err != nil {
			t.Fatal(err)
		}
		ref := readRef(t, "testdata/"+name+".json")
		x := nabla.FromSlice(ref.Inputs["input"].Data, ref.Inputs["input"].Shape...)
		m.Forward(x).Square().Sum().Backward()
		for _, p := range m.Params() {
			g := p.Tensor.Grad()
			if g == nil {
				t.Fatalf("%s: %s has no gradient", name, p.Name)
			}
			nonzero := false
			for _, v := range g.Float32s() {
				nonzero = nonzero || v != 0
			}
			if !nonzero {
				t.Fatalf("%s: %s's gradient is all zero", name, p.Name)
			}
		}
		if name == "ops_op17" && len(m.Buffers()) != 2 {
			t.Fatalf("ops_op17 has buffers %v, want the batch norm's running mean and variance", m.Buffers())
		}
	}
}

// TestFineTuneEpoch trains the imported LeNet-5 and nabla's own from the
// same weights for one epoch of Fashion-MNIST with Adam and compares their
// test accuracies (within 0.5 %). It takes minutes, so it runs only with
// NABLA_ONNX_EPOCH=1 and Debian's dataset-fashion-mnist.
func TestFineTuneEpoch(t *testing.T) {
	if os.Getenv("NABLA_ONNX_EPOCH") == "" {
		t.Skip("NABLA_ONNX_EPOCH is not set")
	}
	load := func(train bool) data.Dataset {
		d, err := datasets.FashionMNISTPixels(datasets.FashionMNISTDir, train)
		if err != nil {
			t.Skip(err)
		}
		y := make([]float32, d.NumSamples)
		for i := range y {
			y[i] = float32(d.Labels[i])
		}
		ds, err := data.FromBytes(d.Pixels, []int{d.NumSamples, 1, 28, 28}, 1.0/255, y, []int{d.NumSamples})
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	train, test := load(true), load(false)
	m, err := Load("testdata/lenet.onnx")
	if err != nil {
		t.Fatal(err)
	}
	own := workload.LeNet(rand.New(rand.NewPCG(1, 1)))
	for _, p := range m.Params() {
		nn.SetParam(own, p.Name, p.Tensor.Detach().Clone().RequireGrad())
	}
	acc := func(model nn.Module) float64 {
		opt := optim.NewAdam(model.Params(), optim.AdamConfig{LR: 1e-3})
		loader := data.NewLoader(train, data.LoaderConfig{BatchSize: 64, Shuffle: true, Seed: 0, Labels: true})
		ar := nabla.NewArena()
		start := time.Now()
		for _, b := range loader.Epoch(0) {
			opt.ZeroGrad()
			nn.CrossEntropy(model.Forward(b.X.InArena(ar)), b.Y).Backward()
			opt.Step()
			ar.Reset()
		}
		correct, total := 0.0, 0
		nn.NoGrad(model, func() {
			for _, b := range data.NewLoader(test, data.LoaderConfig{BatchSize: 1000, Labels: true}).Epoch(0) {
				correct += nn.Accuracy(model.Forward(b.X.InArena(ar)), b.Y) * float64(b.X.Size(0))
				total += b.X.Size(0)
				ar.Reset()
			}
		})
		t.Logf("%T: epoch %v, test accuracy %.4f", model, time.Since(start).Round(time.Second), correct/float64(total))
		return correct / float64(total)
	}
	a, b := acc(m), acc(own)
	if math.Abs(a-b) > 0.005 {
		t.Fatalf("imported LeNet-5 reaches %.4f, nabla's %.4f", a, b)
	}
}
