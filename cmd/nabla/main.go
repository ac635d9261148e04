// Command nabla trains, evaluates and inspects neural networks built with
// nabla, on the embedded data sets (digits, iris, diabetes), on
// Fashion-MNIST and MNIST, or on CSV and IDX files.
//
//	nabla train                       # an MLP on the digits, in seconds
//	nabla train --data fashion-mnist --model cnn --epochs 1
//	nabla eval --checkpoint runs/digits-mlp
//	nabla predict --checkpoint runs/digits-mlp digit.png
//	nabla graph --model cnn --out graph.dot
//	nabla generate --hf DIR --prompt "The light" --tokens 32   # a Hugging Face model folder
//	nabla serve --hf DIR --addr 127.0.0.1:8080                  # OpenAI's HTTP API
//	nabla version
//
// Run "nabla help" or "nabla COMMAND --help" for the flags. The exit code is
// 0 on success, 1 when the work fails (a missing or corrupt file), 2 for bad
// usage (an unknown flag or a bad flag value, an existing --out without
// --overwrite) and 130 when training is interrupted with Ctrl-C (after
// saving a checkpoint).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills at once
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
