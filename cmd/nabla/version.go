package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

func runVersion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", "version\n\nPrints the module version of nabla, the Go version it was built with and, when the\nbuild recorded it, the commit.", stdout)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (version takes no arguments)", fs.Arg(0))
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintf(stdout, "nabla (no build information) %s\n", runtime.Version())
		return nil
	}
	fmt.Fprint(stdout, versionLine(info), "\n")
	return nil
}

// versionLine describes a build: "nabla VERSION GOVERSION" and, when the
// build stamped them, the commit, its time and whether the tree had
// changes.
func versionLine(info *debug.BuildInfo) string {
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	line := fmt.Sprintf("nabla %s %s", v, info.GoVersion)
	var rev, when, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" {
		line += " commit " + rev
		if when != "" {
			line += " (" + when + ")"
		}
		if modified == "true" {
			line += " with local changes"
		}
	}
	return line
}
