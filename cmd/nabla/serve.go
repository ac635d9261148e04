package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/nabla-go/nabla/hf"
	"github.com/nabla-go/nabla/hf/serve"
)

const serveUsage = `serve --hf DIR [--addr 127.0.0.1:8080] [flags]

Serves a pretrained language model (a Hugging Face model folder, as for generate) over
HTTP with OpenAI's API:

  POST /v1/completions        {"prompt": "...", "max_tokens": 64, "temperature": 0, "stream": true}
  POST /v1/chat/completions   {"messages": [{"role": "user", "content": "..."}]}
  POST /v1/embeddings         {"input": ["...", "..."]}   (mean-pooled hidden states)
  GET  /v1/models, /healthz

for example

  curl http://127.0.0.1:8080/v1/completions -H 'Content-Type: application/json' \
       -d '{"prompt": "The capital of France is", "max_tokens": 16, "temperature": 0}'

There is no authentication: keep --addr on a loopback address unless the network is
trusted. Ctrl-C stops the server after the running requests finish (at most 10 s).`

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var dir, addr, name, dtype string
	var o serve.Options
	fs := newFlags("serve", serveUsage, stdout)
	fs.StringVar(&dir, "hf", "", "a Hugging Face model folder")
	fs.StringVar(&dtype, "dtype", "float32", "dtype of the weight matrices: float32 or bfloat16 (half the memory)")
	fs.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on, host:port (port 0 picks a free one)")
	fs.StringVar(&name, "name", "", "the model's id in the API (default: the folder's name)")
	fs.IntVar(&o.MaxConcurrent, "max-concurrent", 0, "generations that run at once (default GOMAXPROCS)")
	fs.IntVar(&o.MaxQueue, "max-queue", 0, "requests that may wait for a slot; more get 429 (default 4 × --max-concurrent)")
	fs.IntVar(&o.MaxTokens, "max-tokens", 512, "largest max_tokens a request may ask for")
	fs.IntVar(&o.MaxPromptTokens, "max-prompt-tokens", 0, "longest prompt, in tokens (default: the model's context)")
	fs.Int64Var(&o.MaxBodyBytes, "max-body", 1<<20, "largest request body, in bytes")
	fs.DurationVar(&o.Timeout, "timeout", 2*time.Minute, "longest time a request may generate")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if dir == "" {
		return usagef("--hf DIR (a Hugging Face model folder) is required")
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"max-concurrent", int64(o.MaxConcurrent)}, {"max-queue", int64(o.MaxQueue)}, {"max-tokens", int64(o.MaxTokens)}, {"max-prompt-tokens", int64(o.MaxPromptTokens)}, {"max-body", o.MaxBodyBytes}} {
		if f.v < 0 {
			return usagef("invalid value %d for --%s: want 0 or more", f.v, f.name)
		}
	}
	if o.Timeout <= 0 {
		return usagef("invalid value %v for --timeout: want more than 0", o.Timeout)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("invalid value %q for --addr: %v", addr, err)
	}
	wdt, err := weightDType(dtype)
	if err != nil {
		return err
	}
	p, err := hf.Load(dir, wdt)
	if err != nil {
		return err
	}
	if name == "" {
		abs, _ := filepath.Abs(dir)
		name = filepath.Base(abs)
	}
	o.ModelName = name
	s := serve.New(p, o)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		fmt.Fprintf(stderr, "nabla serve: warning: listening on %s, beyond this machine; the server has no authentication\n", ln.Addr())
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	fmt.Fprintf(stdout, "serving %s (%s) on http://%s\n", name, p.Config.ModelType, ln.Addr())
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = hs.Shutdown(shut)
	if errors.Is(err, context.DeadlineExceeded) {
		hs.Close()
		err = nil
	}
	fmt.Fprintln(stdout, "stopped")
	return err
}
