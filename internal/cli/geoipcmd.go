package cli

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"time"

	"github.com/iamsentry/iamsentry/internal/geoipdata"
)

const geoipUpdateDetails = `Downloads the pinned ip-location-db packages from the npm registry (a
country MMDB, CC0/CC BY 4.0, and an IP-to-ASN table, CC BY 4.0), checks
their digests, builds asn.mmdb from the table, and writes country.mmdb,
asn.mmdb and NOTICE (the attribution) into --dir. serve and scan use the
databases there when the configuration names none. Run it again to
refresh; readers see either the old or the new file, never half of one.`

// geoipCmd runs `iamsentry geoip <subcommand>`.
func geoipCmd(ctx context.Context, args []string, stdio Stdio) int {
	if len(args) == 0 || args[0] != "update" {
		fs := flag.NewFlagSet("geoip update", flag.ContinueOnError)
		code, _ := parseFlags(fs, []string{"-h"}, stdio.Err)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return code
		}
		return ExitUsage
	}
	return geoipUpdate(ctx, args[1:], stdio)
}

func geoipUpdate(ctx context.Context, args []string, stdio Stdio) int {
	fs := flag.NewFlagSet("geoip update", flag.ContinueOnError)
	dir := fs.String("dir", geoipdata.DefaultDir(), "directory to write the databases to (default: $"+geoipdata.EnvDir+", else /var/lib/iamsentry/geoip when it holds databases, else ~/.local/share/iamsentry/geoip)")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up on the downloads after this long")
	if code, ok := parseFlags(fs, args, stdio.Err); !ok {
		return code
	}
	if fs.NArg() != 0 || *dir == "" {
		fmt.Fprintln(stdio.Err, "iamsentry geoip update: want no arguments and a --dir")
		return ExitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := geoipdata.Update(ctx, http.DefaultClient, *dir, stdio.Err); err != nil {
		fmt.Fprintf(stdio.Err, "iamsentry geoip update: %v\n", err)
		return ExitError
	}
	return ExitOK
}
