package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStartTrace: serve --trace writes a Go execution trace once stopped
// (go tool trace reads files that open with "go 1.N trace"), an unwritable
// path is an error naming the flag, and no path traces nothing.
func TestStartTrace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "serve.trace")
	stop, err := startTrace(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(b, []byte("go 1.")) {
		t.Errorf("trace %s: %d bytes, %v; want an execution trace", path, len(b), err)
	}
	if _, err := startTrace(filepath.Join(t.TempDir(), "missing", "serve.trace")); err == nil || !strings.Contains(err.Error(), "--trace") {
		t.Errorf("unwritable path: %v; want an error naming --trace", err)
	}
	stop, err = startTrace("")
	if err != nil || stop() != nil {
		t.Errorf("no path: %v; want nothing to do", err)
	}
}
