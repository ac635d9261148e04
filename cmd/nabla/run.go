package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/nabla-go/nabla"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailure     = 1   // the work failed: a missing or corrupt file, ...
	exitUsage       = 2   // bad usage: unknown flag, bad flag value
	exitInterrupted = 130 // stopped by Ctrl-C (128 + SIGINT)
)

// command is one subcommand: nabla NAME [flags].
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands holds the subcommands by name. Add one by adding an entry.
var commands = map[string]command{
	"train":   {"train a model and save it with its metrics and learning curves", runTrain},
	"eval":    {"evaluate a trained model: accuracy, precision, recall, confusion matrix", runEval},
	"predict": {"classify CSV rows or PNG images with a trained model", runPredict},
	"graph":   {"write the computational graph of one training step (DOT, SVG)", runGraph},
	"bench":   {"run the benchmark workloads of DESIGN.md, one JSON line per figure", runBench},
}

// usageError is an error in the command line: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// errInterrupted is returned by a command stopped by its context (Ctrl-C)
// after it has said what it saved.
var errInterrupted = errors.New("interrupted")

// run runs the nabla command line args (without the program name) and
// returns the exit code. It never panics: a panic in a command is reported
// as one line.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	name := "nabla"
	defer func() {
		if r := recover(); r != nil {
			msg := fmt.Sprint(r)
			if e, ok := r.(error); ok {
				msg = e.Error()
			}
			fmt.Fprintf(stderr, "%s: internal error: %s\n", name, strings.ReplaceAll(msg, "\n", " "))
			code = exitFailure
		}
	}()
	if len(args) == 0 {
		topUsage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if _, ok := commands[args[1]]; ok {
				return run(ctx, []string{args[1], "--help"}, stdout, stderr)
			}
		}
		topUsage(stdout)
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "nabla: unknown command %q; run 'nabla help' for the list\n", args[0])
		return exitUsage
	}
	name = "nabla " + args[0]
	err := cmd.run(ctx, args[1:], stdout, stderr)
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errInterrupted):
		return exitInterrupted
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for usage.\n", name, oneLine(err), name)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "%s: %v\n", name, oneLine(err))
		return exitFailure
	}
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

func topUsage(w io.Writer) {
	fmt.Fprint(w, "nabla trains, evaluates and inspects neural networks built with nabla.\n\nUsage:\n\n\tnabla COMMAND [flags]\n\nCommands:\n\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(w, "\t%-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, "\nRun 'nabla COMMAND --help' for the flags of a command.\n")
}

// flagSet is a subcommand's flags with its usage text.
type flagSet struct {
	*flag.FlagSet
	usage  string
	stdout io.Writer
}

// newFlags returns a flag set for a subcommand that reports errors itself
// (run prints them on one line) and prints its help to stdout.
func newFlags(name, usage string, stdout io.Writer) *flagSet {
	fs := flag.NewFlagSet("nabla "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{fs, usage, stdout}
}

// printUsage prints the usage text and the flags.
func (fs *flagSet) printUsage() {
	fmt.Fprintf(fs.stdout, "Usage: nabla %s\n\nFlags:\n\n", fs.usage)
	fs.SetOutput(fs.stdout)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// parse parses args into fs; a parse error is a usage error, and --help
// prints the usage and returns flag.ErrHelp.
func parse(fs *flagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		fs.printUsage()
		return err
	default:
		return usageError{err}
	}
}

// intList is a flag holding comma-separated positive integers, e.g.
// --hidden 256,128.
type intList []int

func (l *intList) String() string {
	s := make([]string, len(*l))
	for i, v := range *l {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

func (l *intList) Set(v string) error {
	*l = nil
	if strings.TrimSpace(v) == "" {
		return nil
	}
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return fmt.Errorf("%q is not a positive whole number", f)
		}
		*l = append(*l, n)
	}
	return nil
}

// maybe runs f and turns a nabla shape, gradient or value panic into an
// error.
func maybe(f func()) error { return nabla.Maybe(f) }

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
