package cli

import (
	"runtime/debug"
	"testing"
)

// TestServeGCPercent checks who sets serve's GC target: --gc-percent when
// given, else GOGC when set in the environment, else 400 on Redis and
// Go's setting left alone on the embedded store; and that the previous
// setting comes back after.
func TestServeGCPercent(t *testing.T) {
	const before = 123
	for _, tc := range []struct {
		name    string
		given   bool
		flag    int
		onRedis bool
		env     string
		want    int
	}{
		{"redis default", false, 0, true, "", serveRedisGCPercent},
		{"embedded default", false, 0, false, "", before},
		{"redis, GOGC kept", false, 0, true, "150", before},
		{"flag on redis", true, 250, true, "150", 250},
		{"flag on embedded", true, 250, false, "", 250},
		{"off", true, -1, false, "", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOGC", tc.env)
			defer debug.SetGCPercent(debug.SetGCPercent(before))
			f := &serveFlags{gcPercent: tc.flag, gcPercentGiven: tc.given}
			restore := setServeGC(f, tc.onRedis)
			if got := debug.SetGCPercent(tc.want); got != tc.want {
				t.Errorf("while serving: GC percent %d, want %d", got, tc.want)
			}
			restore()
			if got := debug.SetGCPercent(before); got != before {
				t.Errorf("after serving: GC percent %d, want the previous %d back", got, before)
			}
		})
	}
}
