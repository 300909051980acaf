package main

import "testing"

// TestProcsFlag: --procs is loadgen's GOMAXPROCS, the Go default unless
// given; a negative count is refused.
func TestProcsFlag(t *testing.T) {
	for _, tc := range []struct {
		name  string
		o     options
		ok    bool
		procs int
	}{
		{"open loop default", options{spawn: "x", rate: 5000, events: 10}, true, 0},
		{"open loop, one asked", options{spawn: "x", rate: 5000, events: 10, procs: 1}, true, 1},
		{"open loop, two asked", options{spawn: "x", rate: 5000, events: 10, procs: 2}, true, 2},
		{"closed loop default", options{spawn: "x", events: 10}, true, 0},
		{"closed loop, one asked", options{spawn: "x", events: 10, procs: 1}, true, 1},
		{"negative", options{spawn: "x", rate: 5000, events: 10, procs: -1}, false, -1},
	} {
		err := tc.o.check()
		if (err == nil) != tc.ok || tc.o.procs != tc.procs {
			t.Errorf("%s: check() = %v with procs %d; want ok=%v and procs %d", tc.name, err, tc.o.procs, tc.ok, tc.procs)
		}
	}
}
