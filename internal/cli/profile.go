package cli

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"runtime/trace"
)

// recorder is what the runtime records about a running process into a
// file until stopped: serve's --cpu-profile and --trace.
type recorder struct {
	flag, what string
	start      func(io.Writer) error
	stop       func()
}

var (
	// cpuProfile (serve --cpu-profile): where a running server's CPU goes,
	// under the load loadgen or a shipper puts on it; read it with
	// `go tool pprof bin/iamsentry FILE`.
	cpuProfile = recorder{"--cpu-profile", "CPU profile", pprof.StartCPUProfile, pprof.StopCPUProfile}
	// execTrace (serve --trace): where one slow verdict's time went,
	// goroutine by goroutine: scheduler waits, lock waits, network and
	// syscall blocking; read it with `go tool trace FILE`. A trace costs
	// tens of percent of CPU and grows by megabytes per second under load,
	// so trace seconds, not hours.
	execTrace = recorder{"--trace", "execution trace", trace.Start, trace.Stop}
)

// record records into path until the returned function is called. An
// empty path records nothing.
func (r recorder) record(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.flag, err)
	}
	if err := r.start(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", r.flag, err)
	}
	return func() error {
		r.stop()
		return f.Close()
	}, nil
}

// startCPUProfile writes a CPU profile of the process to path until the
// returned function is called; an empty path profiles nothing.
func startCPUProfile(path string) (stop func() error, err error) { return cpuProfile.record(path) }

// startTrace writes a Go execution trace of the process to path until the
// returned function is called; an empty path traces nothing.
func startTrace(path string) (stop func() error, err error) { return execTrace.record(path) }
