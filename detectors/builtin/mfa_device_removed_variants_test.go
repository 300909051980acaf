package builtin_test

import (
	"testing"
	"time"

	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// Generated scenarios: the attacker's variants of alice's own MFA removal
// that slipped past the hosting rule, each with its quiet twin. alice has a
// month of office history in the US (mfaOfficeHistory); 198.51.100.0/24
// (AS3320) and 198.51.101.0/24 (AS3209) are residential ISPs in Germany,
// 192.0.2.0/24 (AS64511) a hosting network, 3.5.0.0/16 AWS in the US. Every case runs one record at
// a time, in one batch, reversed and shuffled within the lateness, on the
// memory store and on real Redis.

const (
	mfaProxyDE = "198.51.100.7" // a residential proxy exit in Germany
	mfaHomeDE  = "198.51.101.9" // another German ISP
)

func mfaVariantCases() []mfaHostingCase {
	at := t0.Add(10 * time.Hour)
	removalFrom := func(ip string) dt.Rec { return deactivateMFA("alice", at.Add(time.Minute)).With("sourceIPAddress", ip) }
	return []mfaHostingCase{
		// A residential proxy names no hosting network: only the country
		// is new for alice, who worked from the US all month.
		{"removal from a residential proxy in a country new for the user is MEDIUM", nil,
			[]dt.Rec{removalFrom(mfaProxyDE)}, "MEDIUM"},
		{"the proxy's own session an hour before does not teach the country: MEDIUM", nil,
			[]dt.Rec{keyUse(at.Add(-50*time.Minute), mfaProxyDE), keyUse(at.Add(-10*time.Minute), mfaProxyDE), removalFrom(mfaProxyDE)}, "MEDIUM"},
		{"quiet twin: a German user's removal from another German ISP is LOW", germanDays(at),
			[]dt.Rec{removalFrom(mfaHomeDE)}, "LOW"},
		{"quiet twin: removal from the office after a proxy use is LOW", nil,
			[]dt.Rec{keyUse(at.Add(-10*time.Minute), mfaProxyDE), removalFrom(mfaOffice)}, "LOW"},

		// A VPS warmed for three hours before the removal, over one or two
		// days: hours are not days of use.
		{"a VPS warmed for three hours of one day is HIGH", warmVPS(at, 1, 1, 3), []dt.Rec{removalFrom(mfaVPS)}, "HIGH"},
		{"a VPS warmed for three hours over two days is HIGH", warmVPS(at, 2, 3, 2), []dt.Rec{removalFrom(mfaVPS)}, "HIGH"},
		// Warmed on three days, but only ever through the key now removing
		// the device: what a stolen key looks like after a patient thief.
		{"a VPS used on four days through the removing key alone is MEDIUM", warmVPS(at, 2, 5, 1), []dt.Rec{removalFrom(mfaVPS)}, "MEDIUM"},
		{"quiet twin: a jump host used on four days from the CLI and the console is LOW", jumpHostDays(at),
			[]dt.Rec{removalFrom(mfaVPS)}, "LOW"},
		{"quiet twin: removal from the console on a jump host the CLI uses daily is LOW", warmVPS(at, 2, 5, 1),
			[]dt.Rec{aliceConsole(removalFrom(mfaVPS))}, "LOW"},

		// An EC2 instance is a VPS too, whichever country its region lies
		// in: alice works from the US, and so does us-east-1.
		{"removal from an EC2 instance in the user's country is HIGH", nil,
			[]dt.Rec{keyUse(at, mfaEC2), removalFrom(mfaEC2)}, "HIGH"},
		{"quiet twin: a user who works on an EC2 dev box from the CLI and the console is LOW", ec2Days(at),
			[]dt.Rec{removalFrom(mfaEC2)}, "LOW"},
	}
}

// mfaEC2 is an EC2 instance's address (AS16509), not in trusted_networks.
const mfaEC2 = "3.5.1.20"

// ec2Days are alice working on an EC2 dev box on four earlier days, from
// the CLI and from the console.
func ec2Days(at time.Time) []dt.Rec {
	var out []dt.Rec
	for d := 2; d <= 5; d++ {
		when := at.Add(-time.Duration(d) * 24 * time.Hour)
		out = append(out, keyUse(when, mfaEC2), aliceConsole(keyUse(when.Add(-time.Hour), mfaEC2)))
	}
	return out
}

// warmVPS is alice's key used from the VPS on each day from..to days
// before at, hours hours a day.
func warmVPS(at time.Time, from, to, hours int) []dt.Rec {
	var out []dt.Rec
	for d := from; d <= to; d++ {
		for h := range hours {
			out = append(out, keyUse(at.Add(-time.Duration(d)*24*time.Hour-time.Duration(h)*time.Hour), mfaVPS))
		}
	}
	return out
}

// germanDays are alice working from a German ISP on three earlier days.
func germanDays(at time.Time) []dt.Rec {
	var out []dt.Rec
	for d := 3; d <= 5; d++ {
		out = append(out, keyUse(at.Add(-time.Duration(d)*24*time.Hour), mfaProxyDE))
	}
	return out
}

func TestMFADeviceRemovedVariants(t *testing.T) { runMFACases(t, memoryStore, mfaVariantCases()) }

func TestMFADeviceRemovedVariantsOnRedis(t *testing.T) {
	runOnRedis(t, func(t *testing.T, newStore newStoreFunc) { runMFACases(t, newStore, mfaVariantCases()) })
}
