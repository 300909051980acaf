// Package racetest lets a long test that drives the code from one
// goroutine step aside under the race detector, so that `make test` runs it
// once without -race instead of for minutes with it.
//
// The race detector finds races where goroutines share memory, and it
// slows everything it instruments: scoring the realistic month took 188 s
// under -race in TestMFADeviceRemovedRealisticMonth against 20 s
// without. A test that scores a month on one goroutine finds no race that
// the shorter tests of the same paths (the engine's, the stores', the
// concurrency suite's, all under -race) do not, but its verdicts still
// matter: make test runs every package whose tests import this one a
// second time, without -race, so such a test runs on every make test.
package racetest

import "testing"

// Enabled reports whether the binary was built with -race.
const Enabled = enabled

// SkipLong skips t when the race detector is on. Call it only from a test
// that starts no goroutines of its own and whose code paths other tests
// run under -race.
func SkipLong(t testing.TB) {
	t.Helper()
	if Enabled {
		t.Skip("long and on one goroutine: make test runs it without -race (internal/racetest)")
	}
}
