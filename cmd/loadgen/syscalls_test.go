package main

import (
	"os"
	"strings"
	"testing"
)

func TestParseIOCounters(t *testing.T) {
	text := "rchar: 123\nwchar: 456\nsyscr: 7890\nsyscw: 4321\nread_bytes: 0\n"
	c, err := parseIOCounters(strings.NewReader(text))
	if err != nil || c != (ioCounters{reads: 7890, writes: 4321}) {
		t.Errorf("parseIOCounters = %+v, %v; want reads 7890, writes 4321", c, err)
	}
	for _, bad := range []string{"rchar: 1\n", "syscr: x\nsyscw: 1\n"} {
		if _, err := parseIOCounters(strings.NewReader(bad)); err == nil {
			t.Errorf("parseIOCounters(%q) = nil error; want one", bad)
		}
	}
}

// TestReadIOCountersOfThisProcess: the counters of a live process read,
// and grow with a write.
func TestReadIOCountersOfThisProcess(t *testing.T) {
	before, err := readIOCounters(os.Getpid())
	if err != nil {
		t.Skipf("no /proc/<pid>/io here: %v", err)
	}
	f, err := os.Create(t.TempDir() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("x")
	f.Close()
	after, err := readIOCounters(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after.writes <= before.writes {
		t.Errorf("syscw %d after a write, %d before; want it to grow", after.writes, before.writes)
	}
}
