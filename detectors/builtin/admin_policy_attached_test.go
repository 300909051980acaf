package builtin_test

import (
	"slices"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// All records here are generated (detectortest builders), shaped after the
// AttachUserPolicy/AttachRolePolicy records of panther-rule-tests.

var t0 = time.Date(2024, 8, 1, 13, 0, 0, 0, time.UTC)

const adminARN = "arn:aws:iam::aws:policy/AdministratorAccess"

func attach(kind string, name string, policy string, at time.Time) dt.Rec {
	names := map[string]string{"user": "userName", "role": "roleName", "group": "groupName"}
	events := map[string]string{"user": "AttachUserPolicy", "role": "AttachRolePolicy", "group": "AttachGroupPolicy"}
	return dt.IAM(events[kind], at, map[string]any{names[kind]: name, "policyArn": policy})
}

func create(kind, name string, at time.Time) dt.Rec {
	events := map[string]string{"user": "CreateUser", "role": "CreateRole", "group": "CreateGroup"}
	names := map[string]string{"user": "userName", "role": "roleName", "group": "groupName"}
	return dt.IAM(events[kind], at, map[string]any{names[kind]: name})
}

func TestAdminPolicyAttachedContract(t *testing.T) {
	dt.Run(t, dt.Contract{
		New: func() detectors.Detector { return dt.Must(builtin.NewAdminPolicyAttached(detectors.Config{})) },
		Loud: []dt.Rec{
			create("role", "fresh", t0),
			attach("role", "fresh", adminARN, t0.Add(10*time.Minute)),
			attach("user", "bob", adminARN, t0.Add(20*time.Minute)),
			attach("group", "ops", adminARN, t0.Add(30*time.Minute)).Failed("AccessDenied"),
		},
		Quiet: []dt.Rec{
			create("role", "app", t0),
			attach("role", "app", "arn:aws:iam::aws:policy/ReadOnlyAccess", t0.Add(time.Minute)),
			attach("user", "bob", "arn:aws:iam::111122223333:policy/AdministratorAccess", t0.Add(2*time.Minute)),
			attach("user", "bob", "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess", t0.Add(3*time.Minute)),
			dt.IAM("DetachRolePolicy", t0.Add(4*time.Minute), map[string]any{"roleName": "app", "policyArn": adminARN}),
			dt.Base("sts.amazonaws.com", "GetCallerIdentity", t0.Add(5*time.Minute)),
		},
	})
}

func TestAdminPolicyAttachedSeverity(t *testing.T) {
	tests := []struct {
		name       string
		stream     []dt.Rec
		want       detectors.Severity
		techniques []string
		evidence   map[string]string
	}{
		{
			name:       "role created 10 minutes earlier is CRITICAL",
			stream:     []dt.Rec{create("role", "r1", t0), attach("role", "r1", adminARN, t0.Add(10*time.Minute))},
			want:       detectors.SeverityCritical,
			techniques: []string{"T1098", "T1098.003"},
			evidence:   map[string]string{"target_type": "role", "target_name": "r1", "target_created": "2024-08-01T13:00:00Z", "policy_arn": adminARN},
		},
		{
			name:       "role never seen created is HIGH",
			stream:     []dt.Rec{attach("role", "old", adminARN, t0)},
			want:       detectors.SeverityHigh,
			techniques: []string{"T1098", "T1098.003"},
			evidence:   map[string]string{"target_type": "role", "target_name": "old", "actor": "arn:aws:iam::111122223333:user/alice"},
		},
		{
			name:   "role created 25 hours earlier is HIGH",
			stream: []dt.Rec{create("role", "r2", t0), attach("role", "r2", adminARN, t0.Add(25*time.Hour))},
			want:   detectors.SeverityHigh,
		},
		{
			name:   "creation after the attachment does not make it CRITICAL",
			stream: []dt.Rec{create("role", "r3", t0.Add(time.Hour)), attach("role", "r3", adminARN, t0)},
			want:   detectors.SeverityHigh,
		},
		{
			name:   "failed creation does not count",
			stream: []dt.Rec{create("user", "u1", t0).Failed("EntityAlreadyExists"), attach("user", "u1", adminARN, t0.Add(time.Minute))},
			want:   detectors.SeverityHigh,
		},
		{
			name:       "user created earlier the same day is CRITICAL",
			stream:     []dt.Rec{create("user", "u2", t0), attach("user", "u2", adminARN, t0.Add(23*time.Hour))},
			want:       detectors.SeverityCritical,
			techniques: []string{"T1098"},
		},
		{
			name:   "group created just before is CRITICAL",
			stream: []dt.Rec{create("group", "g1", t0), attach("group", "g1", adminARN, t0.Add(time.Second))},
			want:   detectors.SeverityCritical,
		},
		{
			name:     "AccessDenied attempt is MEDIUM",
			stream:   []dt.Rec{attach("role", "r4", adminARN, t0).Failed("AccessDenied")},
			want:     detectors.SeverityMedium,
			evidence: map[string]string{"error_code": "AccessDenied"},
		},
		{
			name:   "another partition's AdministratorAccess counts",
			stream: []dt.Rec{attach("user", "u3", "arn:aws-us-gov:iam::aws:policy/AdministratorAccess", t0)},
			want:   detectors.SeverityHigh,
		},
		{
			name:   "same name in another account was not created",
			stream: []dt.Rec{create("role", "r5", t0).With("recipientAccountId", "444455556666").With("userIdentity.accountId", "444455556666"), attach("role", "r5", adminARN, t0.Add(time.Minute))},
			want:   detectors.SeverityHigh,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := dt.Only(builtin.AdminPolicyAttachedID, dt.New(t, dt.Must(builtin.NewAdminPolicyAttached(detectors.Config{}))).Stream(tt.stream...))
			if len(fs) != 1 {
				t.Fatalf("want exactly one finding, got %d", len(fs))
			}
			f := fs[0]
			if f.Severity != tt.want {
				t.Errorf("severity = %v, want %v (%s)", f.Severity, tt.want, f.Explanation)
			}
			if tt.techniques != nil && !slices.Equal(f.Techniques, tt.techniques) {
				t.Errorf("techniques = %v, want %v", f.Techniques, tt.techniques)
			}
			for k, v := range tt.evidence {
				if f.Evidence[k] != v {
					t.Errorf("evidence[%s] = %q, want %q", k, f.Evidence[k], v)
				}
			}
		})
	}
}

