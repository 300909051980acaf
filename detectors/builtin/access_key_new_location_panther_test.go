package builtin_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// TestAccessKeyNewLocationExposedKeyPanther scores Panther's
// AWS.CloudTrail.UserAccessKeyAuth cases (testdata/panther, real records:
// exposed.user's key AKIASXP6SDP2F3JQERZ2 calling GetCallerIdentity, then
// a denied ListFunctions, from 73.252.165.138), the key's first sightings,
// after nine days of the tenant's own traffic. The records' address is
// anonymised, so the test's GeoIP table says where it is: on a hosting
// network no identity of the tenant used (the leaked key's first use from
// a thief's VPS: MEDIUM, one incident, in any order or batching), or on a
// residential ISP (quiet: a key's first sighting from an ISP only learns).
func TestAccessKeyNewLocationExposedKeyPanther(t *testing.T) {
	var raws [][]byte
	for _, c := range dt.PantherCases(t, filepath.Join("testdata", "panther", "access-key-new-location.jsonl"), "AWS.CloudTrail.UserAccessKeyAuth") {
		raws = append(raws, c.Event)
	}
	if len(raws) != 2 {
		t.Fatalf("%d Panther cases, want 2", len(raws))
	}
	first := time.Date(2024, 6, 2, 20, 16, 22, 0, time.UTC)
	var tenant []dt.Rec
	for i := 9; i >= 1; i-- {
		tenant = append(tenant, call(first.Add(-time.Duration(i)*24*time.Hour), "203.0.113.10"))
	}
	for _, tc := range []struct {
		name string
		geo  fakeGeo
		want []string
	}{
		{"on a hosting network new to the tenant: MEDIUM", withGeo(hostingGeo, "73.252.165.0/24",
			detectors.GeoLocation{Country: "US", ASN: 14061, ASNOrg: "DIGITALOCEAN-ASN"}), []string{"MEDIUM"}},
		{"quiet twin: on a residential ISP", withGeo(hostingGeo, "73.252.165.0/24",
			detectors.GeoLocation{Country: "US", ASN: 7922, ASNOrg: "COMCAST-7922"}), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fresh := func() *dt.Harness {
				h := dt.New(t, newLocation(t, &detectors.Settings{GeoIP: tc.geo}))
				h.Stream(tenant...)
				return h
			}
			check := func(how string, vs []engine.Verdict) {
				t.Helper()
				var got []string
				for _, f := range dt.Only(builtin.AccessKeyNewLocationID, vs) {
					got = append(got, f.Severity.String())
					if f.Evidence["history"] != "none" || f.Evidence["asn"] != "14061" {
						t.Errorf("%s: evidence %v does not name the unknown key and its hosting ASN", how, f.Evidence)
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Errorf("%s: findings %v, want %v", how, got, tc.want)
				}
			}
			check("one batch", fresh().ScoreRaw(raws...))
			check("one batch, reversed", fresh().ScoreRaw(raws[1], raws[0]))
			h := fresh()
			check("one at a time", append(h.ScoreRaw(raws[0]), h.ScoreRaw(raws[1])...))
			h = fresh()
			check("one at a time, reversed", append(h.ScoreRaw(raws[1]), h.ScoreRaw(raws[0])...))
		})
	}
}

// withGeo is g with prefix placed at loc.
func withGeo(g fakeGeo, prefix string, loc detectors.GeoLocation) fakeGeo {
	out := fakeGeo{prefix: loc}
	for p, l := range g {
		out[p] = l
	}
	return out
}
