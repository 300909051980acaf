// Package cli implements the iamsentry command line: one binary with
// sub-commands, each a function of its arguments and standard streams, so
// tests run them in-process.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
)

// Stdio is the standard streams of a command.
type Stdio struct {
	In       io.Reader
	Out, Err io.Writer
}

// Exit codes.
const (
	ExitOK    = 0 // the command did what was asked
	ExitError = 1 // it failed: unreadable input, a bad config, a server error
	ExitUsage = 2 // the command line itself was wrong
)

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, io Stdio) int
}

var commands = []command{
	{"serve", "serve the gRPC detection service", serve},
	{"scan", "run the detectors over CloudTrail files or stdin, in-process", scan},
	{"replay", "stream CloudTrail files or stdin to a server and print its findings", replay},
	{"health", "probe a server's gRPC health (exit 0 when SERVING), for containers", health},
	{"config", "config validate FILE: check a configuration file as serve loads it", configCmd},
	{"version", "print the version", version},
}

// Main runs the command named by args[0] and returns the exit code.
func Main(ctx context.Context, args []string, stdio Stdio) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdio.Err)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdio)
		}
	}
	fmt.Fprintf(stdio.Err, "iamsentry: unknown command %q\n\n", args[0])
	usage(stdio.Err)
	return ExitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "iamsentry catches AWS IAM identity abuse in CloudTrail.")
	fmt.Fprintln(w, "\nUsage: iamsentry <command> [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'iamsentry <command> -h' for a command's flags.")
}

// parseFlags parses args with fs, printing errors and usage to stderr. ok is
// false when the command should exit with code.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (code int, ok bool) {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK, false
		}
		return ExitUsage, false
	}
	return 0, true
}

// Version is set at build time with -ldflags "-X ...cli.Version=v1.2.3";
// otherwise the module version or VCS revision from the build info is used.
var Version = ""

func versionString() string {
	if Version != "" {
		return Version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (" + s.Value[:12] + ")"
		}
	}
	return v
}

func version(_ context.Context, args []string, stdio Stdio) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	if code, ok := parseFlags(fs, args, stdio.Err); !ok {
		return code
	}
	fmt.Fprintf(stdio.Out, "iamsentry %s\n", versionString())
	return ExitOK
}

// newLogger returns the process logger: text on a terminal, JSON otherwise,
// unless format says which.
func newLogger(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want auto, json or text", format)
}
