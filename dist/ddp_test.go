//go:build linux

package dist_test

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/data"
	"github.com/nabla-go/nabla/datasets"
	"github.com/nabla-go/nabla/dist"
	"github.com/nabla-go/nabla/internal/workload"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/optim"
)

func init() { roles["train"] = trainRank }

// trainArgs describe a W3 run (the 784-256-128-10 MLP of
// internal/workload, Adam at lr 1e-3) on the first Samples images of
// Fashion-MNIST, shuffled with seed 0.
type trainArgs struct {
	Batch       int    // samples per step and rank
	Steps       int    // the step to stop at
	Samples     int    // the training images used, at most subsetSize
	Data        string // the subset file
	Out         string // rank 0 saves the final weights here
	Ckpt        string // rank 0 saves a checkpoint here every CkptEvery steps
	CkptEvery   int
	Resume      string // a checkpoint to start from
	KillRank    int    // at step KillStep (if > 0) this rank kills itself
	KillStep    int
	KillMark    string // where the killed rank writes the time it died
	Check       bool   // compare the weights of all ranks after every step
	BucketBytes int
	StepSleep   time.Duration // a pause per step, to make room for a kill
	Overlap     bool          // fail unless the first bucket starts before backward ends
}

// subsetSize is how many Fashion-MNIST training images the tests use.
const subsetSize = 2048

// subset is a file of the first subsetSize images (784 bytes each) then
// their labels (a byte each), written once by the test process so that
// the ranks need not decompress the whole training set each.
var (
	subsetOnce sync.Once
	subsetPath string
	subsetErr  error
)

func writeSubset() (string, error) {
	subsetOnce.Do(func() {
		d, err := datasets.FashionMNISTPixels(datasets.FashionMNISTDir, true)
		if err != nil {
			subsetErr = err
			return
		}
		f, err := os.CreateTemp("", "nabla-dist-fashion-*")
		if err != nil {
			subsetErr = err
			return
		}
		b := slices.Clone(d.Pixels[:subsetSize*784])
		for _, l := range d.Labels[:subsetSize] {
			b = append(b, byte(l))
		}
		if _, err := f.Write(b); err != nil {
			subsetErr = err
		}
		f.Close()
		subsetPath = f.Name()
	})
	return subsetPath, subsetErr
}

// fashionSubset returns the first n images of the subset file.
func fashionSubset(path string, n int) (data.Dataset, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if n > subsetSize || len(b) != subsetSize*785 {
		return nil, fmt.Errorf("%s: want %d samples of %d", path, n, subsetSize)
	}
	y := make([]float32, n)
	for i := range y {
		y[i] = float32(b[subsetSize*784+i])
	}
	return data.FromBytes(b[:n*784], []int{n, 1, 28, 28}, 1.0/255, y, []int{n})
}

