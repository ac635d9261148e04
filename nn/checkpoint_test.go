package nn_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/data"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/optim"
)

// newCheckpointModel returns a small model with parameters and buffers:
// Linear(4, hidden), BatchNorm1d, Tanh, Linear(hidden, 2).
func newCheckpointModel(seed uint64, hidden int) *nn.Sequential {
	rng := rand.New(rand.NewPCG(seed, 99))
	return nn.NewSequential(nn.NewLinear(rng, 4, hidden), nn.NewBatchNorm1d(hidden), nn.Tanh{}, nn.NewLinear(rng, hidden, 2))
}

// values returns every tensor of m's state, by name.
func values(m nn.Module) map[string][]float32 {
	out := map[string][]float32{}
	for _, p := range nn.StateDict(m) {
		out[p.Name] = p.Tensor.Float32s()
	}
	return out
}

func sameValues(t *testing.T, got, want map[string][]float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d tensors; want %d", len(got), len(want))
	}
	for name, w := range want {
		g := got[name]
		if len(g) != len(w) {
			t.Errorf("%s: %d values; want %d", name, len(g), len(w))
			continue
		}
		for i := range w {
			if math.Float32bits(g[i]) != math.Float32bits(w[i]) {
				t.Errorf("%s[%d] = %v; want %v (bit for bit)", name, i, g[i], w[i])
				break
			}
		}
	}
}

// trainSteps runs a few training steps so that the buffers (BatchNorm's
// running statistics) are not at their initial values.
func trainSteps(m nn.Module, n int) {
	rng := rand.New(rand.NewPCG(5, 5))
	opt := optim.NewSGD(m.Params(), optim.SGDConfig{LR: 0.1})
	for range n {
		x := nabla.RandN(rng, 8, 4)
		opt.ZeroGrad()
		nn.MSE(m.Forward(x), nabla.Zeros(8, 2)).Backward()
		opt.Step()
	}
}

func TestSaveLoadIdenticalOutputs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.safetensors")
	m := newCheckpointModel(1, 8)
	trainSteps(m, 3)
	meta := map[string]string{"config": `{"hidden": 8}`, "epoch": "3"}
	if err := nn.Save(path, m, nn.WithMetadata(meta)); err != nil {
		t.Fatal(err)
	}
	fresh := newCheckpointModel(2, 8)
	got, err := nn.Load(path, fresh)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(meta) || got["config"] != meta["config"] || got["epoch"] != "3" {
		t.Errorf("metadata = %v; want %v", got, meta)
	}
	sameValues(t, values(fresh), values(m))
	nn.SetTraining(m, false)
	nn.SetTraining(fresh, false)
	x := nabla.RandN(rand.New(rand.NewPCG(3, 3)), 5, 4)
	a, b := m.Forward(x).Float32s(), fresh.Forward(x).Float32s()
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("outputs differ after loading: %v vs %v", a, b)
		}
	}
}

// TestSaveFileFormat parses the file independently: an 8-byte
// little-endian header length, then a JSON header with PyTorch's names.
func TestSaveFileFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.safetensors")
	m := newCheckpointModel(1, 8)
	if err := nn.Save(path, m, nn.WithMetadata(map[string]string{"epoch": "1"})); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(raw[:8])
	var header map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+n], &header); err != nil {
		t.Fatal(err)
	}
	type entry struct {
		DType   string `json:"dtype"`
		Shape   []int  `json:"shape"`
		Offsets [2]int `json:"data_offsets"`
	}
	want := map[string][]int{
		"0.weight": {8, 4}, "0.bias": {8},
		"1.weight": {8}, "1.bias": {8}, "1.running_mean": {8}, "1.running_var": {8}, "1.num_batches_tracked": {},
		"3.weight": {2, 8}, "3.bias": {2},
	}
	var names []string
	for name, msg := range header {
		if name == "__metadata__" {
			var meta map[string]string
			if err := json.Unmarshal(msg, &meta); err != nil || meta["epoch"] != "1" {
				t.Errorf("__metadata__ = %s; want epoch 1", msg)
			}
			continue
		}
		names = append(names, name)
		var e entry
		if err := json.Unmarshal(msg, &e); err != nil {
			t.Fatal(err)
		}
		wantDType := "F32"
		if name == "1.num_batches_tracked" {
			wantDType = "I64" // as PyTorch stores it
		}
		if e.DType != wantDType || !slices.Equal(e.Shape, want[name]) && !(len(e.Shape) == 0 && len(want[name]) == 0) {
			t.Errorf("%s: dtype %s shape %v; want %s %v", name, e.DType, e.Shape, wantDType, want[name])
		}
		if name == "3.bias" {
			d := raw[8+int(n)+e.Offsets[0] : 8+int(n)+e.Offsets[1]]
			bias := m.Params()[len(m.Params())-1].Tensor.Float32s()
			for i, v := range bias {
				if got := math.Float32frombits(binary.LittleEndian.Uint32(d[4*i:])); got != v {
					t.Errorf("3.bias[%d] in file = %v; want %v", i, got, v)
				}
			}
		}
	}
	slices.Sort(names)
	wantNames := slices.Sorted(func(yield func(string) bool) {
		for k := range want {
			if !yield(k) {
				return
			}
		}
	})
	if !slices.Equal(names, wantNames) {
		t.Errorf("tensor names %q; want %q", names, wantNames)
	}
}

func TestLoadMismatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.safetensors")
	if err := nn.Save(path, newCheckpointModel(1, 8)); err != nil {
		t.Fatal(err)
	}
	// hidden size 6: every shape of layers 0, 1 and 3 differs
	other := newCheckpointModel(2, 6)
	before := values(other)
	_, err := nn.Load(path, other)
	if err == nil {
		t.Fatal("Load into a model of another shape succeeded")
	}
	for _, frag := range []string{`"0.weight": shape [8 4] in file, [6 4] in model`, `"1.running_mean": shape [8] in file, [6] in model`, `"3.weight": shape [2 8] in file, [2 6] in model`} {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("error %q does not mention %s", err, frag)
		}
	}
	sameValues(t, values(other), before) // unchanged

	// missing and unexpected names
	rng := rand.New(rand.NewPCG(1, 1))
	bigger := nn.NewSequential(nn.NewLinear(rng, 4, 8), nn.NewBatchNorm1d(8), nn.Tanh{}, nn.NewLinear(rng, 8, 2), nn.Tanh{}, nn.NewLinear(rng, 2, 2))
	_, err = nn.Load(path, bigger)
	if err == nil || !strings.Contains(err.Error(), `missing "5.weight", "5.bias"`) {
		t.Errorf("Load into a bigger model: err = %v; want missing 5.weight and 5.bias", err)
	}
	smaller := nn.NewSequential(nn.NewLinear(rng, 4, 8))
	_, err = nn.Load(path, smaller)
	if err == nil || !strings.Contains(err.Error(), "unexpected ") || !strings.Contains(err.Error(), `"3.weight"`) || !strings.Contains(err.Error(), `"1.running_var"`) {
		t.Errorf("Load into a smaller model: err = %v; want unexpected 1.* and 3.*", err)
	}

	// dtype
	f64 := newCheckpointModel(1, 8)
	nn.To(f64, nabla.Float64)
	_, err = nn.Load(path, f64)
	if err == nil || !strings.Contains(err.Error(), `"0.weight": dtype F32 in file, F64 in model`) {
		t.Errorf("Load into a float64 model: err = %v", err)
	}
}

func TestLoadCorrupt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	m := newCheckpointModel(1, 8)
	if err := nn.Save(path, m, nn.WithExtra("optim.", optim.NewAdam(m.Params(), optim.AdamConfig{}).State())); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.safetensors")
	try := func(what string, b []byte) {
		t.Helper()
		if err := os.WriteFile(bad, b, 0o644); err != nil {
			t.Fatal(err)
		}
		fresh := newCheckpointModel(2, 8)
		before := values(fresh)
		var loadErr error
		if err := nabla.Maybe(func() { _, loadErr = nn.LoadCheckpoint(bad, fresh) }); err != nil {
			t.Fatalf("%s: Load panicked: %v", what, err)
		}
		if loadErr == nil {
			t.Errorf("%s: Load succeeded", what)
		}
		sameValues(t, values(fresh), before)
	}
	for _, n := range []int{0, 4, 8, 20, len(good) / 2, len(good) - 1} {
		try("truncated", good[:n])
	}
	try("appended", append(slices.Clone(good), 1, 2, 3))
	flipped := slices.Clone(good)
	flipped[12] ^= 0x55 // inside the JSON header
	try("flipped header byte", flipped)
	huge := slices.Clone(good)
	binary.LittleEndian.PutUint64(huge, 1<<62)
	try("huge header length", huge)
	if _, err := nn.Load(filepath.Join(dir, "absent.safetensors"), m); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

func TestSaveErrorsKeepOldFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.safetensors")
	m := newCheckpointModel(1, 8)
	if err := nn.Save(path, m); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path)
	for _, tt := range []struct {
		name string
		opts []nn.SaveOption
		want string
	}{
		{"reserved", []nn.SaveOption{nn.WithMetadata(map[string]string{"nabla.extra": "x"})}, "reserved"},
		{"clash", []nn.SaveOption{nn.WithExtra("0.", []nn.Param{{Name: "x", Tensor: nabla.Zeros(1)}})}, "prefix"},
		{"duplicate", []nn.SaveOption{nn.WithExtra("a.", []nn.Param{{Name: "x", Tensor: nabla.Zeros(1)}, {Name: "x", Tensor: nabla.Zeros(1)}})}, `two tensors are named "a.x"`},
		{"nil", []nn.SaveOption{nn.WithExtra("a.", []nn.Param{{Name: "x"}})}, "nil"},
	} {
		err := nn.Save(path, newCheckpointModel(3, 8), tt.opts...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v; want one mentioning %q", tt.name, err, tt.want)
		}
		if now, _ := os.ReadFile(path); !slices.Equal(now, old) {
			t.Errorf("%s: a failed Save changed the file", tt.name)
		}
	}
}

