package builtin_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// Scenarios of admin-policy-attached: every path to an admin-equivalent
// grant, each with its quiet twin, and the creation + grant pair in both
// arrival orders. Records are generated (detectortest builders) after the
// request shapes of the IAM and IAM Identity Center API references
// (CloudTrail records request parameters by their API names, camelCase);
// policy documents are hand-written.

const (
	psARN    = "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-aaaaaaaaaaaaaaaa"
	ssoInst  = "arn:aws:sso:::instance/ssoins-1111111111111111"
	awsPol   = "arn:aws:iam::aws:policy/"
	quarV2   = awsPol + "AWSCompromisedKeyQuarantineV2"
	readOnly = awsPol + "ReadOnlyAccess"
)

func sso(name string, at time.Time, params map[string]any) dt.Rec {
	return dt.Base("sso.amazonaws.com", name, at).With("requestParameters", params)
}

func psAttach(policy string, at time.Time) dt.Rec {
	return sso("AttachManagedPolicyToPermissionSet", at, map[string]any{"instanceArn": ssoInst, "permissionSetArn": psARN, "managedPolicyArn": policy})
}

func psInline(document string, at time.Time) dt.Rec {
	return sso("PutInlinePolicyToPermissionSet", at, map[string]any{"instanceArn": ssoInst, "permissionSetArn": psARN, "inlinePolicy": document})
}

func psAssign(at time.Time) dt.Rec {
	return sso("CreateAccountAssignment", at, map[string]any{"instanceArn": ssoInst, "permissionSetArn": psARN,
		"targetId": "444455556666", "targetType": "AWS_ACCOUNT", "principalType": "USER", "principalId": "94482488-3041-7026-18f3-be45837cd0e4"})
}

func addToGroup(user, group string, at time.Time) dt.Rec {
	return dt.IAM("AddUserToGroup", at, map[string]any{"userName": user, "groupName": group})
}

func newAdminDetector() detectors.Detector {
	return dt.Must(builtin.NewAdminPolicyAttached(detectors.Config{}))
}

// adminScenario expects, on the last record of stream, one finding of sev
// (zero: none on any record).
type adminScenario struct {
	name   string
	stream []dt.Rec
	sev    detectors.Severity
	ev     map[string]string
}

