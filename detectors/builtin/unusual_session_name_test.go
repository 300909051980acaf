package builtin_test

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// Records built here with dt are generated, shaped after the AssumeRole
// records of panther-rule-tests and stratus-red-team; the names in them
// are made up. Real records come from testdata/panther and testdata/stratus.

var usnConventions = &detectors.Settings{SessionNamePatterns: []*regexp.Regexp{
	regexp.MustCompile(`^[a-z]+@example\.com$`), regexp.MustCompile(`^aws-go-sdk-\d+$`),
}}

func newUSN(t testing.TB, s *detectors.Settings, doc string) detectors.Detector {
	t.Helper()
	d, err := builtin.NewUnusualSessionName(det3Config(s, doc))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// session is a successful AssumeRole of role under session name name, day
// days and minute minutes after t0.
func usnAssume(role, name string, day, minute int) dt.Rec {
	at := t0.Add(time.Duration(day)*24*time.Hour + time.Duration(minute)*time.Minute)
	return dt.Base("sts.amazonaws.com", "AssumeRole", at).With("requestParameters", map[string]any{
		"roleArn": "arn:aws:iam::111122223333:role/" + role, "roleSessionName": name, "durationSeconds": 3600,
	})
}

// then returns a new stream: base followed by more (never sharing base's
// backing array, which table cases reuse).
func usnThen(base []dt.Rec, more ...dt.Rec) []dt.Rec {
	return append(slices.Clip(base), more...)
}

// history is role assumed under each name, once a day on days 0..days-1.
func usnHistory(role string, days int, names ...string) []dt.Rec {
	var out []dt.Rec
	for d := range days {
		for i, n := range names {
			out = append(out, usnAssume(role, n, d, i))
		}
	}
	return out
}

func TestUnusualSessionNameContract(t *testing.T) {
	t.Run("learned", func(t *testing.T) {
		dt.Run(t, dt.Contract{
			New: func() detectors.Detector { return newUSN(t, nil, "") },
			Loud: usnThen(usnHistory("deploy", 6, "alice@example.com"),
				usnAssume("deploy", "Mallory", 6, 0), usnAssume("deploy", "kT9xQ2mLp4Zr8WbN", 6, 1)),
			Quiet: usnThen(usnHistory("deploy", 6, "alice@example.com", "aws-go-sdk-1722375070115152000"),
				usnAssume("deploy", "bob@example.com", 6, 0), usnAssume("deploy", "aws-go-sdk-1722587398902687000", 6, 1)),
		})
	})
	t.Run("patterns", func(t *testing.T) {
		dt.Run(t, dt.Contract{
			New:   func() detectors.Detector { return newUSN(t, usnConventions, "") },
			Loud:  []dt.Rec{usnAssume("deploy", "Mallory", 0, 0), usnAssume("admin", "kT9xQ2mLp4Zr8WbN", 0, 1)},
			Quiet: []dt.Rec{usnAssume("deploy", "alice@example.com", 0, 0), usnAssume("deploy", "aws-go-sdk-1722375070115152000", 0, 1)},
		})
	})
}

func TestUnusualSessionNameLearned(t *testing.T) {
	none := detectors.SeverityUnknown
	emails := usnHistory("deploy", 6, "alice@example.com", "bob@example.com")
	tests := []struct {
		name     string
		opts     string
		stream   []dt.Rec
		want     detectors.Severity
		evidence map[string]string
	}{
		{name: "same shape as the convention learned", stream: usnThen(emails, usnAssume("deploy", "carol@example.com", 6, 0)), want: none},
		{name: "new shape after warm-up", stream: usnThen(emails, usnAssume("deploy", "Mallory", 6, 0)), want: detectors.SeverityLow,
			evidence: map[string]string{"shape": "Aa/s", "known_shapes": "1", "history_days": "6", "field": "roleSessionName"}},
		{name: "random-looking name of a new shape", stream: usnThen(emails, usnAssume("deploy", "kT9xQ2mLp4Zr8WbN", 6, 0)),
			want: detectors.SeverityMedium, evidence: map[string]string{"random_token": "kT9xQ2mLp4Zr8WbN", "shape": "X/m"}},
		{name: "random names of a shape the role uses", want: none,
			stream: usnThen(usnHistory("worker", 6, "job-Xq7Lp2Vb9Tz4Kw8A"), usnAssume("worker", "job-Zr8WbNkT9xQ2mLp4", 6, 0))},
		{name: "benign SDK default on an email role is a new shape, never random", want: detectors.SeverityLow,
			stream: usnThen(emails, usnAssume("deploy", "botocore-session-1722375070", 6, 0))},
		{name: "SDK defaults with new epochs keep their shape", want: none,
			stream: usnThen(usnHistory("ci", 6, "aws-go-sdk-1722375070115152000"), usnAssume("ci", "aws-go-sdk-1722587398902687000", 6, 0))},
		{name: "UUIDs keep their shape", want: none,
			stream: usnThen(usnHistory("app", 6, "3f2b8c1e-0a9d-4c1b-8e2f-0123456789ab"), usnAssume("app", "1234abcd-1234-1234-1234-123456789012", 6, 0))},
		{name: "instance ids keep their shape", want: none,
			stream: usnThen(usnHistory("ec2", 6, "i-0abc123def4567890"), usnAssume("ec2", "i-0fedcba9876543210", 6, 0))},
		{name: "warm-up: too few days seen", stream: usnThen(usnHistory("deploy", 4, "alice@example.com"), usnAssume("deploy", "kT9xQ2mLp4Zr8WbN", 4, 0)), want: none},
		{name: "warm-up counts days, not events", want: none,
			stream: usnThen(usnHistory("deploy", 1, "a@example.com", "b@example.com", "c@example.com", "d@example.com", "e@example.com", "f@example.com"),
				usnAssume("deploy", "Mallory", 0, 30))},
		{name: "warm-up 0 judges from the second day", opts: "warmup_days: 0", want: detectors.SeverityLow,
			stream: []dt.Rec{usnAssume("deploy", "alice@example.com", 0, 0), usnAssume("deploy", "Mallory", 0, 1)}},
		{name: "a role with too many shapes has no convention", opts: "max_shapes: 2", want: none,
			stream: usnThen(usnHistory("deploy", 6, "alice@example.com", "Bob", "carol-1"), usnAssume("deploy", "Mallory_X", 6, 0))},
		{name: "too many shapes still raises a random name", opts: "max_shapes: 2", want: detectors.SeverityMedium,
			stream: usnThen(usnHistory("deploy", 6, "alice@example.com", "Bob", "carol-1"), usnAssume("deploy", "kT9xQ2mLp4Zr8WbN", 6, 0))},
		{name: "another role's history does not count", stream: usnThen(emails, usnAssume("other", "Mallory", 6, 0)), want: none},
		{name: "same role name in another account has its own history", want: none,
			stream: usnThen(emails, usnAssume("deploy", "Mallory", 6, 0).With("recipientAccountId", "444455556666").
				With("requestParameters.roleArn", "arn:aws:iam::444455556666:role/deploy"))},
		{name: "first source identity ever for the role", want: none,
			stream: usnThen(emails, usnAssume("deploy", "carol@example.com", 6, 0).With("requestParameters.sourceIdentity", "Mallory"))},
		{name: "source identity of a new shape", want: detectors.SeverityLow, evidence: map[string]string{"field": "sourceIdentity", "name": "Mallory"},
			stream: usnThen(usnHistory("deploy", 6, "alice@example.com"),
				usnAssume("deploy", "alice@example.com", 6, 0).With("requestParameters.sourceIdentity", "alice"),
				usnAssume("deploy", "carol@example.com", 6, 1).With("requestParameters.sourceIdentity", "Mallory"))},
		{name: "AWS service callers are never judged", want: none,
			stream: usnThen(emails, det3AsService(usnAssume("deploy", "kT9xQ2mLp4Zr8WbN", 6, 0), "ec2.amazonaws.com"))},
		{name: "failed calls are not judged", want: none,
			stream: usnThen(emails, usnAssume("deploy", "kT9xQ2mLp4Zr8WbN", 6, 0).Failed("AccessDenied"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := dt.Only(builtin.UnusualSessionNameID, dt.New(t, newUSN(t, nil, tt.opts)).Stream(tt.stream...))
			det3CheckOne(t, fs, tt.want, tt.evidence)
		})
	}
}

func TestUnusualSessionNamePatterns(t *testing.T) {
	none := detectors.SeverityUnknown
	saml := func(name string) dt.Rec {
		return usnAssume("sso", "", 0, 0).With("eventName", "AssumeRoleWithSAML").
			With("requestParameters", map[string]any{"roleArn": "arn:aws:iam::111122223333:role/sso", "principalArn": "arn:aws:iam::111122223333:saml-provider/idp"}).
			With("responseElements", map[string]any{"assumedRoleUser": map[string]any{"arn": "arn:aws:sts::111122223333:assumed-role/sso/" + name}}).
			With("userIdentity", map[string]any{"type": "SAMLUser", "principalId": "idp:" + name, "userName": name})
	}
	tests := []struct {
		name     string
		opts     string
		stream   []dt.Rec
		want     int
		severity detectors.Severity
	}{
		{name: "conventional names", stream: []dt.Rec{usnAssume("deploy", "alice@example.com", 0, 0), usnAssume("ci", "aws-go-sdk-1722375070115152000", 0, 1)}},
		{name: "unconventional name", stream: []dt.Rec{usnAssume("deploy", "Mallory", 0, 0)}, want: 1, severity: detectors.SeverityMedium},
		{name: "no warm-up with patterns", stream: []dt.Rec{usnAssume("new-role", "kT9xQ2mLp4Zr8WbN", 0, 0)}, want: 1, severity: detectors.SeverityMedium},
		{name: "a loop under one shape raises once per throttle period", want: 1, severity: detectors.SeverityMedium,
			stream: []dt.Rec{usnAssume("deploy", "Mallory", 0, 0), usnAssume("deploy", "Trudy", 0, 1), usnAssume("deploy", "Mallory", 0, 2)}},
		{name: "another shape or role raises again", want: 3, severity: detectors.SeverityMedium,
			stream: []dt.Rec{usnAssume("deploy", "Mallory", 0, 0), usnAssume("deploy", "mallory-1", 0, 1), usnAssume("admin", "Mallory", 0, 2)}},
		{name: "throttle off", opts: "throttle_minutes: 0", want: 3, severity: detectors.SeverityMedium,
			stream: []dt.Rec{usnAssume("deploy", "Mallory", 0, 0), usnAssume("deploy", "Trudy", 0, 1), usnAssume("deploy", "Mallory", 0, 2)}},
		{name: "source identity judged too", want: 1, severity: detectors.SeverityMedium,
			stream: []dt.Rec{usnAssume("deploy", "alice@example.com", 0, 0).With("requestParameters.sourceIdentity", "root")}},
		{name: "SAML session name from the response", stream: []dt.Rec{saml("alice@example.com"), saml("Mallory")}, want: 1, severity: detectors.SeverityMedium},
		{name: "service caller", stream: []dt.Rec{det3AsService(usnAssume("deploy", "awslambda_55_20240602202712548", 0, 0), "lambda.amazonaws.com")}, severity: none},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := dt.Only(builtin.UnusualSessionNameID, dt.New(t, newUSN(t, usnConventions, tt.opts)).Stream(tt.stream...))
			if len(fs) != tt.want {
				t.Fatalf("%d findings, want %d", len(fs), tt.want)
			}
			for _, f := range fs {
				if f.Severity != tt.severity {
					t.Errorf("severity = %v, want %v", f.Severity, tt.severity)
				}
			}
		})
	}
}