// weightsHash is a hash of the bits of every parameter.
func weightsHash(m nn.Module) int64 {
	h := fnv.New64a()
	var b [4]byte
	for _, p := range m.Params() {
		for _, v := range p.Tensor.Float32s() {
			u := math.Float32bits(v)
			b[0], b[1], b[2], b[3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
			h.Write(b[:])
		}
	}
	return int64(h.Sum64())
}

// train runs a on this process's rank of the job (a job of one without
// Init's launcher) and returns the model.
func train(a trainArgs) (nn.Module, error) {
	ds, err := fashionSubset(a.Data, a.Samples)
	if err != nil {
		return nil, err
	}
	rank, size := dist.Rank(), dist.Size()
	m := workload.MLP(rand.New(rand.NewPCG(0, 0)))
	opt := optim.NewAdam(m.Params(), optim.AdamConfig{LR: 1e-3})
	step := 0
	if a.Resume != "" {
		ck, err := nn.LoadCheckpoint(a.Resume, m)
		if err != nil {
			return nil, err
		}
		if err := opt.LoadState(ck.Extra["optim."]); err != nil {
			return nil, err
		}
		if step, err = strconv.Atoi(ck.Metadata["step"]); err != nil {
			return nil, fmt.Errorf("checkpoint without a step: %v", err)
		}
	}
	ddp, err := dist.NewDataParallel(m, dist.BucketBytes(a.BucketBytes))
	if err != nil {
		return nil, err
	}
	loader := data.NewLoader(ds, data.LoaderConfig{BatchSize: a.Batch, Shuffle: true, Seed: 0, Labels: true}).Shard(rank, size)
	nb := loader.Len()
	ar := nabla.NewArena()
	overlapped := 0
	for step < a.Steps {
		for _, b := range loader.EpochFrom(step/nb, step%nb) {
			if step == a.KillStep && rank == a.KillRank && a.KillStep > 0 {
				os.WriteFile(a.KillMark, []byte(strconv.FormatInt(time.Now().UnixNano(), 10)), 0o644)
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
			opt.ZeroGrad()
			loss := nn.CrossEntropy(m.Forward(b.X.InArena(ar)), b.Y)
			if err := ddp.Backward(loss); err != nil {
				return nil, fmt.Errorf("step %d: %w", step, err)
			}
			opt.Step()
			ar.Reset()
			step++
			if a.Overlap {
				tr := ddp.Trace()
				first := tr.Buckets[0]
				lead := tr.BackwardEnd.Sub(first.Started)
				rankf(rank, "step %d: backward %v, first bucket (%d B) issued %v before its end, %d buckets averaged %v after it",
					step, tr.BackwardEnd.Sub(tr.BackwardStart), first.Bytes, lead, len(tr.Buckets), tr.Done.Sub(tr.BackwardEnd))
				if lead > 0 {
					overlapped++
				}
			}
			if a.Check {
				all := make([]int64, size)
				if err := dist.AllGather([]int64{weightsHash(m)}, all); err != nil {
					return nil, err
				}
				for r, h := range all {
					if h != all[0] {
						return nil, fmt.Errorf("step %d: the weights of rank %d differ from rank 0's", step, r)
					}
				}
			}
			if a.Ckpt != "" && step%a.CkptEvery == 0 && rank == 0 {
				if err := nn.Save(a.Ckpt, m, nn.WithExtra("optim.", opt.State()), nn.WithMetadata(map[string]string{"step": strconv.Itoa(step)})); err != nil {
					return nil, err
				}
			}
			time.Sleep(a.StepSleep)
			if step == a.Steps {
				break
			}
		}
	}
	if a.Out != "" && rank == 0 {
		if err := nn.Save(a.Out, m); err != nil {
			return nil, err
		}
	}
	if a.Overlap && overlapped < a.Steps/2 {
		return nil, fmt.Errorf("the first bucket's all-reduce started before the backward pass ended in only %d of %d steps", overlapped, a.Steps)
	}
	return m, nil
}

func trainRank(raw json.RawMessage) int {
	var a trainArgs
	if err := json.Unmarshal(raw, &a); err != nil {
		rankf(-1, "%v", err)
		return 3
	}
	if err := dist.Init(); err != nil {
		rankf(-1, "%v", err)
		return 1
	}
	if _, err := train(a); err != nil {
		rankf(dist.Rank(), "%v", err)
		return 1 // no Finalize: it would wait for a lost rank
	}
	if err := dist.Finalize(); err != nil {
		rankf(dist.Rank(), "%v", err)
		return 1
	}
	return 0
}

// needFashion skips the test without Fashion-MNIST, and returns the
// subset file.
func needFashion(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(datasets.FashionMNISTDir, "train-images-idx3-ubyte.gz")); err != nil {
		t.Skipf("Fashion-MNIST not installed in %s (apt-get install dataset-fashion-mnist)", datasets.FashionMNISTDir)
	}
	path, err := writeSubset()
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func loadMLP(t *testing.T, path string) nn.Module {
	t.Helper()
	m := workload.MLP(rand.New(rand.NewPCG(9, 9)))
	if _, err := nn.Load(path, m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDataParallelMatchesOneProcess trains the W3 MLP on 2 ranks at batch
// 64 each, checking after every step that both hold the same weights bit
// for bit, and compares the weights after 10 steps with one process at
// batch 128. The orders agree because Shard gives rank r the samples r,
// r+2, r+4, ... of the epoch's shuffle (the same on both ranks and in the
// one process, from the same seed): batch b of the two ranks together is
// batch b of the one process, and the mean of the two ranks' mean
// gradients is the mean over the 128 samples. With small buckets several
// all-reduces overlap the backward pass.
func TestDataParallelMatchesOneProcess(t *testing.T) {
	fashion := needFashion(t)
	dir := t.TempDir()
	buckets := []int{0, 64 << 10}
	if raceEnabled {
		buckets = buckets[1:]
	}
	for _, bb := range buckets {
		t.Run(fmt.Sprint("bucket", bb), func(t *testing.T) {
			out := filepath.Join(dir, fmt.Sprint("ddp", bb, ".safetensors"))
			mpirun(t, 2, 1, 3*time.Minute, "train", trainArgs{Data: fashion, Batch: 64, Steps: 10, Samples: 1280, Out: out, Check: true, BucketBytes: bb}).ok(t)
			one := trainHere(t, trainArgs{Data: fashion, Batch: 128, Steps: 10, Samples: 1280})
			two := loadMLP(t, out)
			for i, p := range one.Params() {
				a, b := two.Params()[i].Tensor.Float32s(), p.Tensor.Float32s()
				var d2, n2 float64
				for k := range a {
					d := float64(a[k]) - float64(b[k])
					d2 += d * d
					n2 += float64(b[k]) * float64(b[k])
				}
				rel := math.Sqrt(d2 / n2)
				t.Logf("%s: relative difference %.2g", p.Name, rel)
				if rel > 1e-5 {
					t.Errorf("%s: 2 ranks at batch 64 differ from one process at 128 by %.3g relative (> 1e-5)", p.Name, rel)
				}
			}
		})
	}
}

// TestDataParallelOverlap checks that the first bucket's all-reduce is
// issued while the backward pass still runs, with one thread per rank
// (the MPI goroutine shares it with the pass).
func TestDataParallelOverlap(t *testing.T) {
	fashion := needFashion(t)
	res := mpirun(t, 2, 1, 3*time.Minute, "train", trainArgs{Data: fashion, Batch: 64, Steps: 6, Samples: 768, BucketBytes: 64 << 10, Overlap: true})
	t.Logf("job output:\n%s", res.out)
	res.ok(t)
}

// TestDataParallelUnevenShards trains on 3 ranks over a set that does not
// split evenly (the shards are padded) and checks that the ranks stay
// identical.
func TestDataParallelUnevenShards(t *testing.T) {
	fashion := needFashion(t)
	steps := 8
	if raceEnabled {
		steps = 3
	}
	mpirun(t, 3, 1, 3*time.Minute, "train", trainArgs{Data: fashion, Batch: 32, Steps: steps, Samples: 500, Check: true, BucketBytes: 256 << 10}).ok(t)
}

// TestDataParallelResume checks that a run resumed from a checkpoint
// continues bit for bit as the uninterrupted run: 8 steps in one go
// against 4, a checkpoint, and 4 more in a new job (the loader then
// resumes part-way through the second epoch).
func TestDataParallelResume(t *testing.T) {
	fashion := needFashion(t)
	dir := t.TempDir()
	whole, half, resumed := filepath.Join(dir, "whole.safetensors"), filepath.Join(dir, "half.safetensors"), filepath.Join(dir, "resumed.safetensors")
	mpirun(t, 2, 1, 3*time.Minute, "train", trainArgs{Data: fashion, Batch: 64, Steps: 8, Samples: 384, Out: whole}).ok(t)
	mpirun(t, 2, 1, 3*time.Minute, "train", trainArgs{Data: fashion, Batch: 64, Steps: 4, Samples: 384, Ckpt: half, CkptEvery: 4}).ok(t)
	mpirun(t, 2, 1, 3*time.Minute, "train", trainArgs{Data: fashion, Batch: 64, Steps: 8, Samples: 384, Resume: half, Out: resumed}).ok(t)
	a, b := loadMLP(t, whole), loadMLP(t, resumed)
	for i, p := range a.Params() {
		if weightsHash(oneParam{p}) != weightsHash(oneParam{b.Params()[i]}) {
			t.Errorf("%s: the resumed run differs from the uninterrupted one", p.Name)
		}
	}
}

// oneParam is a module of one parameter, to hash it alone.
type oneParam struct{ p nn.Param }

func (o oneParam) Forward(x *nabla.Tensor) *nabla.Tensor { return x }
func (o oneParam) Params() []nn.Param                    { return []nn.Param{o.p} }

// TestDataParallelLostRank kills rank 1 with SIGKILL in the middle of a
// run and checks that rank 0 exits non-zero within 30 s with a message
// naming rank 1, and that the checkpoint rank 0 left behind loads.
func TestDataParallelLostRank(t *testing.T) {
	fashion := needFashion(t)
	dir := t.TempDir()
	ckpt, mark := filepath.Join(dir, "ckpt.safetensors"), filepath.Join(dir, "killed")
	res := mpirun(t, 2, 1, 2*time.Minute, "train", trainArgs{Data: fashion, Batch: 32, Steps: 1000, Samples: 2048, Ckpt: ckpt, CkptEvery: 2,
		KillRank: 1, KillStep: 7, KillMark: mark, StepSleep: 20 * time.Millisecond})
	end := time.Now()
	t.Logf("job output:\n%s", res.out)
	if res.err == nil {
		t.Fatal("the job exited 0 after rank 1 was killed")
	}
	b, err := os.ReadFile(mark)
	if err != nil {
		t.Fatalf("rank 1 did not record its death: %v", err)
	}
	ns, _ := strconv.ParseInt(string(b), 10, 64)
	if d := end.Sub(time.Unix(0, ns)); d > 30*time.Second {
		t.Errorf("the job took %v after the kill to end, want < 30 s", d)
	} else {
		t.Logf("the job ended %v after rank 1 was killed", d.Round(time.Millisecond))
	}
	// rank 0 names it, unless mpirun, which names it too, ended rank 0
	// first (the race detector slows rank 0's check)
	if !strings.Contains(res.out, "lost rank 1") && !strings.Contains(res.out, "process rank 1 ") {
		t.Errorf("no message names rank 1")
	}
	m := workload.MLP(rand.New(rand.NewPCG(9, 9)))
	ck, err := nn.LoadCheckpoint(ckpt, m)
	if err != nil {
		t.Fatalf("the checkpoint left behind does not load: %v", err)
	}
	if s, _ := strconv.Atoi(ck.Metadata["step"]); s < 2 || s > 8 {
		t.Errorf("checkpoint of step %q, want one between 2 and 8", ck.Metadata["step"])
	}
}

// trainHere runs a in this process, a job of one.
func trainHere(t *testing.T, a trainArgs) nn.Module {
	t.Helper()
	if err := dist.Init(); err != nil {
		t.Fatal(err)
	}
	defer dist.Finalize()
	m, err := train(a)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
