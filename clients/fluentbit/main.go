// Command fluentbit is the iamsentry output plugin for Fluent Bit, built
// with -buildmode=c-shared into iamsentry-fluentbit.so (make
// fluentbit-plugin). It streams the CloudTrail records of a pipeline to
// iamsentry through the Go client library and writes findings as JSON
// lines. These exports only move bytes between Fluent Bit and
// internal/plugin, where the logic lives and is tested without cgo.
package main

import (
	"C"
	"context"
	"log/slog"
	"os"
	"time"
	"unsafe"

	"github.com/fluent/fluent-bit-go/output"

	"github.com/iamsentry/iamsentry/clients/fluentbit/internal/plugin"
)

// logger writes to stderr, where Fluent Bit's own log goes.
var logger = slog.New(slog.NewTextHandler(os.Stderr, nil))

//export FLBPluginRegister
func FLBPluginRegister(def unsafe.Pointer) int {
	return output.FLBPluginRegister(def, "iamsentry", "Score CloudTrail records with iamsentry")
}

// FLBPluginInit runs once per [OUTPUT] section; each gets its own
// Instance in its own context, so sections never share state.
//
//export FLBPluginInit
func FLBPluginInit(p unsafe.Pointer) int {
	cfg, err := plugin.ParseConfig(func(key string) string { return output.FLBPluginConfigKey(p, key) })
	if err != nil {
		logger.Error("iamsentry: bad configuration", slog.Any("error", err))
		return output.FLB_ERROR
	}
	in, err := plugin.New(cfg, logger.With(slog.String("address", cfg.Address)))
	if err != nil {
		logger.Error("iamsentry: cannot start", slog.Any("error", err))
		return output.FLB_ERROR
	}
	output.FLBPluginSetContext(p, in)
	return output.FLB_OK
}

//export FLBPluginFlushCtx
func FLBPluginFlushCtx(ctx, data unsafe.Pointer, length C.int, tag *C.char) int {
	in, ok := output.FLBPluginGetContext(ctx).(*plugin.Instance)
	if !ok {
		return output.FLB_ERROR
	}
	return int(in.Flush(context.Background(), C.GoBytes(data, length)))
}

//export FLBPluginExitCtx
func FLBPluginExitCtx(ctx unsafe.Pointer) int {
	if in, ok := output.FLBPluginGetContext(ctx).(*plugin.Instance); ok {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := in.Close(c); err != nil {
			logger.Warn("iamsentry: closing", slog.Any("error", err))
		}
	}
	return output.FLB_OK
}

//export FLBPluginExit
func FLBPluginExit() int { return output.FLB_OK }

func main() {}
