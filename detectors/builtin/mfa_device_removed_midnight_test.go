package builtin_test

import (
	"testing"
	"time"

	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// Generated scenarios: a warm-up session that crosses UTC midnight before
// alice's own MFA removal. Her month of office history is in the US
// (mfaOfficeHistory); the removal comes at 02:30 UTC from a residential
// proxy in Germany (mfaProxyDE) after the proxy was used from 23:00 the
// evening before. That evening's day ended two and a half hours before the
// removal, so a rule reading "days that ended 2 h before" learned Germany
// from the thief's own warm-up. A country counts as the user's only from
// days that ended a full day before the removal: a warm-up must last more
// than a day (and cross two midnights) to teach it.

// mfaAfterMidnight is 02:30 UTC on the day after t0.
var mfaAfterMidnight = day(1).Add(-13*time.Hour + 150*time.Minute)

func mfaMidnightCases() []mfaHostingCase {
	r := mfaAfterMidnight
	removalFrom := func(ip string) dt.Rec { return deactivateMFA("alice", r).With("sourceIPAddress", ip) }
	warm := func(ip string) []dt.Rec {
		return []dt.Rec{keyUse(r.Add(-210*time.Minute), ip), keyUse(r.Add(-150*time.Minute), ip), keyUse(r.Add(-10*time.Minute), ip)}
	}
	return []mfaHostingCase{
		{"a proxy session from 23:00 the evening before does not teach the country: MEDIUM", warm(mfaProxyDE),
			[]dt.Rec{removalFrom(mfaProxyDE)}, "MEDIUM"},
		{"the same warm-up delivered with the removal is MEDIUM", nil,
			append(warm(mfaProxyDE), removalFrom(mfaProxyDE)), "MEDIUM"},
		{"a VPS session crossing midnight is one day of use: HIGH", warm(mfaVPS),
			[]dt.Rec{removalFrom(mfaVPS)}, "HIGH"},
		// Quiet twins: a country the user worked from on a day that ended
		// a full day before is hers, whatever she did since.
		{"quiet twin: the user worked from Germany two days before: LOW",
			[]dt.Rec{keyUse(r.Add(-50*time.Hour), mfaProxyDE)}, []dt.Rec{removalFrom(mfaProxyDE)}, "LOW"},
		{"quiet twin: a German week, then the evening before and the removal at 02:30: LOW",
			append(germanDays(r), warm(mfaProxyDE)...), []dt.Rec{removalFrom(mfaHomeDE)}, "LOW"},
		{"quiet twin: removal from the office after midnight is LOW", warm(mfaOffice),
			[]dt.Rec{removalFrom(mfaOffice)}, "LOW"},
	}
}

func TestMFADeviceRemovedMidnight(t *testing.T) { runMFACases(t, memoryStore, mfaMidnightCases()) }

func TestMFADeviceRemovedMidnightOnRedis(t *testing.T) {
	runOnRedis(t, func(t *testing.T, newStore newStoreFunc) { runMFACases(t, newStore, mfaMidnightCases()) })
}
