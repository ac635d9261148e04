package nn_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
)

// stats returns the minimum, maximum, mean and standard deviation of t.
func stats(t *T) (lo, hi, mean, std float64) {
	v := t.Float64s()
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
		mean += x
	}
	mean /= float64(len(v))
	for _, x := range v {
		std += (x - mean) * (x - mean)
	}
	return lo, hi, mean, math.Sqrt(std / float64(len(v)))
}

func near(got, want, rel float64) bool { return math.Abs(got-want) <= rel*math.Abs(want) }

func TestDefaultInit(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	lin := nn.NewLinear(rng, 400, 300)
	conv := nn.NewConv2d(rng, 8, 64, [2]int{3, 3}, nabla.ConvOptions{Groups: 2}) // fan-in 4·3·3 = 36
	emb := nn.NewEmbedding(rng, 300, 200)
	for _, tt := range []struct {
		name  string
		t     *T
		bound float64 // values lie in [-bound, bound]; 0 for normal
		mean  float64
		std   float64
	}{
		{"Linear.weight", lin.Weight, 1 / math.Sqrt(400), 0, 1 / math.Sqrt(400) / math.Sqrt(3)},
		{"Linear.bias", lin.Bias, 1 / math.Sqrt(400), 0, 1 / math.Sqrt(400) / math.Sqrt(3)},
		{"Conv2d.weight", conv.Weight, 1 / 6.0, 0, 1 / 6.0 / math.Sqrt(3)},
		{"Conv2d.bias", conv.Bias, 1 / 6.0, 0, 1 / 6.0 / math.Sqrt(3)},
		{"Embedding.weight", emb.Weight, 0, 0, 1},
	} {
		lo, hi, mean, std := stats(tt.t)
		if tt.t.DType() != nabla.Float32 || !tt.t.RequiresGrad() {
			t.Errorf("%s: got dtype %v, requires grad %v; want float32, true", tt.name, tt.t.DType(), tt.t.RequiresGrad())
		}
		if tt.bound > 0 {
			if lo < -tt.bound || hi > tt.bound {
				t.Errorf("%s: got range [%g, %g]; want within ±%g", tt.name, lo, hi, tt.bound)
			}
			if tt.t.Len() >= 1000 && (lo > -0.95*tt.bound || hi < 0.95*tt.bound) {
				t.Errorf("%s: got range [%g, %g]; want it to fill ±%g", tt.name, lo, hi, tt.bound)
			}
		}
		// The sample mean and standard deviation are within four standard
		// errors of the distribution's.
		n := float64(tt.t.Len())
		if math.Abs(mean-tt.mean) > 4*tt.std/math.Sqrt(n) {
			t.Errorf("%s: got mean %g; want %g", tt.name, mean, tt.mean)
		}
		if !near(std, tt.std, 4/math.Sqrt(n)) {
			t.Errorf("%s: got std %g; want %g", tt.name, std, tt.std)
		}
	}

	bn := nn.NewBatchNorm2d(4)
	ln := nn.NewLayerNorm(2, 3)
	for _, tt := range []struct {
		name string
		t    *T
		want float64
	}{
		{"BatchNorm2d.weight", bn.Weight, 1}, {"BatchNorm2d.bias", bn.Bias, 0},
		{"BatchNorm2d.running_mean", bn.RunningMean, 0}, {"BatchNorm2d.running_var", bn.RunningVar, 1},
		{"BatchNorm2d.num_batches_tracked", bn.NumBatchesTracked, 0},
		{"LayerNorm.weight", ln.Weight, 1}, {"LayerNorm.bias", ln.Bias, 0},
	} {
		for _, v := range tt.t.Float64s() {
			if v != tt.want {
				t.Errorf("%s: got %v; want all %v", tt.name, tt.t, tt.want)
				break
			}
		}
	}
	if bn.Eps != 1e-5 || bn.Momentum != 0.1 || !bn.Training || ln.Eps != 1e-5 {
		t.Errorf("got eps %g momentum %g training %v, LayerNorm eps %g; want 1e-5, 0.1, true, 1e-5", bn.Eps, bn.Momentum, bn.Training, ln.Eps)
	}
	if bn.RunningMean.RequiresGrad() || bn.RunningVar.RequiresGrad() {
		t.Error("running statistics require gradients; want plain buffers")
	}
}

func TestInitDeterministic(t *testing.T) {
	a := nn.NewLinear(rand.New(rand.NewPCG(7, 7)), 5, 4)
	b := nn.NewLinear(rand.New(rand.NewPCG(7, 7)), 5, 4)
	for i, v := range a.Weight.Float32s() {
		if b.Weight.Float32s()[i] != v {
			t.Fatalf("same seed gave different weights: %v and %v", a.Weight, b.Weight)
		}
	}
}

