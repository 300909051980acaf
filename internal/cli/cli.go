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
	"strings"
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

// help is what a command's -h prints, in one form for every command: a
// usage line, the one-line summary (also its line in the command list),
// details when there are any, then the flags.
type help struct {
	name    string // as typed after "iamsentry"
	args    string // what the usage line shows after the name
	summary string // one line, lower case, no final period
	details string // paragraphs after the summary; may be empty
}

// helps holds every command's help, in the order the command list shows
// them; names with a space are sub-commands, shown only in their own help.
var helps = []help{
	{"serve", "[flags]", "serve the gRPC detection service", serveDetails},
	{"scan", "[flags] PATH... | -", "run the detectors over CloudTrail files or stdin, in-process", scanDetails},
	{"replay", "[flags] PATH... | -", "stream CloudTrail files or stdin to a server and print its findings", replayDetails},
	{"health", "[flags]", "probe a server's gRPC health, for container probes without grpcurl", healthDetails},
	{"config", "validate FILE", "check a configuration file as serve loads it", ""},
	{"config validate", "FILE", "check a configuration file as serve loads it", configValidateDetails},
	{"geoip", "update [flags]", "fetch the free GeoIP country and ASN databases serve and scan use by default", ""},
	{"geoip update", "[flags]", "fetch the free GeoIP country and ASN databases serve and scan use by default", geoipUpdateDetails},
	{"version", "", "print the version", ""},
}

// commands maps a command's name to its implementation.
var commands = map[string]func(ctx context.Context, args []string, io Stdio) int{
	"serve":   serve,
	"scan":    scan,
	"replay":  replay,
	"health":  health,
	"config":  configCmd,
	"geoip":   geoipCmd,
	"version": version,
}

const configValidateDetails = `Loads and builds FILE exactly as serve does (and as SIGHUP reloads it):
prints every error (exit 1), or what the configuration enables and the
notes detectors give (exit 0).`

const serveDetails = `Listens on --listen (:50051) with the embedded state store unless --redis,
$REDIS_URL or the configuration names Redis. Logs go to standard error.
SIGTERM or Ctrl-C stops it gracefully; SIGHUP reloads --config and --tokens.`

// Main runs the command named by args[0] and returns the exit code.
func Main(ctx context.Context, args []string, stdio Stdio) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdio.Err)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	if run, ok := commands[args[0]]; ok {
		return run(ctx, args[1:], stdio)
	}
	fmt.Fprintf(stdio.Err, "iamsentry: unknown command %q\n\n", args[0])
	usage(stdio.Err)
	return ExitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "iamsentry catches AWS IAM identity abuse in CloudTrail.")
	fmt.Fprintln(w, "\nUsage: iamsentry <command> [flags]\n\nCommands:")
	for _, h := range helps {
		if !strings.Contains(h.name, " ") {
			fmt.Fprintf(w, "  %-8s %s\n", h.name, h.summary)
		}
	}
	fmt.Fprintln(w, "\nRun 'iamsentry <command> -h' for a command's flags.")
}

// printHelp writes the help of the command fs parses.
func printHelp(fs *flag.FlagSet, h help) {
	w := fs.Output()
	fmt.Fprintf(w, "Usage: %s\n\n", strings.TrimSpace("iamsentry "+h.name+" "+h.args))
	fmt.Fprintf(w, "%s%s.\n\n", strings.ToUpper(h.summary[:1]), h.summary[1:])
	if h.details != "" {
		fmt.Fprintf(w, "%s\n\n", strings.TrimSpace(h.details))
	}
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprintln(w, "Flags:")
		fs.PrintDefaults()
	}
}

// parseFlags parses args with fs, printing errors and the command's help
// (found by the flag set's name) to stderr. ok is false when the command
// should exit with code.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (code int, ok bool) {
	fs.SetOutput(stderr)
	for _, h := range helps {
		if h.name == fs.Name() {
			fs.Usage = func() { printHelp(fs, h) }
		}
	}
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