func adminScenarios() []adminScenario {
	m := func(d int) time.Time { return t0.Add(time.Duration(d) * time.Minute) }
	return []adminScenario{
		{name: "IAMFullAccess to a user", stream: []dt.Rec{attach("user", "bob", awsPol+"IAMFullAccess", m(0))},
			sev: detectors.SeverityHigh, ev: map[string]string{"grant": "admin-equivalent"}},
		{name: "PowerUserAccess to a role", stream: []dt.Rec{attach("role", "ci", awsPol+"PowerUserAccess", m(0))}, sev: detectors.SeverityHigh},
		{name: "AdministratorAccess-Amplify to a group", stream: []dt.Rec{attach("group", "web", awsPol+"AdministratorAccess-Amplify", m(0))}, sev: detectors.SeverityHigh},
		{name: "AWSOrganizationsFullAccess in GovCloud", stream: []dt.Rec{attach("user", "bob", "arn:aws-us-gov:iam::aws:policy/AWSOrganizationsFullAccess", m(0))}, sev: detectors.SeverityHigh},
		{name: "job-function SystemAdministrator is escalation-capable", stream: []dt.Rec{attach("user", "bob", awsPol+"job-function/SystemAdministrator", m(0))},
			sev: detectors.SeverityMedium, ev: map[string]string{"grant": "escalation-capable"}},
		{name: "quiet: ReadOnlyAccess", stream: []dt.Rec{attach("user", "bob", readOnly, m(0))}},
		{name: "quiet: escalation-capable attempt that failed", stream: []dt.Rec{attach("user", "bob", awsPol+"AWSLambda_FullAccess", m(0)).Failed("AccessDenied")}},

		{name: "customer policy whose default grants *", stream: []dt.Rec{createPolicy("ops", doc(stAdmin), m(0)), attach("user", "bob", polARN, m(5))},
			sev: detectors.SeverityHigh, ev: map[string]string{"policy_default_version": "v1", "policy_arn": polARN}},
		{name: "customer policy made admin by CreatePolicyVersion as default",
			stream: []dt.Rec{createPolicy("ops", doc(stS3Read), m(0)), createVersion(doc(`{"Effect":"Allow","Action":"iam:*","Resource":"*"}`), "v2", true, m(1)), attach("role", "app", polARN, m(5))},
			sev:    detectors.SeverityHigh, ev: map[string]string{"policy_default_version": "v2"}},
		{name: "customer policy made admin by SetDefaultPolicyVersion",
			stream: []dt.Rec{createPolicy("ops", doc(stS3Read), m(0)), createVersion(doc(stAdmin), "v2", false, m(1)), setDefault("v2", m(2)), attach("group", "g", polARN, m(5))},
			sev:    detectors.SeverityHigh},
		{name: "customer policy with NotAction of one item", stream: []dt.Rec{createPolicy("ops", doc(`{"Effect":"Allow","NotAction":"s3:DeleteBucket","Resource":"*"}`), m(0)), attach("user", "bob", polARN, m(5))},
			sev: detectors.SeverityHigh},
		{name: "customer policy granting an escalation set", stream: []dt.Rec{createPolicy("ops", doc(`{"Effect":"Allow","Action":"iam:CreateAccessKey","Resource":"*"}`), m(0)), attach("user", "bob", polARN, m(5))},
			sev: detectors.SeverityMedium},
		{name: "quiet: customer policy granting S3 reads", stream: []dt.Rec{createPolicy("ops", doc(stS3Read), m(0)), attach("user", "bob", polARN, m(5))}},
		{name: "quiet: admin version created but not default", stream: []dt.Rec{createPolicy("ops", doc(stS3Read), m(0)), createVersion(doc(stAdmin), "v2", false, m(1)), attach("user", "bob", polARN, m(5))}},
		{name: "quiet: default rolled back from admin", stream: []dt.Rec{createPolicy("ops", doc(stAdmin), m(0)), createVersion(doc(stS3Read), "v2", true, m(1)), attach("user", "bob", polARN, m(5))}},
		{name: "quiet: customer policy never seen", stream: []dt.Rec{attach("user", "bob", "arn:aws:iam::111122223333:policy/AdministratorAccess", m(0))}},

		{name: "AddUserToGroup into a group holding AdministratorAccess",
			stream: []dt.Rec{attach("group", "admins", adminARN, m(0)), addToGroup("mallory", "admins", m(5))},
			sev:    detectors.SeverityHigh, ev: map[string]string{"group_name": "admins", "target_name": "mallory", "group_admin_since": "2024-08-01T13:00:00Z"}},
		{name: "AddUserToGroup into a group with an inline admin policy",
			stream: []dt.Rec{putInline("group", "ops", "all", doc(`{"Effect":"Allow","Action":"*","Resource":"arn:aws:*:*:*:*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}`), m(0)), addToGroup("mallory", "ops", m(5))},
			sev:    detectors.SeverityHigh},
		{name: "AddUserToGroup into a group holding an admin customer policy",
			stream: []dt.Rec{createPolicy("ops", doc(stAdmin), m(0)), attach("group", "ops", polARN, m(1)), addToGroup("mallory", "ops", m(5))},
			sev:    detectors.SeverityHigh},
		{name: "quiet: AddUserToGroup into a read-only group",
			stream: []dt.Rec{attach("group", "readers", readOnly, m(0)), putInline("group", "readers", "s3", doc(stS3Read), m(1)), addToGroup("carol", "readers", m(5))}},
		{name: "quiet: AddUserToGroup into a group never seen", stream: []dt.Rec{addToGroup("carol", "admins", m(0))}},

		{name: "Identity Center: AdministratorAccess in a permission set", stream: []dt.Rec{psAttach(adminARN, m(0))},
			sev: detectors.SeverityHigh, ev: map[string]string{"permission_set_arn": psARN, "target_type": "permission-set"}},
		{name: "Identity Center: assignment of an admin permission set", stream: []dt.Rec{psAttach(adminARN, m(0)), psAssign(m(5))},
			sev: detectors.SeverityHigh, ev: map[string]string{"target_account": "444455556666", "target_type": "identity-center-USER"}},
		{name: "Identity Center: assignment of a permission set with an inline admin policy", stream: []dt.Rec{psInline(doc(stAdmin), m(0)), psAssign(m(5))},
			sev: detectors.SeverityHigh},
		{name: "quiet: Identity Center assignment of a read-only permission set", stream: []dt.Rec{psAttach(readOnly, m(0)), psInline(doc(stS3Read), m(1)), psAssign(m(5))}},
		{name: "quiet: Identity Center assignment of a permission set never seen", stream: []dt.Rec{psAssign(m(0))}},

		{name: "permissions boundary deleted from a role", stream: []dt.Rec{dt.IAM("DeleteRolePermissionsBoundary", m(0), map[string]any{"roleName": "dev"})},
			sev: detectors.SeverityHigh},
		{name: "permissions boundary deleted from a user", stream: []dt.Rec{dt.IAM("DeleteUserPermissionsBoundary", m(0), map[string]any{"userName": "dev"})},
			sev: detectors.SeverityHigh},
		{name: "quiet: permissions boundary set", stream: []dt.Rec{dt.IAM("PutRolePermissionsBoundary", m(0), map[string]any{"roleName": "dev", "permissionsBoundary": readOnly})}},
		{name: "AWSCompromisedKeyQuarantineV2 detached", stream: []dt.Rec{dt.IAM("DetachUserPolicy", m(0), map[string]any{"userName": "leaky", "policyArn": quarV2})},
			sev: detectors.SeverityHigh, ev: map[string]string{"policy_arn": quarV2}},
		{name: "quiet: ReadOnlyAccess detached", stream: []dt.Rec{dt.IAM("DetachUserPolicy", m(0), map[string]any{"userName": "leaky", "policyArn": readOnly})}},
	}
}