func TestInitializers(t *testing.T) {
	shape := []int{100, 25, 2, 5} // fan-in 25·10 = 250, fan-out 100·10 = 1000
	fi, fo := nn.Fans(nabla.Zeros(shape...))
	if fi != 250 || fo != 1000 {
		t.Fatalf("Fans(%v): got %d, %d; want 250, 1000", shape, fi, fo)
	}
	rng := rand.New(rand.NewPCG(2, 3))
	xav := math.Sqrt(6.0 / 1250)
	for _, tt := range []struct {
		name  string
		t     *T
		bound float64 // 0 for normal
		mean  float64
		std   float64
	}{
		{"XavierUniform", nn.XavierUniform(rng, nabla.Zeros(shape...), 2), 2 * xav, 0, 2 * xav / math.Sqrt(3)},
		{"XavierNormal", nn.XavierNormal(rng, nabla.Zeros(shape...), 1), 0, 0, math.Sqrt(2.0 / 1250)},
		{"KaimingUniform/relu", nn.KaimingUniform(rng, nabla.Zeros(shape...), 0, nn.FanIn, "relu"), math.Sqrt(6.0 / 250), 0, math.Sqrt(2.0 / 250)},
		{"KaimingUniform/fanout", nn.KaimingUniform(rng, nabla.Zeros(shape...), 0, nn.FanOut, "relu"), math.Sqrt(6.0 / 1000), 0, math.Sqrt(2.0 / 1000)},
		{"KaimingUniform/leaky", nn.KaimingUniform(rng, nabla.Zeros(shape...), math.Sqrt(5), nn.FanIn, "leaky_relu"), 1 / math.Sqrt(250), 0, 1 / math.Sqrt(750)},
		{"KaimingNormal/relu", nn.KaimingNormal(rng, nabla.Zeros(shape...), 0, nn.FanIn, "relu"), 0, 0, math.Sqrt(2.0 / 250)},
		{"KaimingNormal/tanh-fanout", nn.KaimingNormal(rng, nabla.Zeros(shape...), 0, nn.FanOut, "tanh"), 0, 0, 5.0 / 3 / math.Sqrt(1000)},
		{"Uniform/float64", nn.Uniform(rng, nabla.Zeros(shape...).To(nabla.Float64), 2, 4), 0, 3, 2 / math.Sqrt(12)},
		{"Normal/float64", nn.Normal(rng, nabla.Zeros(shape...).To(nabla.Float64), -1, 0.5), 0, -1, 0.5},
	} {
		lo, hi, mean, std := stats(tt.t)
		if tt.bound > 0 && (lo < -tt.bound || hi > tt.bound || lo > -0.95*tt.bound || hi < 0.95*tt.bound) {
			t.Errorf("%s: got range [%g, %g]; want to fill ±%g", tt.name, lo, hi, tt.bound)
		}
		n := float64(tt.t.Len())
		if math.Abs(mean-tt.mean) > 4*tt.std/math.Sqrt(n) {
			t.Errorf("%s: got mean %g; want %g", tt.name, mean, tt.mean)
		}
		if !near(std, tt.std, 4/math.Sqrt(n)) {
			t.Errorf("%s: got std %g; want %g", tt.name, std, tt.std)
		}
	}
	for _, tt := range []struct {
		t    *T
		want float64
	}{
		{nn.Constant(nabla.Zeros(3, 2), 2.5), 2.5},
		{nn.Zeros(nabla.Ones(4)), 0},
		{nn.Ones(nabla.Zeros(2, 2).To(nabla.Float64)), 1},
	} {
		for _, v := range tt.t.Float64s() {
			if v != tt.want {
				t.Errorf("got %v; want all %v", tt.t, tt.want)
				break
			}
		}
	}
}

func TestCalculateGain(t *testing.T) {
	for _, tt := range []struct {
		name  string
		param float64
		want  float64
	}{
		{"linear", 0, 1}, {"conv2d", 0, 1}, {"sigmoid", 0, 1}, {"tanh", 0, 5.0 / 3},
		{"relu", 0, math.Sqrt2}, {"leaky_relu", 0.01, math.Sqrt(2 / 1.0001)}, {"leaky_relu", math.Sqrt(5), math.Sqrt(1.0 / 3)},
		{"selu", 0, 0.75},
	} {
		if got := nn.CalculateGain(tt.name, tt.param); !near(got, tt.want, 1e-12) {
			t.Errorf("CalculateGain(%q, %g): got %v; want %v", tt.name, tt.param, got, tt.want)
		}
	}
}
