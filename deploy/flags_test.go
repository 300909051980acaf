package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/internal/cli"
)

// The fixed interface of the server's admin listener (issue 6): used when
// the flag is absent from the arguments.
const defaultAdminListen = ":9090"

// serveArgs is a serve command line: ["serve", flags...].
type serveArgs []string

// check reports every flag of a serve command line that serve does not
// define or whose value it refuses, one error per flag.
func (a serveArgs) check() error {
	if len(a) == 0 || a[0] != "serve" {
		return fmt.Errorf("command %q does not start with the serve sub-command", []string(a))
	}
	fs := cli.ServeFlags()
	var errs []error
	for i := 1; i < len(a); i++ {
		name, value, hasValue := splitFlag(a[i])
		if name == "" {
			errs = append(errs, fmt.Errorf("argument %q: serve takes no positional arguments", a[i]))
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			errs = append(errs, fmt.Errorf("flag --%s: not defined by iamsentry serve", name))
			continue
		}
		if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() && !hasValue {
			continue
		}
		if !hasValue {
			if i+1 >= len(a) {
				errs = append(errs, fmt.Errorf("flag --%s: missing value", name))
				continue
			}
			i++
			value = a[i]
		}
		if err := fs.Set(name, value); err != nil {
			errs = append(errs, fmt.Errorf("flag --%s: value %q refused: %w", name, value, err))
		}
	}
	return errors.Join(errs...)
}

// value returns the value of flag name in the command line, or its default:
// serve's default when serve defines the flag, else def.
func (a serveArgs) value(name, def string) string {
	for i := 1; i < len(a); i++ {
		n, v, hasValue := splitFlag(a[i])
		if n != name {
			continue
		}
		if hasValue {
			return v
		}
		if i+1 < len(a) {
			return a[i+1]
		}
	}
	if f := cli.ServeFlags().Lookup(name); f != nil {
		return f.DefValue
	}
	return def
}

// splitFlag splits "--name=value" or "-name"; name is "" for a positional
// argument.
func splitFlag(arg string) (name, value string, hasValue bool) {
	if !strings.HasPrefix(arg, "-") || arg == "-" {
		return "", "", false
	}
	name = strings.TrimLeft(arg, "-")
	name, value, hasValue = strings.Cut(name, "=")
	return name, value, hasValue
}

// checkCommand runs the binary's own flag parsing for a sub-command other
// than serve: its flags followed by -h must parse (exit 0), which proves the
// sub-command and every flag exist. Positional arguments are dropped; a
// token after a flag without "=" counts as its value.
func checkCommand(args []string) error {
	if len(args) == 0 {
		return errors.New("empty command")
	}
	probe := []string{args[0]}
	for i := 1; i < len(args); i++ {
		name, _, hasValue := splitFlag(args[i])
		if name == "" {
			continue // positional
		}
		probe = append(probe, args[i])
		if !hasValue && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			i++
			probe = append(probe, args[i])
		}
	}
	probe = append(probe, "-h")
	var out, errOut bytes.Buffer
	code := cli.Main(context.Background(), probe, cli.Stdio{In: strings.NewReader(""), Out: &out, Err: &errOut})
	if code != cli.ExitOK {
		first, _, _ := strings.Cut(errOut.String(), "\n")
		return fmt.Errorf("iamsentry %s: exit %d: %s", strings.Join(probe, " "), code, first)
	}
	return nil
}

// port returns the port of a listen address such as ":50051".
func port(t *testing.T, addr string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("listen address %q: %v", addr, err)
	}
	n, err := strconv.ParseInt(p, 10, 32)
	if err != nil {
		t.Fatalf("listen address %q: port %q is not a number", addr, p)
	}
	return int32(n)
}

// TestFlagHelpers guards the helpers above against passing everything.
func TestFlagHelpers(t *testing.T) {
	if err := (serveArgs{"serve", "--listen=:1", "--no-such-flag"}).check(); err == nil {
		t.Error("serveArgs.check accepted --no-such-flag")
	}
	if err := (serveArgs{"serve", "--grace-period", "soon"}).check(); err == nil {
		t.Error("serveArgs.check accepted --grace-period soon")
	}
	if err := (serveArgs{"serve", "--listen", ":1", "--max-connection-age=30m"}).check(); err != nil {
		t.Errorf("serveArgs.check refused a valid command line: %v", err)
	}
	if err := checkCommand([]string{"no-such-command"}); err == nil {
		t.Error("checkCommand accepted an unknown sub-command")
	}
	if err := checkCommand([]string{"replay", "--no-such-flag", "x", "/data"}); err == nil {
		t.Error("checkCommand accepted an unknown replay flag")
	}
	if err := checkCommand([]string{"replay", "--addr", "envoy:50051", "/data"}); err != nil {
		t.Errorf("checkCommand refused a valid replay: %v", err)
	}
	if got := (serveArgs{"serve"}).value("listen", ""); got != cli.ServeFlags().Lookup("listen").DefValue {
		t.Errorf("default of --listen: got %q", got)
	}
}
