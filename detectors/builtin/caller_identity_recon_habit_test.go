package builtin_test

import (
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// Scenarios of issue 12 for caller-identity-recon: a principal's habitual
// whoami is learned and stays quiet; what is new about a pair raises; the
// shaping variants of the issue (a six-minute gap, other identity probes,
// sensitive discovery, two keys or sessions of one principal) fire; and
// the escalation with access-key-new-location holds inside one batch.

const newPlace = "198.51.100.7" // another /16 than dt.Base's 203.0.113.10

// habitualDays streams ten days of alice's daily whoami then `aws s3 ls`
// and an IAM read, ending the day before w0, one batch a day.
func habitualDays(t *testing.T, h *dt.Harness) {
	t.Helper()
	for day := 10; day >= 1; day-- {
		at := w0.Add(-time.Duration(day) * 24 * time.Hour)
		vs := h.Score(gci(keyA, at), keyCall(keyA, "s3:ListBuckets", at.Add(20*time.Second)),
			keyCall(keyA, "iam:GetRole", at.Add(40*time.Second)))
		if day < 10 {
			if fs := dt.Only(builtin.CallerIdentityReconID, vs); len(fs) != 0 {
				t.Fatalf("habit, day -%d: %s", day, fs[0].Explanation)
			}
		}
	}
}

func withLocation(t *testing.T) []detectors.Detector {
	loc, err := builtin.NewAccessKeyNewLocation(options(""))
	if err != nil {
		t.Fatal(err)
	}
	return []detectors.Detector{newRecon(t, ""), loc}
}

func TestCallerIdentityReconHabit(t *testing.T) {
	tests := []struct {
		name  string
		batch []dt.Rec // scored as one batch on w0's day
		want  detectors.Severity
	}{
		{name: "habitual whoami then s3 ls is quiet",
			batch: []dt.Rec{gci(keyA, w0), keyCall(keyA, "s3:ListBuckets", w0.Add(20*time.Second))}},
		{name: "habitual whoami then a habitual IAM read is quiet",
			batch: []dt.Rec{gci(keyA, w0), keyCall(keyA, "iam:GetRole", w0.Add(20*time.Second))}},
		{name: "habitual whoami then secrets listing is MEDIUM", want: detectors.SeverityMedium,
			batch: []dt.Rec{gci(keyA, w0), keyCall(keyA, "secretsmanager:ListSecrets", w0.Add(6*time.Minute))}},
		{name: "whoami from a new network then s3 ls is MEDIUM", want: detectors.SeverityMedium,
			batch: []dt.Rec{gci(keyA, w0).With("sourceIPAddress", newPlace),
				keyCall(keyA, "s3:ListBuckets", w0.Add(time.Minute)).With("sourceIPAddress", newPlace)}},
		// The probe is the first record from the new place: the
		// new-location mark is written after this batch, and the recon
		// judges the network itself.
		{name: "new location and sensitive discovery in one batch is HIGH", want: detectors.SeverityHigh,
			batch: []dt.Rec{gci(keyA, w0).With("sourceIPAddress", newPlace),
				keyCall(keyA, "iam:ListRoles", w0.Add(30*time.Second)).With("sourceIPAddress", newPlace)}},
		{name: "another key of the user, from a new network, then KMS", want: detectors.SeverityHigh,
			batch: []dt.Rec{gci("AKIAEXAMPLEALICE02", w0).With("sourceIPAddress", newPlace),
				keyCall(keyA, "kms:ListKeys", w0.Add(7*time.Minute)).With("sourceIPAddress", newPlace)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := dt.New(t, withLocation(t)...)
			habitualDays(t, h)
			vs := h.Score(tt.batch...)
			fs := dt.Only(builtin.CallerIdentityReconID, vs)
			if tt.want == 0 {
				if len(fs) != 0 {
					t.Fatalf("want quiet: %s", fs[0].Explanation)
				}
				return
			}
			if len(fs) != 1 || fs[0].Severity != tt.want {
				t.Fatalf("want one %v finding, got %+v", tt.want, fs)
			}
		})
	}
}

// TestCallerIdentityReconProbes: every identity probe starts a pair, and a
// role's sessions are one principal; GetUser on another user is discovery.
func TestCallerIdentityReconProbes(t *testing.T) {
	role := func(r dt.Rec, session string) dt.Rec { return r.AsAssumedRole("deploy", session) }
	tests := []struct {
		name   string
		stream []dt.Rec
		want   int
	}{
		{name: "iam:GetUser without a user name", want: 1,
			stream: []dt.Rec{keyCall(keyA, "iam:GetUser", w0), keyCall(keyA, "iam:ListRoles", w0.Add(time.Minute))}},
		{name: "iam:GetUser naming the caller", want: 1,
			stream: []dt.Rec{keyCall(keyA, "iam:GetUser", w0).With("requestParameters", map[string]any{"userName": "alice"}),
				keyCall(keyA, "s3:ListBuckets", w0.Add(time.Minute))}},
		{name: "sts:GetAccessKeyInfo", want: 1,
			stream: []dt.Rec{keyCall(keyA, "sts:GetAccessKeyInfo", w0), keyCall(keyA, "organizations:DescribeOrganization", w0.Add(time.Minute))}},
		{name: "probe in one role session, discovery in another", want: 1,
			stream: []dt.Rec{role(gci(keyS, w0), "s1"), role(keyCall("ASIAEXAMPLESESSION2", "secretsmanager:ListSecrets", w0.Add(4*time.Minute)), "s2")}},
		{name: "iam:GetUser naming someone else is not a probe",
			stream: []dt.Rec{keyCall(keyA, "iam:GetUser", w0).With("requestParameters", map[string]any{"userName": "bob"}),
				keyCall(keyA, "s3:ListBuckets", w0.Add(time.Minute))}},
		{name: "sts:AssumeRole is not a probe",
			stream: []dt.Rec{keyCall(keyA, "sts:AssumeRole", w0), keyCall(keyA, "s3:ListBuckets", w0.Add(time.Minute))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := dt.Only(builtin.CallerIdentityReconID, dt.New(t, newRecon(t, "")).Stream(tt.stream...))
			if len(fs) != tt.want {
				t.Fatalf("got %d findings, want %d", len(fs), tt.want)
			}
		})
	}
}

// TestCallerIdentityReconApplicationKey: an application's key that only
// writes all day (nothing recon learns from) probes its identity and
// lists buckets: MEDIUM, because access-key-new-location saw the key for
// days. The same pair by a key nobody has seen is LOW.
func TestCallerIdentityReconApplicationKey(t *testing.T) {
	for _, tt := range []struct {
		name    string
		history bool
		want    detectors.Severity
	}{
		{"key with a history", true, detectors.SeverityMedium},
		{"key never seen", false, detectors.SeverityLow},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := dt.New(t, newRecon(t, ""), dt.Must(builtin.NewAccessKeyNewLocation(detectors.Config{Settings: &detectors.Settings{}})))
			t0 := time.Date(2024, 8, 1, 13, 0, 0, 0, time.UTC)
			if tt.history {
				for d := range 3 {
					h.Score(dt.Base("s3.amazonaws.com", "PutObject", t0.Add(time.Duration(d-3)*24*time.Hour)).With("sourceIPAddress", "203.0.113.10"))
				}
			}
			h.Score(dt.Base("sts.amazonaws.com", "GetCallerIdentity", t0).With("sourceIPAddress", "203.0.113.10"))
			fs := dt.Only(builtin.CallerIdentityReconID, h.Score(dt.Base("s3.amazonaws.com", "ListBuckets", t0.Add(time.Minute)).With("sourceIPAddress", "203.0.113.10")))
			if len(fs) != 1 || fs[0].Severity != tt.want {
				t.Fatalf("want one %v finding, got %+v", tt.want, fs)
			}
		})
	}
}

