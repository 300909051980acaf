package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRecorders: serve --cpu-profile and --trace write their file once
// stopped (a trace opens with "go 1.N trace", which go tool trace reads;
// a CPU profile is gzipped protobuf), an unwritable path is an error
// naming the flag, and no path records nothing.
func TestRecorders(t *testing.T) {
	for _, tt := range []struct {
		start  func(string) (func() error, error)
		flag   string
		prefix []byte
	}{
		{startCPUProfile, "--cpu-profile", []byte{0x1f, 0x8b}},
		{startTrace, "--trace", []byte("go 1.")},
	} {
		t.Run(tt.flag, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out")
			stop, err := tt.start(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(path); err != nil || !bytes.HasPrefix(b, tt.prefix) {
				t.Errorf("%s wrote %d bytes, %v; want a file opening with %q", tt.flag, len(b), err, tt.prefix)
			}
			if _, err := tt.start(filepath.Join(t.TempDir(), "missing", "out")); err == nil || !strings.Contains(err.Error(), tt.flag) {
				t.Errorf("unwritable path: %v; want an error naming %s", err, tt.flag)
			}
			stop, err = tt.start("")
			if err != nil || stop() != nil {
				t.Errorf("no path: %v; want nothing to do", err)
			}
		})
	}
}
