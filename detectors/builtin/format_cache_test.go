package builtin

import (
	"sync"
	"testing"
	"time"
)

// TestWindowIDIsFormat: the remembered rendering is Format's, for aligned
// and unaligned starts, colliding slots, fractions of a second, other
// zones and concurrent callers.
func TestWindowIDIsFormat(t *testing.T) {
	base := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	var times []time.Time
	for i := range 2000 {
		times = append(times, base.Add(time.Duration(i)*7*time.Minute+time.Duration(i%3)*time.Millisecond))
	}
	prefixed := &formatCache{prefix: "enum:win:burst:", layout: windowIDLayout}
	berlin := time.FixedZone("CEST", 2*3600)
	times = append(times, base.In(berlin), base.Local(), time.Time{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			for range 2 {
				for i := range times {
					at := times[(i*(w+1))%len(times)]
					if got, want := (window{Start: at, Width: time.Hour}).ID(), at.Format(windowIDLayout); got != want {
						t.Errorf("ID of a window starting %v = %s, Format says %s", at, got, want)
					}
					if got, want := habitHours.format(at), at.Format(habitHours.layout); got != want {
						t.Errorf("habit hour of %v = %s, Format says %s", at, got, want)
					}
					if got, want := prefixed.format(at), "enum:win:burst:"+at.Format(windowIDLayout); got != want {
						t.Errorf("prefixed key of %v = %s, prefix and Format say %s", at, got, want)
					}
				}
			}
		})
	}
	wg.Wait()
}
