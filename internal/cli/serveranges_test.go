package cli

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"
	"time"
)

// TestServeRefusesOutOfRangeFlags: a zero or negative limit used to be read
// as "the default" without a word; serve must refuse it, naming the flag
// and the accepted range, before it opens anything.
func TestServeRefusesOutOfRangeFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--batch-workers", "-3"}, []string{"--batch-workers -3", "want 1 to 4096"}},
		{[]string{"--batch-workers", "0"}, []string{"--batch-workers 0", "want 1 to 4096"}},
		{[]string{"--batch-size", "0"}, []string{"--batch-size 0", "want 1 to 1048576"}},
		{[]string{"--max-events-per-request", "-1"}, []string{"--max-events-per-request -1", "want 1 to 2147483647"}},
		{[]string{"--read-ahead-bytes", "0"}, []string{"--read-ahead-bytes 0"}},
		{[]string{"--watch-buffer", "-5"}, []string{"--watch-buffer -5", "want 1 to 16777216"}},
		{[]string{"--grace-period", "0s"}, []string{"--grace-period 0s", "want at least 1ns"}},
		{[]string{"--dedupe-horizon", "-1h"}, []string{"--dedupe-horizon -1h0m0s", "want at least 1ns"}},
		{[]string{"--batch-linger", "-1ms"}, []string{"--batch-linger -1ms", "want 0s to 1s"}},
		{[]string{"--batch-busy-linger", "2s"}, []string{"--batch-busy-linger 2s"}},
		// Every broken flag is named, not only the first.
		{[]string{"--batch-workers", "-3", "--max-streams", "0"}, []string{"--batch-workers -3", "--max-streams 0"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var errb bytes.Buffer
			args := append([]string{"serve", "--listen", "127.0.0.1:0", "--admin-listen", ""}, tc.args...)
			code := Main(context.Background(), args, Stdio{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &errb})
			if code != ExitUsage {
				t.Fatalf("exit %d, want %d (usage); stderr:\n%s", code, ExitUsage, errb.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errb.String())
				}
			}
		})
	}
}

// TestServeRangesAcceptEdges: the edges of each range, and the documented
// negative --batch-busy-linger ("never"), pass the check.
func TestServeRangesAcceptEdges(t *testing.T) {
	var f serveFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	f.register(fs)
	args := []string{"--batch-workers", "1", "--batch-workers", "4096", "--batch-size", "1",
		"--batch-linger", "0s", "--batch-busy-linger", "-1ms", "--grace-period", "1ns", "--max-streams", "2147483647"}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := checkRanges(fs, serveRangeFor); err != nil {
		t.Errorf("edges refused: %v", err)
	}
}

// TestServeRangesCoverEveryNumericFlag: a numeric flag added to serve
// without a range would be unchecked again.
func TestServeRangesCoverEveryNumericFlag(t *testing.T) {
	var f serveFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	f.register(fs)
	n := 0
	fs.VisitAll(func(fl *flag.Flag) {
		g, ok := fl.Value.(flag.Getter)
		if !ok {
			return
		}
		switch g.Get().(type) {
		case int, time.Duration:
			n++
			if _, ok := serveRangeFor[fl.Name]; !ok {
				t.Errorf("numeric flag --%s has no accepted range in serveRangeFor", fl.Name)
			}
		}
	})
	if n != len(serveRangeFor) {
		t.Errorf("%d numeric flags, %d ranges: a range names a flag serve no longer has", n, len(serveRangeFor))
	}
}
