// Command iamsentry is the one binary of iamsentry: serve, scan, replay, version.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/iamsentry/iamsentry/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
