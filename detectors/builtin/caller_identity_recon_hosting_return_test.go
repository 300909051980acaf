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

// The realistic month's caller-identity-recon on dev-01 (2025-03-31): the
// thief came back to the developer's key from the same bulletproof hosting
// network it had enumerated from three days before, and the whoami then
// `s3 ls` was silent: one burst had made the network the developer's.

var returnGeo = fakeGeo{
	"198.51.100.0/24": {Country: "NL", ASN: 31615, ASNOrg: "Odido"},            // the office
	"192.0.2.128/25":  {Country: "NL", ASN: 14061, ASNOrg: "DIGITALOCEAN-ASN"}, // hosting
}

// devKey is action by dev's long-term key from ip at at.
func devKey(action string, at time.Time, ip string) dt.Rec {
	return keyCall("AKIAEXAMPLEDEVKEY001", action, at).With("sourceIPAddress", ip).
		With("userIdentity.arn", "arn:aws:iam::111122223333:user/dev").With("userIdentity.userName", "dev")
}

// dailyWhoami is ten days of whoami then `s3 ls` from ip, one hour a day,
// ending the day before t0.
func dailyWhoami(t0 time.Time, ip string) []dt.Rec {
	var out []dt.Rec
	for d := 10; d >= 1; d-- {
		at := t0.Add(-time.Duration(d)*24*time.Hour + time.Duration(d%5)*time.Hour)
		out = append(out, devKey("sts:GetCallerIdentity", at, ip), devKey("s3:ListBuckets", at.Add(30*time.Second), ip))
	}
	return out
}

func hostingReturnCases() []struct {
	name   string
	stream []dt.Rec
	want   detectors.Severity
} {
	t0 := time.Date(2025, 3, 31, 20, 47, 52, 0, time.UTC)
	const office, vps = "198.51.100.10", "192.0.2.200"
	var burst []dt.Rec // one enumeration burst from the VPS, three days before
	for i, a := range []string{"iam:ListUsers", "ec2:DescribeInstances", "s3:ListBuckets", "lambda:ListFunctions", "rds:DescribeDBInstances"} {
		burst = append(burst, devKey(a, t0.Add(-3*24*time.Hour+time.Duration(i*15)*time.Second), vps))
	}
	pair := []dt.Rec{devKey("sts:GetCallerIdentity", t0, vps), devKey("s3:ListBuckets", t0.Add(45*time.Second), vps)}
	return []struct {
		name   string
		stream []dt.Rec
		want   detectors.Severity
	}{
		{"the thief back on its VPS after one burst is MEDIUM", cat(dailyWhoami(t0, office), burst, pair), detectors.SeverityMedium},
		// Quiet twin: a jump host the developer works from every day.
		{"a VPS the developer works from daily is its habit", cat(dailyWhoami(t0, vps), pair), 0},
	}
}

func runHostingReturn(t *testing.T, newStore newStoreFunc) {
	for _, c := range hostingReturnCases() {
		t.Run(c.name, func(t *testing.T) {
			d, err := builtin.NewCallerIdentityRecon(detectors.Config{Settings: &detectors.Settings{GeoIP: returnGeo}})
			if err != nil {
				t.Fatal(err)
			}
			stream := sortedByTime(c.stream)
			vs := dt.NewWithStore(t, newStore(t), d).Stream(stream...)
			var top detectors.Severity
			for _, f := range dt.Only(builtin.CallerIdentityReconID, vs[len(vs)-2:]) {
				top = max(top, f.Severity)
			}
			if top != c.want {
				t.Errorf("the final pair raised %v, want %v", top, c.want)
			}
		})
	}
}

func TestCallerIdentityReconHostingReturn(t *testing.T) { runHostingReturn(t, memoryStore) }

func TestCallerIdentityReconHostingReturnOnRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	open := rstore.Factory(t)
	runHostingReturn(t, func(tb testing.TB) state.Store { return open(tb) })
}