func runAdminScenarios(t *testing.T, newStore newStoreFunc) {
	for _, sc := range adminScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			vs := dt.NewWithStore(t, newStore(t), newAdminDetector()).Stream(sc.stream...)
			last := dt.Only(builtin.AdminPolicyAttachedID, vs[len(vs)-1:])
			if sc.sev == 0 {
				if fs := dt.Only(builtin.AdminPolicyAttachedID, vs); len(fs) > 0 {
					t.Fatalf("want quiet, got %v on %s: %s", fs[0].Severity, fs[0].EventName, fs[0].Explanation)
				}
				return
			}
			if len(last) != 1 {
				t.Fatalf("want one finding on the last record, got %d", len(last))
			}
			f := last[0]
			if f.Severity != sc.sev {
				t.Errorf("severity = %v, want %v (%s)", f.Severity, sc.sev, f.Explanation)
			}
			for k, v := range sc.ev {
				if f.Evidence[k] != v {
					t.Errorf("evidence[%s] = %q, want %q", k, f.Evidence[k], v)
				}
			}
		})
	}
}

func TestAdminGrantScenarios(t *testing.T) { runAdminScenarios(t, memoryStore) }

// adminPair is a target's creation and its grant, after setup records.
// judgedLate marks a grant whose admin-equivalence is known only from state
// a creation cannot read in the same round trip (a customer policy's
// default version): see runAdminOrders.
type adminPair struct {
	name          string
	setup         []dt.Rec
	create, grant func(at time.Time) dt.Rec
	judgedLate    bool
}

func adminPairs() []adminPair {
	return []adminPair{
		{name: "CreateUser + AttachUserPolicy AdministratorAccess",
			create: func(at time.Time) dt.Rec { return create("user", "backdoor", at) },
			grant:  func(at time.Time) dt.Rec { return attach("user", "backdoor", adminARN, at) }},
		{name: "CreateRole + AttachRolePolicy of an admin customer policy",
			setup:  []dt.Rec{createPolicy("ops", doc(stAdmin), t0.Add(-time.Hour))},
			create: func(at time.Time) dt.Rec { return create("role", "backdoor", at) },
			grant:  func(at time.Time) dt.Rec { return attach("role", "backdoor", polARN, at) }, judgedLate: true},
		{name: "CreateUser + AddUserToGroup admins",
			setup:  []dt.Rec{attach("group", "admins", adminARN, t0.Add(-time.Hour))},
			create: func(at time.Time) dt.Rec { return create("user", "backdoor", at) },
			grant:  func(at time.Time) dt.Rec { return addToGroup("backdoor", "admins", at) }},
		{name: "CreateUser + AddUserToGroup of a group with an inline admin policy",
			setup:  []dt.Rec{putInline("group", "ops", "all", doc(stAdmin), t0.Add(-time.Hour))},
			create: func(at time.Time) dt.Rec { return create("user", "backdoor", at) },
			grant:  func(at time.Time) dt.Rec { return addToGroup("backdoor", "ops", at) }},
		{name: "CreateUser + AddUserToGroup of a group holding an admin customer policy",
			setup:  []dt.Rec{createPolicy("ops", doc(stAdmin), t0.Add(-2*time.Hour)), attach("group", "ops", polARN, t0.Add(-time.Hour))},
			create: func(at time.Time) dt.Rec { return create("user", "backdoor", at) },
			grant:  func(at time.Time) dt.Rec { return addToGroup("backdoor", "ops", at) }, judgedLate: true},
		{name: "CreateGroup + AttachGroupPolicy IAMFullAccess",
			create: func(at time.Time) dt.Rec { return create("group", "shadow", at) },
			grant:  func(at time.Time) dt.Rec { return attach("group", "shadow", awsPol+"IAMFullAccess", at) }},
	}
}

// criticals returns the CRITICAL findings of vs as "event incident".
func criticals(vs []engine.Verdict) []string {
	var out []string
	for _, f := range dt.Only(builtin.AdminPolicyAttachedID, vs) {
		if f.Severity == detectors.SeverityCritical {
			out = append(out, f.Incident)
		}
	}
	return out
}

