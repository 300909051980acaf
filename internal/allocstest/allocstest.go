// Package allocstest counts a function's allocations in a test without
// counting other goroutines'.
//
// testing.AllocsPerRun reads the process's malloc counter, so a goroutine
// an earlier test left winding down (a client redialling a stopped
// redis-server, a server draining) adds its allocations to the function's.
// Such noise only ever adds, so the least of a few measurements is the
// function's own count unless the noise lasted through all of them.
package allocstest

import "testing"

// Tries is how many times Floor measures at most.
const Tries = 5

// Floor returns the least of up to Tries testing.AllocsPerRun(runs, f)
// measurements, stopping early at zero.
func Floor(runs int, f func()) float64 {
	least := testing.AllocsPerRun(runs, f)
	for i := 1; i < Tries && least > 0; i++ {
		if n := testing.AllocsPerRun(runs, f); n < least {
			least = n
		}
	}
	return least
}
