package main

import (
	"testing"
	"time"
)

func TestCheckKeepsLoadOnLoopbackAndBounded(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    options
		ok   bool
	}{
		{"spawned server", options{spawn: "bin/iamsentry", events: 10}, true},
		{"loopback v4", options{addr: "127.0.0.2:50051", events: 10}, true},
		{"loopback v6", options{addr: "[::1]:50051", events: 10}, true},
		{"localhost", options{addr: "localhost:50051", events: 10}, true},
		{"private address", options{addr: "10.0.0.1:50051", events: 10}, false},
		{"public name", options{addr: "example.com:50051", events: 10}, false},
		{"no target", options{events: 10}, false},
		{"duration without rate", options{spawn: "x", duration: time.Second}, false},
		{"rate and duration", options{spawn: "x", rate: 1000, duration: 10 * time.Second}, true},
		{"too long a run", options{spawn: "x", rate: 20000, duration: time.Hour}, false},
	} {
		err := tc.o.check()
		if (err == nil) != tc.ok {
			t.Errorf("%s: check() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	o := options{spawn: "x", rate: 1000, duration: 10 * time.Second}
	if o.check(); o.events != 10000 {
		t.Errorf("--rate 1000 --duration 10s offers %d events, want 10000", o.events)
	}
}
