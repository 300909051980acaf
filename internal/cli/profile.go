package cli

import (
	"fmt"
	"os"
	"runtime/pprof"
	"runtime/trace"
)

// startCPUProfile writes a CPU profile of the process to path until the
// returned function is called (serve --cpu-profile: where a running
// server's CPU goes, under the load loadgen or a shipper puts on it; read
// it with `go tool pprof bin/iamsentry FILE`). An empty path profiles
// nothing.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

// startTrace writes a Go execution trace of the process to path until the
// returned function is called (serve --trace: where one slow verdict's
// time went, goroutine by goroutine: scheduler waits, GC assists, network
// and syscall blocking; read it with `go tool trace FILE`). A trace costs
// tens of percent of CPU and grows by megabytes per second under load, so
// trace seconds, not hours. An empty path traces nothing.
func startTrace(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--trace: %w", err)
	}
	if err := trace.Start(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--trace: %w", err)
	}
	return func() error {
		trace.Stop()
		return f.Close()
	}, nil
}
