package builtin_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// Generated console sessions: one session key browsing (a burst of reads
// that would cross the enumeration threshold), one of whose records
// carries sessionCredentialFromConsole. Whether the session raises must
// not depend on where the flagged record lands in arrival order: first,
// last, in the crossing record's batch, or shuffled within the lateness.
// (A session mark set by the flagged record once excused the others only
// when it arrived before the crossing read.)

const browserUA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36"

// consoleBurst is keyS's burst of reads with user agent ua, the record at
// flagged carrying sessionCredentialFromConsole.
func consoleBurst(ua string, flagged int) []dt.Rec {
	rs := enumBurst(keyS, reconActions, w0, 5*time.Second)
	for _, r := range rs {
		r.With("userAgent", ua)
	}
	rs[flagged].With("sessionCredentialFromConsole", "true")
	return rs
}

func TestConsoleSessionOrderFree(t *testing.T) { runConsoleOrder(t, memoryStore) }

func TestConsoleSessionOrderFreeOnRedis(t *testing.T) { runOnRedis(t, runConsoleOrder) }

func runConsoleOrder(t *testing.T, newStore newStoreFunc) {
	n := len(reconActions)
	for _, c := range []struct {
		name string
		ua   string
		want int
	}{
		// Quiet in every order: records that tell the console themselves.
		{"console back end", "console.ec2.amazonaws.com", 0},
		// Records that do not say console are judged as what they say, in
		// every order, whatever another record of the key carries: a
		// browser's user agent alone is not believed (web identities'
		// browsers, tools claiming one), nor the CLI.
		{"browser user agent beside one console record", browserUA, 1},
		{"CLI reads beside one console record", "aws-cli/2.15.0 Python/3.11.6", 1},
	} {
		for _, flagged := range []int{0, n / 2, n - 1} {
			t.Run(fmt.Sprintf("%s/flag on record %d", c.name, flagged), func(t *testing.T) {
				stream := consoleBurst(c.ua, flagged)
				check := func(how string, recs []dt.Rec, score func(*dt.Harness, []dt.Rec) int) {
					t.Helper()
					h := dt.NewWithStore(t, newStore(t), newEnum(t, ""))
					if got := score(h, recs); got != c.want {
						t.Errorf("%s: rule: a console session's verdict does not depend on arrival order; got %d findings, want %d", how, got, c.want)
					}
				}
				stream1 := func(h *dt.Harness, recs []dt.Rec) int {
					return len(dt.Only(builtin.AccessKeyEnumerationID, h.Stream(recs...)))
				}
				batch := func(h *dt.Harness, recs []dt.Rec) int {
					return len(dt.Only(builtin.AccessKeyEnumerationID, h.Score(recs...)))
				}
				check("in order", stream, stream1)
				check("flagged record last", moveLast(stream, flagged), stream1)
				check("flagged record first", moveFirst(stream, flagged), stream1)
				check("one batch, flagged last", moveLast(stream, flagged), batch)
				for seed := range uint64(4) {
					check(fmt.Sprintf("shuffled seed %d", seed), deliver(stream, detectors.AllowedLateness, seed), func(h *dt.Harness, recs []dt.Rec) int {
						return len(dt.Only(builtin.AccessKeyEnumerationID, scoreInBatches(h, recs, seed)))
					})
				}
			})
		}
	}
}

func moveLast(recs []dt.Rec, i int) []dt.Rec {
	out := make([]dt.Rec, 0, len(recs))
	out = append(out, recs[:i]...)
	out = append(out, recs[i+1:]...)
	return append(out, recs[i])
}

func moveFirst(recs []dt.Rec, i int) []dt.Rec {
	out := append([]dt.Rec{recs[i]}, recs[:i]...)
	return append(out, recs[i+1:]...)
}
