package builtin_test

import (
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
