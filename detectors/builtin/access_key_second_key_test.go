package builtin_test

import (
	"slices"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
)

// Generated second-key scenarios: alice's key A (AKIAEXAMPLEALICE01) used
// for days from 203.0.113.0/16, then a key B created by A for alice.

const (
	skOld = "AKIAEXAMPLEALICE01"
	skNew = "AKIAEXAMPLENEWKEY01"
)

func useKey(key, ip string, at time.Time) dt.Rec {
	return dt.Base("s3.amazonaws.com", "ListBuckets", at).With("userIdentity.accessKeyId", key).With("sourceIPAddress", ip)
}

func mintB(ip string, at time.Time) dt.Rec {
	return akpCreateKey("").With("eventTime", at.UTC().Format(time.RFC3339)).With("sourceIPAddress", ip)
}

// aliceHistory is a week of key A's use from her usual network.
func aliceHistory() []dt.Rec {
	var out []dt.Rec
	for d := range 7 {
		out = append(out, useKey(skOld, "203.0.113.10", day(d).Add(9*time.Hour)))
	}
	return out
}

type secondKeyScenario struct {
	name   string
	stream []dt.Rec
	want   []detectors.Severity // the findings above LOW, sorted
}

func secondKeyScenarios() []secondKeyScenario {
	at := day(8).Add(10 * time.Hour)
	med, high := detectors.SeverityMedium, detectors.SeverityHigh
	return []secondKeyScenario{
		{name: "quiet: rotation, old key deleted, new key used from the usual network", stream: append(aliceHistory(),
			mintB("203.0.113.10", at),
			useKey(skNew, "203.0.113.20", at.Add(5*time.Minute)),
			dt.IAM("DeleteAccessKey", at.Add(10*time.Minute), map[string]any{"accessKeyId": skOld}).
				With("userIdentity.accessKeyId", skNew),
			useKey(skNew, "203.0.113.10", at.Add(3*time.Hour)),
			useKey(skNew, "203.0.113.10", at.Add(30*time.Hour)),
		)},
		{name: "old and new key both in use hours after the creation", want: []detectors.Severity{med}, stream: append(aliceHistory(),
			mintB("203.0.113.10", at),
			useKey(skNew, "203.0.113.10", at.Add(5*time.Minute)),
			useKey(skOld, "203.0.113.10", at.Add(3*time.Hour)),
			useKey(skNew, "203.0.113.10", at.Add(3*time.Hour+30*time.Minute)),
			useKey(skOld, "203.0.113.10", at.Add(3*time.Hour+40*time.Minute)),
		)},
		{name: "new key first used from a network the user never used", want: []detectors.Severity{high}, stream: append(aliceHistory(),
			mintB("203.0.113.10", at),
			useKey(skNew, "198.51.100.7", at.Add(20*time.Minute)),
		)},
		{name: "key minted from a new network, then used from it", want: []detectors.Severity{med, high}, stream: append(aliceHistory(),
			useKey(skOld, "198.51.100.7", at.Add(-time.Minute)),
			mintB("198.51.100.7", at),
			useKey(skNew, "198.51.100.8", at.Add(20*time.Minute)),
		)},
		{name: "quiet: a user with no history mints and uses a key", stream: []dt.Rec{
			mintB("198.51.100.7", at),
			useKey(skNew, "198.51.100.8", at.Add(20*time.Minute)),
		}},
		{name: "quiet: a new network for the old key is not this rule", stream: append(aliceHistory(),
			useKey(skOld, "198.51.100.7", at),
		)},
	}
}

func runSecondKeyScenarios(t *testing.T, newStore newStoreFunc) {
	for _, sc := range secondKeyScenarios() {
		inDeliveryOrders(t, sc.name, sc.stream, 3, func(t *testing.T, stream []dt.Rec) {
			h := dt.NewWithStore(t, newStore(t), newAKP(t, ""))
			var got []detectors.Severity
			for _, f := range dt.Only(builtin.AccessKeyPersistenceID, h.Stream(stream...)) {
				if f.Severity > detectors.SeverityLow {
					got = append(got, f.Severity)
					t.Logf("%s %s", f.Severity, f.Explanation)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, sc.want) {
				t.Errorf("findings above LOW = %v, want %v", got, sc.want)
			}
		})
	}
}

func TestAccessKeySecondKeyScenarios(t *testing.T) { runSecondKeyScenarios(t, memoryStore) }

func TestAccessKeySecondKeyOnRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	open := rstore.Factory(t)
	runSecondKeyScenarios(t, func(tb testing.TB) state.Store { return open(tb) })
}
