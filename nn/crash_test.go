package nn_test

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
)

// crashModel is a checkpoint of about 256 KB whose every value is the step
// it was saved at, so that a file mixing two saves is caught.
type crashModel struct{ w, b *nabla.Tensor }

func newCrashModel(step int) *crashModel {
	return &crashModel{w: nabla.Full(float64(step), 256, 256), b: nabla.Full(float64(step), 256)}
}

func (m *crashModel) Forward(x *nabla.Tensor) *nabla.Tensor { return x }
func (m *crashModel) Params() []nn.Param {
	return []nn.Param{{Name: "w", Tensor: m.w}, {Name: "b", Tensor: m.b}}
}

func saveStep(path string, step int) error {
	return nn.Save(path, newCrashModel(step), nn.WithMetadata(map[string]string{"step": strconv.Itoa(step)}))
}

// loadStep loads the checkpoint at path and returns its step, or an error
// if it does not load or is not the whole of one save.
func loadStep(path string) (int, error) {
	m := newCrashModel(-1)
	meta, err := nn.Load(path, m)
	if err != nil {
		return 0, err
	}
	step, err := strconv.Atoi(meta["step"])
	if err != nil {
		return 0, err
	}
	for _, p := range m.Params() {
		for i, v := range p.Tensor.Float32s() {
			if v != float32(step) {
				return 0, errors.New(p.Name + "[" + strconv.Itoa(i) + "] = " + strconv.FormatFloat(float64(v), 'g', -1, 32) + ", not the step " + meta["step"])
			}
		}
	}
	return step, nil
}

// TestCrashChild is the child process of TestSaveSurvivesSIGKILL and of
// the full-disk test; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	path := os.Getenv("NABLA_CRASH_CHILD")
	if path == "" {
		t.Skip("run as a child process only")
	}
	if limit := os.Getenv("NABLA_CRASH_FSIZE"); limit != "" {
		// Full disk: file writes past the limit fail with EFBIG (with
		// SIGXFSZ ignored), part-way through the checkpoint.
		n, _ := strconv.Atoi(limit)
		signal.Ignore(syscall.SIGXFSZ)
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: uint64(n), Max: uint64(n)}); err != nil {
			t.Fatal(err)
		}
		if err := saveStep(path, 2); err == nil {
			t.Fatal("Save past the file-size limit returned no error")
		} else {
			t.Log("Save failed as it should:", err)
		}
		return
	}
	for step := 1; ; step++ {
		start := time.Now()
		if err := saveStep(path, step); err != nil {
			t.Fatal(err)
		}
		if step == 1 {
			// Tell the parent how long a save takes, so that it kills
			// within a few saves whatever the machine's speed.
			fmt.Printf("%020d\n", time.Since(start).Nanoseconds())
		}
		// The step finished, for the parent to check against; written by
		// rename, so that a kill cannot leave it half-written.
		os.WriteFile(path+".last.tmp", []byte(strconv.Itoa(step)), 0o644)
		os.Rename(path+".last.tmp", path+".last")
	}
}

// TestSaveSurvivesSIGKILL kills a process that saves checkpoints in a loop,
// at random moments, and checks that the file left behind always loads and
// is the whole of one save: the one the process had finished last, or the
// one it was writing. NABLA_CRASH_KILLS sets the number of kills (200 by
// default, 20 with -short or under the race detector).
func TestSaveSurvivesSIGKILL(t *testing.T) {
	kills := 200
	switch {
	case testing.Short():
		kills = 20
	case raceEnabled:
		kills = 20 // the race detector finds nothing in a killed child; save time
	}
	if s := os.Getenv("NABLA_CRASH_KILLS"); s != "" {
		kills, _ = strconv.Atoi(s)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	if err := saveStep(path, 0); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	start := time.Now()
	mid := 0 // kills that left a newer checkpoint than the first
	for k := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
		cmd.Env = append(os.Environ(), "NABLA_CRASH_CHILD="+path)
		ready, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait for the child's first save, then kill it within the time
		// of three more, so that kills land in every phase of a save
		// (writing, syncing, renaming) and between saves.
		buf := make([]byte, 21)
		if _, err := io.ReadFull(ready, buf); err != nil {
			t.Fatalf("kill %d: the child did not save: %v", k, err)
		}
		d, _ := strconv.ParseInt(string(buf[:20]), 10, 64)
		time.Sleep(time.Duration(rng.Int64N(3 * max(d, 1000))))
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		last := -1
		if b, err := os.ReadFile(path + ".last"); err == nil {
			if last, err = strconv.Atoi(string(b)); err != nil {
				t.Fatalf("kill %d: the child's record of its last step is %q", k, b)
			}
		}
		step, err := loadStep(path)
		if err != nil {
			t.Fatalf("kill %d: the checkpoint does not load whole: %v", k, err)
		}
		// Each child starts again from step 1: the file holds the step it
		// finished last, or the next one, or (killed before its first
		// save) what an earlier child left.
		if last >= 0 && step != last && step != last+1 {
			t.Fatalf("kill %d: checkpoint of step %d; the child had finished step %d", k, step, last)
		}
		if step > 0 {
			mid++
		}
		os.Remove(path + ".last")
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*tmp-*"))
	t.Logf("%d kills in %v, %d after at least one save; %d temporary files left by killed saves", kills, time.Since(start).Round(time.Millisecond), mid, len(leftovers))
	if mid == 0 {
		t.Error("no child lived to save once: the kills test nothing")
	}
}

// TestSaveFullDisk makes a save fail part-way, as on a full disk, in two
// ways: a child process whose file-size limit (RLIMIT_FSIZE) stops the
// write, and a 64 KB tmpfs when mounting one is allowed. Either way Save
// returns an error and the previous checkpoint stays whole.
func TestSaveFullDisk(t *testing.T) {
	t.Run("file-size limit", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "ckpt.safetensors")
		if err := saveStep(path, 1); err != nil {
			t.Fatal(err)
		}
		size := 0
		if fi, err := os.Stat(path); err == nil {
			size = int(fi.Size())
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
		cmd.Env = append(os.Environ(), "NABLA_CRASH_CHILD="+path, "NABLA_CRASH_FSIZE="+strconv.Itoa(size/3))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		if step, err := loadStep(path); err != nil || step != 1 {
			t.Fatalf("after the failed save: step %d, %v; want the old checkpoint, step 1", step, err)
		}
		if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp-*")); len(left) != 0 {
			t.Errorf("the failed save left %v", left)
		}
		t.Logf("child: %s", out)
	})
	t.Run("tmpfs", func(t *testing.T) {
		dir := t.TempDir()
		if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=384k"); err != nil {
			t.Skipf("cannot mount a tmpfs here (%v); the file-size limit case covers a full disk", err)
		}
		defer syscall.Unmount(dir, 0)
		path := filepath.Join(dir, "ckpt.safetensors")
		if err := saveStep(path, 1); err != nil {
			t.Fatal(err)
		}
		// A second save needs room for the temporary file beside the old
		// one: 256 KB more than the 384 KB disk has.
		err := saveStep(path, 2)
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("Save on a full disk: %v; want ENOSPC", err)
		}
		if step, err := loadStep(path); err != nil || step != 1 {
			t.Fatalf("after the failed save: step %d, %v; want the old checkpoint, step 1", step, err)
		}
		if left, _ := filepath.Glob(filepath.Join(dir, ".*tmp-*")); len(left) != 0 {
			t.Errorf("the failed save left %v", left)
		}
	})
}
