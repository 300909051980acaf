package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
)

// configCmd runs `iamsentry config <subcommand>`.
func configCmd(ctx context.Context, args []string, stdio Stdio) int {
	if len(args) == 0 || args[0] != "validate" {
		// The one subcommand's help, in the form every command's has.
		fs := flag.NewFlagSet("config validate", flag.ContinueOnError)
		code, _ := parseFlags(fs, []string{"-h"}, stdio.Err)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return code
		}
		return ExitUsage
	}
	return configValidate(ctx, args[1:], stdio)
}

// configValidate checks a configuration file as serve would load it (and
// as SIGHUP would reload it): strict keys, every value, the detectors'
// settings and GeoIP databases, suppress entries, sinks and the Redis URL.
func configValidate(_ context.Context, args []string, stdio Stdio) int {
	fs := flag.NewFlagSet("config validate", flag.ContinueOnError)
	if code, ok := parseFlags(fs, args, stdio.Err); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stdio.Err, "iamsentry config validate: want exactly one FILE")
		return ExitUsage
	}
	path := fs.Arg(0)
	built, err := loadConfig(path)
	if err != nil {
		// One problem a line, without the file name loadConfig puts
		// before the first: the last line names the file.
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		for _, line := range errorLines(err) {
			fmt.Fprintf(stdio.Out, "error: %s\n", line)
		}
		fmt.Fprintf(stdio.Err, "%s: invalid\n", path)
		return ExitError
	}
	defer built.Close()
	if built.redis != nil {
		// Say what serve would connect to, password hidden.
		fmt.Fprintf(stdio.Out, "redis: %s (redis.url; the --redis flag and $REDIS_URL override it)\n", built.redis)
	}
	fmt.Fprintf(stdio.Out, "detectors enabled: %s\n", strings.Join(enabledIDs(built.Registry), ", "))
	fmt.Fprintf(stdio.Out, "suppress entries: %d\nsinks: %d\n", len(built.Suppress), len(built.Sinks))
	fmt.Fprintf(stdio.Out, "%s\n", built.geoNote)
	for _, n := range built.Notes {
		fmt.Fprintf(stdio.Out, "note: %s\n", n)
	}
	for _, w := range built.Warnings {
		fmt.Fprintf(stdio.Out, "warning: %s\n", w)
	}
	fmt.Fprintf(stdio.Err, "%s: valid\n", path)
	return ExitOK
}
