//go:build !linux

package loadgen

// PreciseClock is the default clock here: no timerfd is at hand (see the
// Linux version).
func PreciseClock() (Clock, func() error) { return wallClock{}, func() error { return nil } }
