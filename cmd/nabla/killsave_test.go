package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nabla-go/nabla/cmd/nabla/internal/model"
	"github.com/nabla-go/nabla/nn"
)

// saveLoopEnv names the run folder that the test binary, re-executed by
// TestKillDuringSave, saves into in a loop.
const saveLoopEnv = "NABLA_TEST_SAVE_LOOP"

// saveLoop saves a small digits MLP into the run folder dir again and
// again, the whole save of train (checkpoint, config.json, metrics,
// curves), each generation g with every weight equal to g, and prints
// "saved g" after each. It never returns.
func saveLoop(dir string) {
	src := model.Source{Name: "digits", TestFrac: 0.2, Seed: 1}
	set, err := model.Load(src, model.Classification, 0)
	if err == nil {
		var cfg *model.Config
		if cfg, err = model.New(src, set, "mlp", []int{8}); err == nil {
			var m nn.Module
			if m, err = cfg.Build(rand.New(rand.NewPCG(1, 1))); err == nil {
				t := &trainer{cfg: cfg, m: m, metrics: []epochMetrics{{Epoch: 1, TrainLoss: 1, TestLoss: 1}, {Epoch: 2, TrainLoss: 0.5, TestLoss: 0.6}}}
				for {
					g := generation(dir) + 1
					for _, p := range nn.StateDict(m) {
						v := p.Tensor.Data32()
						for i := range v {
							v[i] = float32(g)
						}
					}
					cfg.Train.Epochs = g
					if err = t.save(dir); err != nil {
						break
					}
					fmt.Printf("saved %d\n", g)
				}
			}
		}
	}
	fmt.Fprintln(os.Stderr, "save loop:", err)
	os.Exit(3)
}

// loadState loads the run folder dir as eval and predict do and returns
// its generation, checking that the weights are those of that generation.
func loadState(dir string) (int, error) {
	ck, err := loadCheckpoint(dir)
	if err != nil {
		return 0, err
	}
	g := ck.cfg.Generation
	if ck.cfg.Train.Epochs != g {
		return g, fmt.Errorf("configuration of generation %d holds the marker of %d", g, ck.cfg.Train.Epochs)
	}
	for _, p := range nn.StateDict(ck.m) {
		for _, v := range p.Tensor.Float32s() {
			if v != float32(g) {
				return g, fmt.Errorf("generation %d: %s holds %v, the weights of another generation", g, p.Name, v)
			}
		}
	}
	return g, nil
}

// TestKillDuringSave kills, with SIGKILL at random moments, a process that
// saves a run folder in a loop, and checks after every kill that the
// folder loads, as the last generation the process reported saved or the
// one after it. It runs 200 kills (20 with -short), or NABLA_KILLS.
func TestKillDuringSave(t *testing.T) {
	kills := 200
	if testing.Short() {
		kills = 20
	}
	if s := os.Getenv("NABLA_KILLS"); s != "" {
		kills, _ = strconv.Atoi(s)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(17, 17))
	start := time.Now()
	last := 0 // the newest generation known to be saved
	spawn := func() (*exec.Cmd, *bufio.Scanner) {
		cmd := exec.Command(self, "-test.run=^$")
		cmd.Env = append(os.Environ(), saveLoopEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var e strings.Builder
		cmd.Stderr = &e
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, bufio.NewScanner(stdout)
	}
	// A first generation, whole, to start from.
	cmd, sc := spawn()
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "saved ") {
			break
		}
	}
	cmd.Process.Kill()
	for sc.Scan() {
	}
	cmd.Wait()
	if last, err = loadState(dir); err != nil {
		t.Fatalf("after the first save: %v", err)
	}
	saves := 0
	for k := range kills {
		cmd, sc := spawn()
		// Let it start and save a few times, then kill it anywhere in a save.
		time.Sleep(time.Duration(20+rng.IntN(130)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for sc.Scan() {
			if g, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "saved ")); err == nil {
				last = max(last, g)
				saves++
			}
		}
		cmd.Wait()
		if st, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || st.Signal() != syscall.SIGKILL {
			t.Fatalf("kill %d: the save loop ended by itself: %v", k+1, cmd.ProcessState)
		}
		g, err := loadState(dir)
		if err != nil {
			t.Fatalf("kill %d: the run folder does not load: %v", k+1, err)
		}
		if g != last && g != last+1 {
			t.Fatalf("kill %d: the folder holds generation %d; the last one saved was %d", k+1, g, last)
		}
		last = g
	}
	stale, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	if len(stale) > len(runFiles) {
		t.Errorf("%d temporary files left: %v", len(stale), stale)
	}
	t.Logf("%d kills, %d saves completed between them, generation %d, %d temporary files left by the last kill, %.1fs",
		kills, saves, last, len(stale), time.Since(start).Seconds())
	// The next save removes what the kills left.
	cmd, sc = spawn()
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "saved ") {
			break
		}
	}
	cmd.Process.Kill()
	for sc.Scan() {
	}
	cmd.Wait()
	if _, err := loadState(dir); err != nil {
		t.Fatal(err)
	}
	stale, _ = filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	if len(stale) > len(runFiles) {
		t.Errorf("after a whole save: %d temporary files: %v", len(stale), stale)
	}
}
