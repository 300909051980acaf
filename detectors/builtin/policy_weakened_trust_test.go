package builtin_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
)

// Generated trust-policy scenarios (detectortest builders, hand-written
// documents shaped after the IAM API reference and GitHub's OIDC guide).

const ghProvider = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"

func ghTrust(subs ...string) string {
	b, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Principal": map[string]any{"Federated": ghProvider},
		"Action": "sts:AssumeRoleWithWebIdentity",
		"Condition": map[string]any{
			"StringEquals": map[string]any{"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
			"StringLike":   map[string]any{"token.actions.githubusercontent.com:sub": subs},
		},
	}}})
	return string(b)
}

var orgSettings = &detectors.Settings{
	Accounts:        []string{"111122223333", "222233334444"},
	PrivilegedRoles: []string{"arn:aws:iam::*:role/Admin*"},
}

func runTrustScenarios(t *testing.T, newStore newStoreFunc) {
	tests := []struct {
		name     string
		settings *detectors.Settings
		stream   []dt.Rec
		want     detectors.Severity // the highest finding; Unknown: none
		evidence map[string]string
	}{
		{name: "GitHub sub list with one narrow and one broad value is open", want: detectors.SeverityHigh,
			stream:   []dt.Rec{createRole("ci", ghTrust("repo:acme/x:*", "repo:*"), t0)},
			evidence: map[string]string{"trusts_subjects": "token.actions.githubusercontent.com:aud=sts.amazonaws.com, token.actions.githubusercontent.com:sub=repo:*, token.actions.githubusercontent.com:sub=repo:acme/x:*"}},
		{name: "quiet: GitHub sub list of narrow values",
			stream: []dt.Rec{createRole("ci", ghTrust("repo:acme/x:*", "repo:acme/y:ref:refs/heads/main"), t0)}},
		{name: "update that opens a narrow GitHub trust reports the subject it adds", want: detectors.SeverityHigh,
			stream: []dt.Rec{
				createRole("ci", ghTrust("repo:acme/x:*"), t0),
				updateTrust("ci", ghTrust("repo:acme/x:*", "repo:*"), t0.Add(time.Hour)),
			},
			evidence: map[string]string{"adds_subjects": "token.actions.githubusercontent.com:sub=repo:*"}},
		{name: "update adding an outside account reports only the added principal", want: detectors.SeverityHigh,
			stream: []dt.Rec{
				createRole("deploy", trust(`{"AWS":"arn:aws:iam::999988887777:root"}`), t0),
				updateTrust("deploy", trust(`{"AWS":["arn:aws:iam::999988887777:root","arn:aws:iam::444455556666:role/x"]}`), t0.Add(time.Hour)),
			},
			evidence: map[string]string{"adds_principals": "AWS:arn:aws:iam::444455556666:role/x"}},
		{name: "another organisation account on a privileged role is MEDIUM", settings: orgSettings, want: detectors.SeverityMedium,
			stream:   []dt.Rec{createRole("AdminAccess", trust(`{"AWS":"arn:aws:iam::222233334444:root"}`), t0)},
			evidence: map[string]string{"privileged": "matches privileged_roles pattern arn:aws:iam::*:role/Admin*"}},
		{name: "quiet: another organisation account on an ordinary role", settings: orgSettings,
			stream: []dt.Rec{createRole("reader", trust(`{"AWS":"arn:aws:iam::222233334444:root"}`), t0)}},
		{name: "quiet: the role's own account on a privileged role", settings: orgSettings,
			stream: []dt.Rec{createRole("AdminAccess", trust(`{"AWS":"arn:aws:iam::111122223333:root"}`), t0)}},
		{name: "an outside account on a privileged role stays HIGH", settings: orgSettings, want: detectors.SeverityHigh,
			stream: []dt.Rec{createRole("AdminAccess", trust(`{"AWS":"arn:aws:iam::999988887777:root"}`), t0)}},
		{name: "a role made privileged by AdministratorAccess, then trusted by an organisation account", settings: orgSettings,
			want: detectors.SeverityMedium,
			stream: []dt.Rec{
				createRole("ops", trust(`{"Service":"ec2.amazonaws.com"}`), t0),
				dt.IAM("AttachRolePolicy", t0.Add(time.Minute), map[string]any{"roleName": "ops", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
				updateTrust("ops", trust(`{"AWS":"arn:aws:iam::222233334444:root","Service":"ec2.amazonaws.com"}`), t0.Add(time.Hour)),
			},
			evidence: map[string]string{"adds_principals": "AWS:arn:aws:iam::222233334444:root"}},
	}
	for _, tt := range tests {
		inDeliveryOrders(t, tt.name, tt.stream, 3, func(t *testing.T, stream []dt.Rec) {
			spike := dt.Must(builtin.NewPrivilegedRoleAssumptionSpike(det3Config(tt.settings, "")))
			h := dt.NewWithStore(t, newStore(t), spike, newPolicyWeakened(t, tt.settings, ""))
			fs := dt.Only(builtin.PolicyWeakenedID, h.Stream(stream...))
			if tt.want == detectors.SeverityUnknown {
				if len(fs) > 0 {
					t.Fatalf("want no finding, got %v: %s", fs[0].Severity, fs[0].Explanation)
				}
				return
			}
			// The finding of the rule under test: the highest, and among
			// those the one with the evidence asked for.
			var best *detectors.Finding
			for i := range fs {
				f := &fs[i]
				if f.Severity > tt.want {
					t.Errorf("finding above %v: %v %s", tt.want, f.Severity, f.Explanation)
				}
				if f.Severity == tt.want && hasEvidence(f, tt.evidence) {
					best = f
				}
			}
			if best == nil {
				t.Fatalf("no %v finding with evidence %v among %d findings", tt.want, tt.evidence, len(fs))
			}
			if tt.evidence["adds_subjects"] != "" && !strings.Contains(best.Explanation, "repo:*") {
				t.Errorf("explanation does not name the added subject: %s", best.Explanation)
			}
		})
	}
}

func hasEvidence(f *detectors.Finding, want map[string]string) bool {
	for k, v := range want {
		if f.Evidence[k] != v {
			return false
		}
	}
	return true
}

func TestTrustPolicyScenarios(t *testing.T) { runTrustScenarios(t, memoryStore) }

func TestTrustPolicyOnRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	open := rstore.Factory(t)
	runTrustScenarios(t, func(tb testing.TB) state.Store { return open(tb) })
}
