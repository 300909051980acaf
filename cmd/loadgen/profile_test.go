package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCPUProfileWritesAProfile: --cpu-profile leaves a parseable pprof CPU
// profile (gzipped protobuf, what `go tool pprof` reads), and a path that cannot be created is refused with the flag named.
func TestCPUProfileWritesAProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	stop, err := startCPUProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
		t.Errorf("--cpu-profile wrote %d bytes starting %x; want a gzipped profile", len(b), b[:min(len(b), 2)])
	}
	if _, err := startCPUProfile(filepath.Join(t.TempDir(), "no", "such", "dir", "cpu.pprof")); err == nil || !strings.Contains(err.Error(), "--cpu-profile") {
		t.Errorf("an uncreatable path: err %v; want an error naming --cpu-profile", err)
	}
	if stop, err := startCPUProfile(""); err != nil || stop() != nil {
		t.Errorf("no path: %v; want nothing done", err)
	}
}
