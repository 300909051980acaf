package builtin_test

import (
	"slices"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
)

// A scale keeps its windows in two sets per principal, one per grid, the
// members tagged with their window (see enumGrid). These scenarios hold
// the rule that makes that safe: a read made again in a later window of
// the same grid is a member of that window too, and does not move out of
// the earlier one, whichever arrives first.

func TestAccessKeyEnumerationGridWindows(t *testing.T) { enumerationGridWindows(t, newMemory) }

func TestAccessKeyEnumerationGridWindowsOnRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	open := rstore.Factory(t)
	enumerationGridWindows(t, func(tb testing.TB) state.Store { return open(tb) })
}

func enumerationGridWindows(t *testing.T, newStore newStoreFunc) {
	// Two runs of the same tool by one user, two minutes apart across the
	// 18:00 edge of the six-hour incident periods: every window of the
	// second (each scale's two) shares its grid's set with one of the
	// first's, and the first's windows lie in the 12:00 period, the
	// second's in the 18:00 one.
	edge := time.Date(2024, 8, 1, 18, 0, 0, 0, time.UTC)
	const user, ak = "erin", "AKIAEXAMPLEERIN00001"
	run := func(start time.Time, actions []string) []dt.Rec {
		var out []dt.Rec
		for j, a := range actions {
			out = append(out, userCall(user, ak, a, start.Add(time.Duration(j)*2*time.Second)))
		}
		return out
	}
	incident := func(period string) string {
		return builtin.AccessKeyEnumerationID + "/principal:arn:aws:iam::111122223333:user/" + user + "/enum:once:" + period + " HIGH"
	}
	for _, tc := range []struct {
		name    string
		actions []string
		want    []string
	}{
		// Fires: each run crosses the burst threshold in its own windows,
		// so each period has its incident, in any order.
		{"each run a burst", reconActions[:14], []string{incident("20240801T120000Z"), incident("20240801T180000Z")}},
		// Quiet twin: the same two runs of five plain reads weigh 9 in any
		// window, however the repeats fall.
		{"each run under every threshold", []string{"ec2:DescribeInstances", "ec2:DescribeVpcs",
			"ec2:DescribeSecurityGroups", "s3:ListBuckets", "lambda:ListFunctions20150331"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first := run(edge.Add(-110*time.Second), tc.actions) // 17:58:10
			second := run(edge.Add(10*time.Second), tc.actions)  // 18:00:10
			for _, order := range []struct {
				name    string
				batches [][]dt.Rec
			}{
				{"in time order, one batch", [][]dt.Rec{slices.Concat(first, second)}},
				{"second run first, one batch", [][]dt.Rec{slices.Concat(second, first)}},
				{"second run first, a batch each", [][]dt.Rec{second, first}},
				{"newest first, a record a batch", func() [][]dt.Rec {
					var out [][]dt.Rec
					for _, r := range slices.Backward(slices.Concat(first, second)) {
						out = append(out, []dt.Rec{r})
					}
					return out
				}()},
			} {
				h := dt.NewWithStore(t, newStore(t), newEnum(t, ""))
				var got []string
				for _, b := range order.batches {
					got = append(got, enumIncidents(h.Score(b...))...)
				}
				slices.Sort(got)
				got = slices.Compact(got)
				if !slices.Equal(got, tc.want) {
					t.Errorf("rule: a read made again in a later window of its grid leaves the earlier window whole; %s: incidents %v, want %v",
						order.name, got, tc.want)
				}
			}
		})
	}
}