// runAdminOrders checks the rule "creation and grant within a day are
// CRITICAL in either arrival order, one incident": creation first, grant
// first (the creation raises it), both in one batch either way; and the
// quiet twin, two days apart, in either order.
//
// A judgedLate grant (a customer policy's level is known only from state)
// listed before the creation in the same micro-batch knows its level only
// after the batch's round trip, so it marks the target with its finding
// (detectors.Finding.Marks); the engine shows a finding's marks to the
// later records of its batch, and the creation raises CRITICAL as it would
// in a batch of its own.
func runAdminOrders(t *testing.T, newStore newStoreFunc) {
	for _, p := range adminPairs() {
		t.Run(p.name, func(t *testing.T) {
			c, g := p.create(t0), p.grant(t0) // the same second, as in real delivery files
			deliveries := map[string]func(h *dt.Harness) []engine.Verdict{
				"create first":            func(h *dt.Harness) []engine.Verdict { return h.Stream(c, g) },
				"grant first":             func(h *dt.Harness) []engine.Verdict { return h.Stream(g, c) },
				"one batch, create first": func(h *dt.Harness) []engine.Verdict { return h.Score(c, g) },
				"one batch, grant first":  func(h *dt.Harness) []engine.Verdict { return h.Score(g, c) },
			}
			var incident string
			for name, deliver := range deliveries {
				h := dt.NewWithStore(t, newStore(t), newAdminDetector())
				h.Stream(p.setup...)
				vs := deliver(h)
				got := criticals(vs)
				if len(got) != 1 {
					t.Fatalf("%s: rule: one CRITICAL whatever the order; got %d", name, len(got))
				}
				if incident == "" {
					incident = got[0]
				} else if got[0] != incident {
					t.Errorf("%s: rule: the same incident in every order; got %s, want %s", name, got[0], incident)
				}
			}
			later := t0.Add(48 * time.Hour)
			for name, stream := range map[string][]dt.Rec{
				"created two days before":                             {p.create(t0), p.grant(later)},
				"granted first, created two days after (name reused)": {p.grant(t0), p.create(later)},
				"created two days after, delivered first":             {p.create(later), p.grant(t0)},
			} {
				h := dt.NewWithStore(t, newStore(t), newAdminDetector())
				h.Stream(p.setup...)
				vs := h.Stream(stream...)
				if got := criticals(vs); len(got) != 0 {
					t.Errorf("%s: rule: no CRITICAL for a grant more than a day from the creation; got %v", name, got)
				}
				if len(dt.Only(builtin.AdminPolicyAttachedID, vs)) == 0 {
					t.Errorf("%s: the admin grant itself is still reported", name)
				}
			}
		})
	}
}

func TestAdminGrantOrders(t *testing.T) { runAdminOrders(t, memoryStore) }

// TestAdminGrantShuffled delivers a mixed stream of creations, grants and
// noise shuffled within the allowed lateness and checks the CRITICAL
// incidents are those of the sorted stream.
func TestAdminGrantShuffled(t *testing.T) { runAdminShuffled(t, memoryStore) }

func runAdminShuffled(t *testing.T, newStore newStoreFunc) {
	var stream []dt.Rec
	stream = append(stream, attach("group", "admins", adminARN, t0.Add(-2*time.Hour)), createPolicy("ops", doc(stAdmin), t0.Add(-2*time.Hour)))
	for i := range 6 {
		at := t0.Add(time.Duration(i) * 3 * time.Minute)
		u := fmt.Sprintf("u%d", i)
		stream = append(stream, create("user", u, at))
		switch i % 3 {
		case 0:
			stream = append(stream, attach("user", u, adminARN, at))
		case 1:
			stream = append(stream, addToGroup(u, "admins", at.Add(time.Minute)))
		case 2:
			stream = append(stream, attach("user", u, readOnly, at.Add(time.Minute)))
		}
	}
	sorted := criticals(dt.NewWithStore(t, newStore(t), newAdminDetector()).Stream(sortedByTime(stream)...))
	if len(sorted) != 4 {
		t.Fatalf("sorted stream: want 4 CRITICAL incidents, got %d", len(sorted))
	}
	for seed := range uint64(6) {
		h := dt.NewWithStore(t, newStore(t), newAdminDetector())
		setup, rest := stream[:2], stream[2:]
		h.Stream(setup...)
		got := criticals(scoreInBatches(h, deliver(rest, detectors.AllowedLateness, seed), seed))
		slices.Sort(got)
		want := append([]string(nil), sorted...)
		slices.Sort(want)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("seed %d: rule: shuffled delivery gives the incidents of the sorted stream; got %v, want %v", seed, got, want)
		}
	}
}