func TestUnusualSessionNameExplains(t *testing.T) {
	tests := []struct {
		name     string
		settings *detectors.Settings
		stream   []dt.Rec
		want     string
	}{
		{"pattern", usnConventions, []dt.Rec{usnAssume("deploy", "Mallory", 0, 0)},
			`arn:aws:iam::111122223333:user/alice called AssumeRole for arn:aws:iam::111122223333:role/deploy from 203.0.113.10 ` +
				`with roleSessionName "Mallory", which matches none of session_names.patterns [^[a-z]+@example\.com$ ^aws-go-sdk-\d+$]`},
		{"new shape", nil, usnThen(usnHistory("deploy", 6, "alice@example.com"), usnAssume("deploy", "Mallory", 6, 0)),
			`arn:aws:iam::111122223333:user/alice called AssumeRole for arn:aws:iam::111122223333:role/deploy from 203.0.113.10 ` +
				`with roleSessionName "Mallory" of shape "Aa/s", never seen for this role (the role was seen on 6 earlier days in the last 90, ` +
				`with 1 known shapes); no session_names.patterns are configured, so the shape was judged against what the role learned`},
		{"random", nil, usnThen(usnHistory("deploy", 6, "alice@example.com"), usnAssume("deploy", "kT9xQ2mLp4Zr8WbN", 6, 0)),
			`arn:aws:iam::111122223333:user/alice called AssumeRole for arn:aws:iam::111122223333:role/deploy from 203.0.113.10 ` +
				`with roleSessionName "kT9xQ2mLp4Zr8WbN": it looks random ("kT9xQ2mLp4Zr8WbN": 16 characters, 4.00 bits/char ≥ ` +
				`random_min_entropy 3.00, character class changes at 100% of positions) and its shape "X/m" is new for the role ` +
				`(the role was seen on 6 earlier days in the last 90, with 1 known shapes)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := dt.Only(builtin.UnusualSessionNameID, dt.New(t, newUSN(t, tt.settings, "")).Stream(tt.stream...))
			if len(fs) != 1 {
				t.Fatalf("want one finding, got %d", len(fs))
			}
			if fs[0].Explanation != tt.want {
				t.Errorf("explanation:\n got %s\nwant %s", fs[0].Explanation, tt.want)
			}
			if !slices.Equal(fs[0].Techniques, []string{"T1078.004", "T1036"}) {
				t.Errorf("techniques = %v", fs[0].Techniques)
			}
		})
	}
}

func TestUnusualSessionNameNotesAndOptions(t *testing.T) {
	if n := newUSN(t, nil, "warmup_days: 3").(detectors.Notable).Notes(); len(n) != 1 || !strings.Contains(n[0], "learning session-name shapes") || !strings.Contains(n[0], "3 days") {
		t.Errorf("notes without patterns = %q", n)
	}
	if n := newUSN(t, usnConventions, "").(detectors.Notable).Notes(); len(n) != 0 {
		t.Errorf("notes with patterns = %q", n)
	}
	_, err := builtin.NewUnusualSessionName(det3Config(nil,
		"history_days: 0\nwarmup_days: -1\nmax_shapes: 0\nrandom_min_length: 2\nrandom_min_entropy: 9\nthrottle_minutes: -5"))
	var keys []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var oe *detectors.OptionError
		if errors.As(e, &oe) {
			keys = append(keys, oe.Key)
		}
	}
	want := []string{"history_days", "warmup_days", "max_shapes", "random_min_length", "random_min_entropy", "throttle_minutes"}
	if !slices.Equal(keys, want) {
		t.Errorf("option errors for %v, want %v (%v)", keys, want, err)
	}
	if _, err := builtin.NewUnusualSessionName(det3Config(nil, "warmup_days: 90")); err == nil {
		t.Error("warmup_days must be shorter than history_days")
	}
}

// TestUnusualSessionNameStratus runs the real AssumeRole records of four
// detonations: aws-go-sdk-<epoch> names, the Go SDK's default, are
// conventional under the patterns and raise nothing while a role warms up.
func TestUnusualSessionNameStratus(t *testing.T) {
	recs := det3Stratus(t, "assume-role.json")
	for _, s := range []*detectors.Settings{nil, usnConventions} {
		if fs := dt.Only(builtin.UnusualSessionNameID, dt.New(t, newUSN(t, s, "")).ScoreRaw(recs...)); len(fs) != 0 {
			t.Errorf("patterns %v: %d findings, first: %s", s != nil, len(fs), fs[0].Explanation)
		}
	}
}

// TestUnusualSessionNamePanther runs the AssumeRole cases of Panther rules
// with the example conventions configured. No Panther rule judges session
// names, so agreement is incidental; the reasons say why we differ.
func TestUnusualSessionNamePanther(t *testing.T) {
	none := detectors.SeverityUnknown
	verdicts := map[string]pantherVerdict{
		"AWS.CloudTrail.IAMAssumeRoleBlacklistIgnored/IAM Blocklisted Role Assumed": {want: detectors.SeverityMedium},
		"AWS.CloudTrail.IAMAssumeRoleBlacklistIgnored/IAM Non Blocklisted Role Assumed": {detectors.SeverityMedium,
			`Panther judges the role; we judge the name, and "1111" matches no session_names pattern`},
		"AWS.CloudTrail.IAMAssumeRoleBlacklistIgnored/Error Assuming IAM Blocked Role": {want: none},
		"Role.Assumed.by.AWS.Service/Role Assumed by AWS Service": {none,
			"Panther's INFO rule lists service assumptions; services name their own sessions and are never judged"},
		"Role.Assumed.by.User/Role Assumed by Service": {want: none},
	}
	runPantherSuite(t, builtin.UnusualSessionNameID, func(t *testing.T) detectors.Detector { return newUSN(t, usnConventions, "") }, verdicts,
		"AWS.CloudTrail.IAMAssumeRoleBlacklistIgnored", "Role.Assumed.by.AWS.Service", "Role.Assumed.by.User")
}
