package main

import (
	"strings"
	"testing"
)

// TestReportShowsLoadgenCPU: the generator's own CPU is part of the
// measurement on a machine it shares with the server, so the report says it
// per 10k events.
func TestReportShowsLoadgenCPU(t *testing.T) {
	var b strings.Builder
	r := result{Events: 50000, OfferedRate: 5000, ClientCPUSeconds: 7.5, State: "memory"}
	if err := report(&b, r, false); err != nil {
		t.Fatal(err)
	}
	if want := "loadgen's own CPU 7.50 s: 1.500 s per 10k events"; !strings.Contains(b.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, b.String())
	}
	if processCPU() <= 0 {
		t.Error("processCPU() = 0 in a running test: getrusage gave nothing")
	}
}
