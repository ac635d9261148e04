package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// lmText writes a small UTF-8 text (the start of Opticks, or a made-up one
// where GOROOT has no testdata) and returns its path.
func lmText(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "src", "testdata", "Isaac.Newton-Opticks.txt"))
	if err != nil {
		b = []byte(strings.Repeat("The Light of the Sun is refracted by a Prism into Colours. ", 400))
	}
	if len(b) > 40000 {
		b = b[:40000]
	}
	path := filepath.Join(t.TempDir(), "text.txt")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLanguageModelCommands trains a tiny GPT and a tiny LSTM with
// --data text, then evaluates and generates from each, and checks the
// errors a user can provoke.
func TestLanguageModelCommands(t *testing.T) {
	textFile := lmText(t)
	for _, model := range []string{"gpt", "lstm"} {
		t.Run(model, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			code, stdout, stderr := runCmd(t, "train", "--data", "text", "--text-file", textFile, "--model", model, "--layers", "1", "--heads", "2",
				"--embed", "16", "--hidden", "16", "--context", "16", "--steps", "20", "--eval-every", "10", "--batch-size", "8", "--lr", "3e-3", "--out", out)
			if code != 0 {
				t.Fatalf("train: exit %d\n%s%s", code, stdout, stderr)
			}
			if !strings.Contains(stdout, "step    20/20") || !strings.Contains(stdout, "val_ppl") {
				t.Errorf("train printed no step 20 with a validation perplexity:\n%s", stdout)
			}
			for _, f := range []string{checkpointFile, configFile, metricsFile, curvesFile} {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Errorf("run folder: %v", err)
				}
			}
			code, stdout, stderr = runCmd(t, "eval", "--checkpoint", out, "--data", textFile)
			if code != 0 || !strings.Contains(stdout, "perplexity") {
				t.Errorf("eval: exit %d\n%s%s", code, stdout, stderr)
			}
			// greedy generation is deterministic and continues the prompt
			gen := func(args ...string) (int, string, string) {
				return runCmd(t, append([]string{"generate", "--checkpoint", out}, args...)...)
			}
			c1, g1, e1 := gen("--prompt", "The ", "--tokens", "12")
			_, g2, _ := gen("--prompt", "The ", "--tokens", "12")
			if c1 != 0 || g1 != g2 || !strings.HasPrefix(g1, "The ") || len([]rune(strings.TrimSuffix(g1, "\n"))) != 4+12 {
				t.Errorf("generate: exit %d, %q then %q\n%s", c1, g1, g2, e1)
			}
			if code, _, stderr := gen("--prompt", "The ☃", "--tokens", "3"); code != 1 || !strings.Contains(stderr, "'☃'") {
				t.Errorf("a prompt character outside the vocabulary: exit %d, %q", code, stderr)
			}
			if model == "gpt" {
				if code, _, stderr := gen("--prompt", strings.Repeat("e", 40), "--tokens", "3"); code != 2 || !strings.Contains(stderr, "context of 16") {
					t.Errorf("a prompt longer than the context: exit %d, %q", code, stderr)
				}
				// past the context the window slides
				if code, g, stderr := gen("--prompt", "The ", "--tokens", "30"); code != 0 || len([]rune(g)) < 30 {
					t.Errorf("30 tokens from a context of 16: exit %d, %q, %s", code, g, stderr)
				}
			}
		})
	}
	// a checkpoint of another architecture
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	for _, r := range []struct{ dir, model string }{{a, "gpt"}, {b, "lstm"}} {
		if code, o, e := runCmd(t, "train", "--data", "text", "--text-file", textFile, "--model", r.model, "--layers", "1", "--heads", "2", "--embed", "8",
			"--hidden", "8", "--context", "8", "--steps", "2", "--eval-every", "2", "--out", r.dir); code != 0 {
			t.Fatalf("train %s: exit %d\n%s%s", r.model, code, o, e)
		}
	}
	if err := os.Rename(filepath.Join(b, checkpointFile), filepath.Join(a, checkpointFile)); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCmd(t, "generate", "--checkpoint", a, "--prompt", "The", "--tokens", "2"); code != 1 || !strings.Contains(stderr, "gpt model") {
		t.Errorf("an LSTM checkpoint in a GPT run: exit %d, %q", code, stderr)
	}
	for _, args := range [][]string{
		{"train", "--data", "text"},
		{"train", "--data", "text", "--text-file", textFile, "--model", "cnn"},
		{"train", "--data", "text", "--text-file", textFile, "--embed", "10", "--heads", "4"},
		{"train", "--data", "text", "--text-file", textFile, "--val-frac", "1"},
	} {
		if code, _, stderr := runCmd(t, args...); code != 2 || strings.Count(stderr, "\n") > 2 {
			t.Errorf("%v: exit %d, %q; want a usage error", args, code, stderr)
		}
	}
}
