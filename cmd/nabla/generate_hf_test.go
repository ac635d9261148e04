package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nabla-go/nabla/hf"
)

var tinyGPT2 = filepath.Join("..", "..", "hf", "testdata", "gpt2-tiny")

func TestGenerateHF(t *testing.T) {
	p, err := hf.Load(tinyGPT2)
	if err != nil {
		t.Fatal(err)
	}
	want, err := p.GenerateText("The light of the sun", hf.GenerateOptions{MaxTokens: 12})
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, "generate", "--hf", tinyGPT2, "--prompt", "The light of the sun", "--tokens", "12")
	if code != 0 || out != want+"\n" {
		t.Errorf("exit %d, stdout %q, stderr %q; want %q", code, out, errOut, want+"\n")
	}
	// sampling with a seed repeats itself
	args := []string{"generate", "--hf", tinyGPT2, "--prompt", "The light", "--tokens", "12", "--temperature", "1.2", "--top-k", "50", "--top-p", "0.9", "--seed", "5", "--stats"}
	_, a, stats := runCmd(t, args...)
	_, b, _ := runCmd(t, args...)
	if a != b || !strings.Contains(stats, "tokens/s") {
		t.Errorf("the same seed gave %q and %q (stderr %q)", a, b, stats)
	}

	// a bfloat16 checkpoint generates the same text with its weights kept
	// in bfloat16 (the products are float32 either way)
	bf16 := filepath.Join("..", "..", "hf", "testdata", "llama-tiny-bf16")
	_, w32, _ := runCmd(t, "generate", "--hf", bf16, "--prompt", "The light of the sun", "--tokens", "12")
	code, w16, errOut := runCmd(t, "generate", "--hf", bf16, "--prompt", "The light of the sun", "--tokens", "12", "--dtype", "bfloat16")
	if code != 0 || w16 != w32 || w16 == "" {
		t.Errorf("--dtype bfloat16: exit %d, stdout %q, stderr %q; float32 gave %q", code, w16, errOut, w32)
	}

	bert := t.TempDir()
	os.WriteFile(filepath.Join(bert, "config.json"), []byte(`{"model_type": "bert", "vocab_size": 10}`), 0o644)
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--prompt", "a"}, exitUsage, "--hf DIR"},
		{[]string{"--hf", tinyGPT2}, exitUsage, "--prompt is required"},
		{[]string{"--hf", tinyGPT2, "--checkpoint", "run", "--prompt", "a"}, exitUsage, "not both"},
		{[]string{"--checkpoint", "runs/x", "--prompt", "a"}, exitFailure, "runs/x/config.json"},
		{[]string{"--hf", tinyGPT2, "--prompt", "a", "--top-p", "2"}, exitUsage, "--top-p"},
		{[]string{"--hf", tinyGPT2, "--prompt", "a", "--tokens", "0"}, exitUsage, "--tokens"},
		{[]string{"--hf", tinyGPT2, "--prompt", "a", "--tokens", "1000"}, exitFailure, "positions"},
		{[]string{"--hf", t.TempDir(), "--prompt", "a"}, exitFailure, "config.json"},
		{[]string{"--hf", bert, "--prompt", "a"}, exitFailure, `model_type "bert" is not supported`},
		{[]string{"--hf", tinyGPT2, "--prompt", "a", "extra"}, exitUsage, "unexpected argument"},
		{[]string{"--hf", tinyGPT2, "--prompt", "a", "--dtype", "float16"}, exitUsage, "--dtype"},
	} {
		code, _, errOut := runCmd(t, append([]string{"generate"}, c.args...)...)
		if code != c.code || !strings.Contains(errOut, c.msg) || strings.Count(strings.TrimSpace(errOut), "\n") > 1 {
			t.Errorf("generate %q: exit %d, stderr %q; want exit %d naming %q", c.args, code, errOut, c.code, c.msg)
		}
	}
}

// TestServeCommand starts nabla serve on a free loopback port, asks it
// for a completion and stops it as Ctrl-C would.
func TestServeCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	codes := make(chan int, 1)
	go func() {
		var errOut strings.Builder
		codes <- run(ctx, []string{"serve", "--hf", tinyGPT2, "--addr", "127.0.0.1:0", "--max-concurrent", "2"}, pw, &errOut)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatalf("serve printed nothing; exit %d", <-codes)
	}
	first := lines.Text()
	go io.Copy(io.Discard, pr)
	_, url, ok := strings.Cut(first, " on ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("first line %q names no address", first)
	}
	resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(`{"prompt": "The light", "max_tokens": 3, "temperature": 0}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"completion_tokens":3`) {
		t.Errorf("completion: %d %s", resp.StatusCode, body)
	}
	cancel()
	select {
	case code := <-codes:
		if code != 0 {
			t.Errorf("serve stopped with exit %d", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop after its context was cancelled")
	}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{nil, "--hf DIR"},
		{[]string{"--hf", tinyGPT2, "--addr", "nonsense"}, "--addr"},
		{[]string{"--hf", tinyGPT2, "--timeout", "0s"}, "--timeout"},
		{[]string{"--hf", tinyGPT2, "--max-tokens", "-1"}, "--max-tokens"},
	} {
		code, _, errOut := runCmd(t, append([]string{"serve"}, c.args...)...)
		if code != exitUsage || !strings.Contains(errOut, c.msg) {
			t.Errorf("serve %q: exit %d, stderr %q; want exit 2 naming %q", c.args, code, errOut, c.msg)
		}
	}
}