// TestResumeTraining trains a model for 3 epochs without interruption,
// and again saving a checkpoint (model, optimizer and scheduler) part-way
// through epoch 1, loading it into a fresh model, optimizer, scheduler and
// loader, and continuing: the final weights must be identical.
func TestResumeTraining(t *testing.T) {
	const n, epochs, stopEpoch, stopBatch = 64, 3, 1, 3
	rng := rand.New(rand.NewPCG(11, 12))
	x := nabla.RandN(rng, n, 4)
	y := nabla.RandN(rng, n, 2)
	ds, err := data.NewTensorDataset(x, y)
	if err != nil {
		t.Fatal(err)
	}
	type run struct {
		model *nn.Sequential
		opt   *optim.Adam
		sched *optim.Scheduler
		load  *data.Loader
	}
	newRun := func(seed uint64) run {
		m := newCheckpointModel(seed, 8)
		opt := optim.NewAdam(m.Params(), optim.AdamConfig{LR: 0.01, WeightDecay: 1e-3})
		return run{m, opt, optim.NewScheduler(opt, optim.StepLR{StepSize: 1, Gamma: 0.5}),
			data.NewLoader(ds, data.LoaderConfig{BatchSize: 10, Shuffle: true, Seed: 21})}
	}
	step := func(r run, b data.Batch) {
		r.opt.ZeroGrad()
		nn.MSE(r.model.Forward(b.X), b.Y).Backward()
		r.opt.Step()
	}

	full := newRun(1)
	for e := range epochs {
		for _, b := range full.load.Epoch(e) {
			step(full, b)
		}
		full.sched.Step()
	}

	path := filepath.Join(t.TempDir(), "ckpt.safetensors")
	first := newRun(1)
stop:
	for e := range epochs {
		for i, b := range first.load.Epoch(e) {
			if e == stopEpoch && i == stopBatch {
				err := nn.Save(path, first.model,
					nn.WithMetadata(map[string]string{"epoch": "1", "batch": "3"}),
					nn.WithExtra("optim.", first.opt.State()),
					nn.WithExtra("sched.", first.sched.State()))
				if err != nil {
					t.Fatal(err)
				}
				break stop
			}
			step(first, b)
		}
		first.sched.Step()
	}

	second := newRun(7) // different initial weights, overwritten by Load
	ck, err := nn.LoadCheckpoint(path, second.model)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Metadata["epoch"] != "1" || ck.Metadata["batch"] != "3" || len(ck.Metadata) != 2 {
		t.Errorf("metadata = %v", ck.Metadata)
	}
	if err := second.opt.LoadState(ck.Extra["optim."]); err != nil {
		t.Fatal(err)
	}
	if err := second.sched.LoadState(ck.Extra["sched."]); err != nil {
		t.Fatal(err)
	}
	for e := stopEpoch; e < epochs; e++ {
		start := 0
		if e == stopEpoch {
			start = stopBatch
		}
		for _, b := range second.load.EpochFrom(e, start) {
			step(second, b)
		}
		second.sched.Step()
	}
	sameValues(t, values(second.model), values(full.model))
	if second.opt.LR() != full.opt.LR() {
		t.Errorf("lr after resume = %v; want %v", second.opt.LR(), full.opt.LR())
	}
}

func ExampleSave() {
	dir, err := os.MkdirTemp("", "checkpoint")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")

	rng := rand.New(rand.NewPCG(1, 2))
	model := nn.NewSequential(nn.NewLinear(rng, 3, 2), nn.ReLU{}, nn.NewLinear(rng, 2, 1))
	opt := optim.NewSGD(model.Params(), optim.SGDConfig{LR: 0.1, Momentum: 0.9})
	err = nn.Save(path, model,
		nn.WithMetadata(map[string]string{"epoch": "5"}),
		nn.WithExtra("optim.", opt.State()))
	if err != nil {
		fmt.Println(err)
		return
	}

	// later: a fresh model and optimizer of the same shape
	model2 := nn.NewSequential(nn.NewLinear(rng, 3, 2), nn.ReLU{}, nn.NewLinear(rng, 2, 1))
	opt2 := optim.NewSGD(model2.Params(), optim.SGDConfig{LR: 0.1, Momentum: 0.9})
	ck, err := nn.LoadCheckpoint(path, model2)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := opt2.LoadState(ck.Extra["optim."]); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("epoch", ck.Metadata["epoch"])
	for _, p := range model2.Params() {
		fmt.Println(p.Name, p.Tensor.Shape())
	}

	// a model of another shape is refused, with every difference named
	_, err = nn.Load(path, nn.NewSequential(nn.NewLinear(rng, 3, 4)))
	fmt.Println(err != nil)
	// Output:
	// epoch 5
	// 0.weight [2 3]
	// 0.bias [2]
	// 2.weight [1 2]
	// 2.bias [1]
	// true
}
