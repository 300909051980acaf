package builtin_test

import (
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
	want   detectors.Severity // the highest finding (LOW: nothing above LOW), raised once in every delivery order
}

func secondKeyScenarios() []secondKeyScenario {
	at := day(8).Add(10 * time.Hour)
	med, high := detectors.SeverityMedium, detectors.SeverityHigh
	quiet := detectors.SeverityLow
	return []secondKeyScenario{
		{name: "quiet: rotation, old key deleted, new key used from the usual network", want: quiet, stream: append(aliceHistory(),
			mintB("203.0.113.10", at),
			useKey(skNew, "203.0.113.20", at.Add(5*time.Minute)),
			dt.IAM("DeleteAccessKey", at.Add(10*time.Minute), map[string]any{"accessKeyId": skOld}).
				With("userIdentity.accessKeyId", skNew),
			useKey(skNew, "203.0.113.10", at.Add(3*time.Hour)),
			useKey(skNew, "203.0.113.10", at.Add(30*time.Hour)),
		)},
		{name: "old and new key both in use hours after the creation", want: med, stream: append(aliceHistory(),
			mintB("203.0.113.10", at),
			useKey(skNew, "203.0.113.10", at.Add(5*time.Minute)),
			useKey(skOld, "203.0.113.10", at.Add(3*time.Hour)),
			useKey(skNew, "203.0.113.10", at.Add(3*time.Hour+30*time.Minute)),
			useKey(skOld, "203.0.113.10", at.Add(3*time.Hour+40*time.Minute)),
		)},
		{name: "new key first used from a network the user never used", want: high, stream: append(aliceHistory(),
			mintB("203.0.113.10", at),
			useKey(skNew, "198.51.100.7", at.Add(20*time.Minute)),
		)},
		{name: "key minted from a new network, then used from it", want: high, stream: append(aliceHistory(),
			useKey(skOld, "198.51.100.7", at.Add(-time.Minute)),
			mintB("198.51.100.7", at),
			useKey(skNew, "198.51.100.8", at.Add(20*time.Minute)),
		)},
		{name: "key minted from a new network, its immediate use delivered first", want: high, stream: append(aliceHistory(),
			useKey(skOld, "198.51.100.7", at.Add(-time.Minute)),
			useKey(skNew, "198.51.100.8", at.Add(30*time.Second)),
			mintB("198.51.100.7", at),
		)},
		{name: "quiet: a user with no history mints and uses a key", want: quiet, stream: []dt.Rec{
			mintB("198.51.100.7", at),
			useKey(skNew, "198.51.100.8", at.Add(20*time.Minute)),
		}},
		{name: "quiet: a new network for the old key is not this rule", want: quiet, stream: append(aliceHistory(),
			useKey(skOld, "198.51.100.7", at),
		)},
	}
}

func runSecondKeyScenarios(t *testing.T, newStore newStoreFunc) {
	for _, sc := range secondKeyScenarios() {
		inDeliveryOrders(t, sc.name, sc.stream, 3, func(t *testing.T, stream []dt.Rec) {
			h := dt.NewWithStore(t, newStore(t), newAKP(t, ""))
			top, n := detectors.SeverityLow, 0
			for _, f := range dt.Only(builtin.AccessKeyPersistenceID, h.Stream(stream...)) {
				t.Logf("%s %s", f.Severity, f.Explanation)
				switch {
				case f.Severity > top:
					top, n = f.Severity, 1
				case f.Severity == top && top > detectors.SeverityLow:
					n++
				}
			}
			if top != sc.want || (top > detectors.SeverityLow && n != 1) {
				t.Errorf("highest finding %v (%d of them), want one %v", top, n, sc.want)
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
