package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/nabla-go/nabla/internal/workload"
	_ "github.com/nabla-go/nabla/internal/workload/w9" // registers W9
)

const benchUsage = `bench [flags]

Runs the benchmark workloads of docs/DESIGN.md and prints one JSON line per
figure, in the form bench/compare.py joins with PyTorch's:

  {"workload": "W2", "case": "1elem", "impl": "nabla", "metric": "fwd_bwd_us_per_op", "value": 0.41, "unit": "us", "threads": 1}

  W1  float32 GEMM at 256, 512, 1024, 2048 and (128x784)x(784x256): gflops
  W2  a chain of 10,000 element-wise ops on 1 and 64x64 elements: us per op
  W3  the 784-256-128-10 MLP on Fashion-MNIST, batch 128, Adam: sec_per_epoch,
      test_accuracy after --epochs epochs, peak_rss_mib
  W4  LeNet-5 on Fashion-MNIST, batch 64, Adam, one epoch: same metrics
  W5  the W3 MLP on one image, forward only: us_per_call

Only when named (--workloads W6,W7,W8,W9,W10,OPS):

  W6  a GPT on Isaac Newton's Opticks (GOROOT/src/testdata, or --text-file),
      character level: 4 layers, 4 heads, embedding 128, context 128,
      batch 32, AdamW 3e-4, no dropout: sec_per_step, tokens_per_sec; with
      --w6-val-steps N also val_loss after N steps of a fresh model
  W7  an LSTM language model on Opticks: embedding 128, 2 layers of 256,
      context 64, batch 32, Adam: sec_per_step
  W8  greedy generation with the W6 GPT (context 512) and its KV cache,
      batch 1, 256 new tokens after 16: tokens_per_sec
  W9  torchvision's resnet18 from the ONNX file that
      bench/reference/make_onnx_reference.py --large writes (its folder:
      --models-dir or $NABLA_ONNX_MODELS), inference on 224x224 images at
      batch 1 and 16: ms_per_batch
  W10 greedy generation with a LLaMA-style decoder: tokens_per_sec, ttft_ms

  OPS single ops on (256, 4096) float32 tensors, one case each: add, mul,
      add_bias, relu, tanh, sigmoid, gelu, exp, softmax, log_softmax,
      sum_rows, sum_cols, max_rows, mean, var_rows, transpose_contiguous,
      layer_norm, cross_entropy, gelu_tanh; and on inputs of their own: bmm
      (32 of 128x64 by 64x128), embedding (4,096 rows of an 8192x256
      table), conv3x3, batchnorm2d and max_pool2d (3x3, stride 2) on
      (4, 64, 56, 56), sdpa_causal (8x4 heads of 128x32): fwd_us (no graph)
      and fwd_bwd_us (forward, backward from ones, ZeroGrad), us per call`

// runBench is the bench subcommand.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", benchUsage, stdout)
	quick := fs.Bool("quick", false, "a short run (under a minute); W3 and W4 on 2,048 images for one epoch, OPS in a few seconds")
	wl := fs.String("workloads", "W1,W2,W3,W4,W5", "comma-separated workloads to run: W1..W10, OPS")
	threads := intList{1}
	fs.Var(&threads, "threads", "comma-separated thread counts (GOMAXPROCS) to measure")
	dataDir := fs.String("data-dir", "", "Fashion-MNIST folder (default: Debian's /usr/share/datasets/fashion-mnist)")
	epochs := fs.Int("epochs", 5, "W3 epochs; the accuracy is read after the last")
	textFile := fs.String("text-file", "", "W6..W8 corpus (default: Opticks from GOROOT/src/testdata)")
	valSteps := fs.Int("w6-val-steps", 0, "also report W6's validation loss after this many training steps (0: not)")
	modelsDir := fs.String("models-dir", "", "W9's folder holding resnet18.onnx (default: $NABLA_ONNX_MODELS)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the run to `file`")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *epochs <= 0 {
		return usagef("--epochs must be positive, got %d", *epochs)
	}
	if *valSteps < 0 {
		return usagef("--w6-val-steps must not be negative, got %d", *valSteps)
	}
	var names []string
	for _, w := range strings.Split(*wl, ",") {
		w = strings.ToUpper(strings.TrimSpace(w))
		switch w {
		case "":
		case "W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9", "W10", "OPS":
			names = append(names, w)
		default:
			return usagef("unknown workload %q in --workloads (want W1..W10 or OPS)", w)
		}
	}
	enc := json.NewEncoder(stdout)
	cfg := workload.Config{Workloads: names, Threads: threads, Quick: *quick, DataDir: *dataDir, Epochs: *epochs,
		TextFile: *textFile, W6ValSteps: *valSteps, ModelsDir: *modelsDir}
	err := workload.Run(ctx, cfg, func(r workload.Result) { enc.Encode(r) })
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "nabla bench: interrupted")
		return errInterrupted
	}
	return err
}
