//go:build linux

package loadgen

import (
	"context"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// timerfdClock sleeps on a Linux timerfd read through the Go netpoller.
// The runtime's own timers fire, in an otherwise idle process, when its
// poller's epoll_wait times out, and that timeout is in whole milliseconds:
// a sleep of 200 µs lasts about 1 ms. A timerfd becomes readable at its
// deadline to the microsecond and wakes epoll_wait at once, so the sender
// keeps the schedule without a second busy thread checking timers for it.
type timerfdClock struct {
	f   *os.File
	fd  int
	buf [8]byte
}

// newTimerfdClock returns a wall clock whose SleepUntil is precise, for
// one goroutine at a time, and ends with the first cancelled sleep (it
// stays cancelled, as RunRate's sender ends then); Close releases it.
func newTimerfdClock() (*timerfdClock, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("timerfd_create: %w", err)
	}
	// A non-blocking descriptor is handed to the netpoller by NewFile.
	return &timerfdClock{f: os.NewFile(uintptr(fd), "timerfd"), fd: fd}, nil
}

func (c *timerfdClock) Now() time.Time { return time.Now() }

func (c *timerfdClock) SleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	if err := unix.TimerfdSettime(c.fd, 0, &spec, nil); err != nil {
		return fmt.Errorf("timerfd_settime: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { c.f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := c.f.Read(c.buf[:]); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("reading a timerfd: %w", err)
	}
	return nil
}

func (c *timerfdClock) Close() error { return c.f.Close() }

// PreciseClock returns a wall clock whose SleepUntil wakes within
// microseconds of its deadline (a timerfd read through the netpoller), for
// one goroutine at a time, as RunRate's sender uses it, and a function that
// releases it. The default clock sleeps on the runtime's timers, which in
// an otherwise idle process fire up to a millisecond late (the poller's
// timeout is in whole milliseconds): at 5k events/s that lag, which counts
// as latency, was most of a p50. The precise clock costs a timerfd_settime
// and two reads per wake. Where there is no timerfd it is the default clock.
func PreciseClock() (Clock, func() error) {
	c, err := newTimerfdClock()
	if err != nil {
		return wallClock{}, func() error { return nil }
	}
	return c, c.Close
}
