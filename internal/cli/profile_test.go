package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStartCPUProfile: serve --cpu-profile writes a profile once stopped,
// an unwritable path is an error naming the flag, and no path profiles
// nothing.
func TestStartCPUProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	stop, err := startCPUProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() == 0 {
		t.Errorf("profile %s: %v, %v; want a written profile", path, st, err)
	}
	if _, err := startCPUProfile(filepath.Join(t.TempDir(), "missing", "cpu.pprof")); err == nil || !strings.Contains(err.Error(), "--cpu-profile") {
		t.Errorf("unwritable path: %v; want an error naming --cpu-profile", err)
	}
	stop, err = startCPUProfile("")
	if err != nil || stop() != nil {
		t.Errorf("no path: %v; want nothing to do", err)
	}
}