func TestAdminPolicyAttachedExplains(t *testing.T) {
	vs := dt.New(t, dt.Must(builtin.NewAdminPolicyAttached(detectors.Config{}))).Stream(
		create("role", "backdoor", t0), attach("role", "backdoor", adminARN, t0.Add(10*time.Minute)))
	if vs[1].Outcome != engine.OutcomeAlert {
		t.Fatalf("outcome = %v, want ALERT", vs[1].Outcome)
	}
	want := `arn:aws:iam::111122223333:user/alice gave role "backdoor" arn:aws:iam::aws:policy/AdministratorAccess (every action on every resource), and it was created 10m0s earlier (at 2024-08-01T13:00:00Z): a new identity made administrator`
	if got := vs[1].Findings[0].Explanation; got != want {
		t.Errorf("explanation:\n got %s\nwant %s", got, want)
	}
}

func TestIsAdministratorAccess(t *testing.T) {
	for arn, want := range map[string]bool{
		"arn:aws:iam::aws:policy/AdministratorAccess":              true,
		"arn:aws-cn:iam::aws:policy/AdministratorAccess":           true,
		"arn:aws-us-gov:iam::aws:policy/AdministratorAccess":       true,
		"arn:aws:iam::aws:policy/administratoraccess":              false,
		"arn:aws:iam::123456789012:policy/AdministratorAccess":     false,
		"arn:aws:iam::aws:policy/job-function/AdministratorAccess": false,
		"arn::iam::aws:policy/AdministratorAccess":                 false,
		"AdministratorAccess":                                      false,
		"":                                                         false,
	} {
		if got := builtin.IsAdministratorAccess(arn); got != want {
			t.Errorf("IsAdministratorAccess(%q) = %v, want %v", arn, got, want)
		}
	}
}