// TestCallerIdentityReconPeople: a person's Identity Center session is the
// person's (not the role's). Their first whoami in days, or one from their
// phone, is LOW; from a hosting network it is MEDIUM. Two people sharing
// the role do not make each other's networks known.
func TestCallerIdentityReconPeople(t *testing.T) {
	geo := fakeGeo{
		"203.0.113.0/24":  {Country: "NL", ASN: 33915, ASNOrg: "Vodafone Libertel"},
		"198.51.100.0/24": {Country: "NL", ASN: 31615, ASNOrg: "Odido"},
		"192.0.2.128/25":  {Country: "NL", ASN: 14061, ASNOrg: "DIGITALOCEAN-ASN"},
	}
	person := func(name, ip string, at time.Time, source, event string) dt.Rec {
		return dt.Base(source, event, at).AsAssumedRole("AWSReservedSSO_Developer_0a1b2c3d4e5f6a7b", name+"@example.com").
			With("sourceIPAddress", ip).With("userIdentity.accessKeyId", "ASIA"+strings.ToUpper(name)+"SESSION000")
	}
	t0 := time.Date(2024, 8, 10, 9, 0, 0, 0, time.UTC)
	var home []dt.Rec // three days of alice's work from home, no probes
	for d := range 3 {
		home = append(home, person("alice", "203.0.113.10", t0.Add(time.Duration(d-3)*24*time.Hour), "ec2.amazonaws.com", "DescribeInstances"))
	}
	for _, tt := range []struct {
		name string
		ip   string
		want detectors.Severity
	}{
		{"first whoami at home is LOW", "203.0.113.10", detectors.SeverityLow},
		{"whoami from the phone is LOW", "198.51.100.7", detectors.SeverityLow},
		{"whoami from a VPS is MEDIUM", "192.0.2.200", detectors.SeverityMedium},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, err := builtin.NewCallerIdentityRecon(detectors.Config{Settings: &detectors.Settings{GeoIP: geo}})
			if err != nil {
				t.Fatal(err)
			}
			h := dt.New(t, d)
			h.Stream(home...)
			// bob shares the role; his network teaches alice's nothing.
			h.Score(person("bob", "198.51.100.8", t0.Add(-time.Hour), "ec2.amazonaws.com", "DescribeInstances"))
			h.Score(person("alice", tt.ip, t0, "sts.amazonaws.com", "GetCallerIdentity"))
			fs := dt.Only(builtin.CallerIdentityReconID, h.Score(person("alice", tt.ip, t0.Add(time.Minute), "s3.amazonaws.com", "ListBuckets")))
			if len(fs) != 1 || fs[0].Severity != tt.want {
				t.Fatalf("want one %v finding, got %+v", tt.want, fs)
			}
			if !strings.Contains(fs[0].Incident, "person:alice@example.com") {
				t.Errorf("incident %s is not alice's", fs[0].Incident)
			}
		})
	}
}
