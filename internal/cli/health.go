package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

const healthDetails = `Asks the gRPC health service and prints the status (SERVING,
NOT_SERVING) on standard output. Exit status: 0 when SERVING; 1 when not
serving, unreachable or refused; 2 when the command line is wrong.`

// healthFlags are the flags of `iamsentry health`.
type healthFlags struct {
	conn    connFlags
	service string
	timeout time.Duration
}

func (f *healthFlags) register(fs *flag.FlagSet) {
	f.conn.register(fs)
	fs.StringVar(&f.service, "service", "", "health-check service `name`: \"\" for the server as a whole, or iamsentry.v1.DetectionService")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Second, "give up after this long")
}

// health probes a server's gRPC health: exit 0 when SERVING, 1 otherwise
// (not serving, unreachable, refused), 2 on a bad command line.
func health(ctx context.Context, args []string, stdio Stdio) int {
	var f healthFlags
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	f.register(fs)
	if code, ok := parseFlags(fs, args, stdio.Err); !ok {
		return code
	}
	f.conn.fromEnv()
	dialOpts, err := f.dialOptions(fs)
	if err != nil {
		fmt.Fprintf(stdio.Err, "iamsentry health: %v\n", err)
		return ExitUsage
	}
	conn, err := grpc.NewClient(f.conn.addr, dialOpts...)
	if err != nil {
		fmt.Fprintf(stdio.Err, "iamsentry health: %v\n", err)
		return ExitUsage
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: f.service})
	if err != nil {
		st := status.Convert(err)
		fmt.Fprintf(stdio.Err, "iamsentry health: %s: %s: %s\n", f.conn.addr, st.Code(), st.Message())
		return ExitError
	}
	fmt.Fprintf(stdio.Out, "%s\n", resp.GetStatus())
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return ExitError
	}
	return ExitOK
}

// dialOptions checks the command line and turns it into dial options.
func (f *healthFlags) dialOptions(fs *flag.FlagSet) ([]grpc.DialOption, error) {
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if f.timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout %v: want a positive duration", f.timeout))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return f.conn.dialOptions()
}
