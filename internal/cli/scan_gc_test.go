package cli

import (
	"flag"
	"io"
	"runtime/debug"
	"testing"
)

// TestScanGCPercent checks who sets scan's GC target: the flag when given,
// else GOGC when set in the environment, else scan's default; and that
// the previous setting comes back after.
func TestScanGCPercent(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  string
		want int // -2: left as it was
	}{
		{"default", nil, "", scanGCPercent},
		{"flag", []string{"--gc-percent", "350"}, "", 350},
		{"flag over GOGC", []string{"--gc-percent", "350"}, "150", 350},
		{"GOGC kept", nil, "150", -2},
		{"off", []string{"--gc-percent", "-1"}, "", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOGC", tc.env)
			const before = 123
			defer debug.SetGCPercent(debug.SetGCPercent(before))
			fs := flag.NewFlagSet("scan", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			percent := fs.Int("gc-percent", scanGCPercent, "")
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			restore := setScanGC(fs, *percent)
			want := tc.want
			if want == -2 {
				want = before
			}
			if got := debug.SetGCPercent(want); got != want {
				t.Errorf("during scan: GC percent %d, want %d", got, want)
			}
			restore()
			if got := debug.SetGCPercent(before); got != before {
				t.Errorf("after scan: GC percent %d, want the previous %d back", got, before)
			}
		})
	}
}
