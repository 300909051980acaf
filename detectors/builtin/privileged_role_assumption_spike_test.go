package builtin_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// Generated streams: AssumeRole records shaped after CloudTrail's, by the
// IAM user alice unless a scenario changes the caller.

const (
	adminRole    = "arn:aws:iam::111122223333:role/AdminBreakGlass"
	readOnlyRole = "arn:aws:iam::111122223333:role/ReadOnly"
	opsRole      = "arn:aws:iam::111122223333:role/ops/OpsAutomation"
)

func spikeSettings() *detectors.Settings {
	return &detectors.Settings{PrivilegedRoles: []string{"arn:aws:iam::*:role/Admin*"}}
}

func newSpike(t testing.TB, s *detectors.Settings) detectors.Detector {
	t.Helper()
	d, err := builtin.NewPrivilegedRoleAssumptionSpike(detectors.Config{Settings: s})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func assume(at time.Time, role string) dt.Rec {
	return dt.Base("sts.amazonaws.com", "AssumeRole", at).
		With("requestParameters", map[string]any{"roleArn": role, "roleSessionName": "work"})
}

// asBob makes the caller the IAM user bob.
func asBob(r dt.Rec) dt.Rec {
	return r.With("userIdentity.arn", "arn:aws:iam::111122223333:user/bob").
		With("userIdentity.userName", "bob").With("userIdentity.principalId", "AIDAEXAMPLEBOB000001").
		With("userIdentity.accessKeyId", "AKIAEXAMPLEBOB00001")
}

// readOnlyDays is alice assuming ReadOnly at 10:00 on days [0, n).
func readOnlyDays(n int) []dt.Rec {
	var out []dt.Rec
	for i := range n {
		out = append(out, assume(day(i).Add(-3*time.Hour), readOnlyRole))
	}
	return out
}

// dailyAdmin is alice assuming the admin role perDay times from 09:00,
// ten minutes apart, on days [0, n).
func dailyAdmin(n, perDay int) []dt.Rec {
	var out []dt.Rec
	for i := range n {
		for k := range perDay {
			out = append(out, assume(day(i).Add(-4*time.Hour+time.Duration(k)*10*time.Minute), adminRole))
		}
	}
	return out
}

// burst is n assumptions of role from at, five minutes apart.
func burst(at time.Time, role string, n int) []dt.Rec {
	var out []dt.Rec
	for k := range n {
		out = append(out, assume(at.Add(time.Duration(k)*5*time.Minute), role))
	}
	return out
}

func attachAdminToRole(at time.Time, name string) dt.Rec {
	return dt.IAM("AttachRolePolicy", at, map[string]any{"roleName": name, "policyArn": adminARN})
}

func TestPrivilegedRoleAssumptionSpikeContract(t *testing.T) {
	dt.Run(t, dt.Contract{
		New:   func() detectors.Detector { return newSpike(t, spikeSettings()) },
		Loud:  append(readOnlyDays(8), burst(day(8), adminRole, 3)...),
		Quiet: append(dailyAdmin(15, 3), burst(day(8), readOnlyRole, 6)...),
	})
}

func TestPrivilegedRoleAssumptionSpikeScenarios(t *testing.T) {
	runSpikeScenarios(t, memoryStore)
}

func runSpikeScenarios(t *testing.T, newStore newStoreFunc) {
	cat := func(parts ...[]dt.Rec) []dt.Rec { return slices.Concat(parts...) }
	at := func(s []dt.Rec, i int, sev detectors.Severity) want {
		if i < 0 {
			i += len(s)
		}
		return want{s[i].ID(), sev}
	}
	scenarios := []struct {
		name   string
		stream []dt.Rec
		want   func([]dt.Rec) []want
	}{
		{"low-privileged principal's burst is HIGH (after its first-privileged MEDIUM)",
			cat(readOnlyDays(8), burst(day(8), adminRole, 3)),
			func(s []dt.Rec) []want {
				return []want{at(s, -3, detectors.SeverityMedium), at(s, -1, detectors.SeverityHigh)}
			}},
		{"one earlier privileged assumption still counts as low-privileged",
			cat(readOnlyDays(8), []dt.Rec{assume(day(2), adminRole)}, burst(day(8), adminRole, 4)),
			func(s []dt.Rec) []want { return []want{at(s, -2, detectors.SeverityHigh)} }},
		{"first-ever privileged assumption after a week of history is MEDIUM",
			cat(readOnlyDays(8), []dt.Rec{assume(day(8), adminRole)}),
			func(s []dt.Rec) []want { return []want{at(s, -1, detectors.SeverityMedium)} }},
		{"a new principal's first week raises nothing",
			cat(burst(t0, adminRole, 5), readOnlyDays(6), burst(day(5), adminRole, 3)),
			func([]dt.Rec) []want { return nil }},
		{"daily admin for 14 days then a normal day is silent",
			dailyAdmin(15, 3), func([]dt.Rec) []want { return nil }},
		{"daily admin once a day then a normal day is silent",
			cat(readOnlyDays(15), dailyAdmin(15, 1)), func([]dt.Rec) []want { return nil }},
		{"a regular admin's hour far above its peak is MEDIUM",
			cat(dailyAdmin(10, 1), burst(day(10).Add(2*time.Hour), adminRole, 5)),
			func(s []dt.Rec) []want { return []want{at(s, -3, detectors.SeverityMedium)} }},
		{"non-privileged roles are not counted",
			cat(readOnlyDays(8), burst(day(8), readOnlyRole, 10)), func([]dt.Rec) []want { return nil }},
		{"failed assumptions are not counted",
			cat(readOnlyDays(8), failed(burst(day(8), adminRole, 4))), func([]dt.Rec) []want { return nil }},
		{"AWS service callers are skipped",
			cat(readOnlyDays(8), viaService(burst(day(8), adminRole, 4))), func([]dt.Rec) []want { return nil }},
		{"a role given AdministratorAccess is privileged from then on",
			cat(readOnlyDays(8), []dt.Rec{attachAdminToRole(day(6), "OpsAutomation")}, burst(day(8), opsRole, 3)),
			func(s []dt.Rec) []want {
				return []want{at(s, -3, detectors.SeverityMedium), at(s, -1, detectors.SeverityHigh)}
			}},
		{"assumptions before the role was made admin are not privileged",
			cat(readOnlyDays(8), burst(day(8), opsRole, 3), []dt.Rec{attachAdminToRole(day(9), "OpsAutomation")}),
			func([]dt.Rec) []want { return nil }},
		{"assumed-role caller's baseline survives new session names",
			cat(roleCaller(dailyAdmin(8, 1)), roleCaller([]dt.Rec{assume(day(8).Add(-4*time.Hour), adminRole)})),
			func([]dt.Rec) []want { return nil }},
		{"principals have their own baselines",
			cat(dailyAdmin(9, 3), asBobAll(readOnlyDays(8)), asBobAll(burst(day(8).Add(5*time.Hour), adminRole, 3))),
			func(s []dt.Rec) []want {
				return []want{at(s, -3, detectors.SeverityMedium), at(s, -1, detectors.SeverityHigh)}
			}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			h := dt.NewWithStore(t, newStore(t), newSpike(t, spikeSettings()))
			checkFindings(t, builtin.PrivilegedRoleAssumptionSpikeID, h, sc.stream, sc.want(sc.stream)...)
		})
	}
}

func failed(rs []dt.Rec) []dt.Rec {
	for _, r := range rs {
		r.Failed("AccessDenied")
	}
	return rs
}

func viaService(rs []dt.Rec) []dt.Rec {
	for _, r := range rs {
		r.With("userIdentity", map[string]any{"type": "AWSService", "invokedBy": "lambda.amazonaws.com"}).
			With("sourceIPAddress", "lambda.amazonaws.com")
	}
	return rs
}

func asBobAll(rs []dt.Rec) []dt.Rec {
	for _, r := range rs {
		asBob(r)
	}
	return rs
}

// roleCaller makes each record's caller a new session of the role ci-deployer.
func roleCaller(rs []dt.Rec) []dt.Rec {
	for _, r := range rs {
		r.AsAssumedRole("ci-deployer", "run-"+r.ID()[len(r.ID())-6:])
	}
	return rs
}

func TestPrivilegedRoleAssumptionSpikeExplains(t *testing.T) {
	stream := append(readOnlyDays(8), burst(day(8), adminRole, 3)...)
	fs := dt.Only(builtin.PrivilegedRoleAssumptionSpikeID, dt.New(t, newSpike(t, spikeSettings())).Stream(stream...))
	if len(fs) != 2 {
		t.Fatalf("%d findings, want 2", len(fs))
	}
	want := "arn:aws:iam::111122223333:user/alice assumed arn:aws:iam::111122223333:role/AdminBreakGlass " +
		"(privileged: it matches privileged_roles pattern arn:aws:iam::*:role/Admin*) via AssumeRole from 203.0.113.10: " +
		"3 privileged assumption(s) in the 1h0m0s from 2024-08-09T13:00:00Z, against 0 in the previous 14 days " +
		"(per 1h0m0s: mean 0.00, σ 0.00, peak 0 over 336 buckets; known since 2024-08-01T10:00:00Z): " +
		"a principal that was low-privileged made a burst of privileged role assumptions"
	if got := fs[1].Explanation; got != want {
		t.Errorf("explanation:\n got %s\nwant %s", got, want)
	}
	if fs[1].Evidence["rule"] != "low-privileged" || fs[0].Evidence["rule"] != "first-privileged" {
		t.Errorf("rules %q, %q", fs[0].Evidence["rule"], fs[1].Evidence["rule"])
	}
}

// TestPrivilegedRoleAssumptionSpikeShuffled delivers streams up to 15
// minutes late, out of order, and wants the same incidents (principal,
// rule, severity). A late record of an earlier hour cannot make a second
// "first privileged" incident: the rule also looks at the next bucket.
func TestPrivilegedRoleAssumptionSpikeShuffled(t *testing.T) {
	stream := sortByTime(slices.Concat(
		readOnlyDays(9), burst(day(8).Add(-13*time.Minute), adminRole, 4), // alice: 12:47, 12:52, 12:57 and 13:02
		asBobAll(dailyAdmin(12, 3)), // bob: daily admin, silent
		asBobAll(burst(day(11).Add(3*time.Hour), adminRole, 6)),
	))
	incidents := func(order []dt.Rec) []string {
		var out []string
		for _, f := range dt.Only(builtin.PrivilegedRoleAssumptionSpikeID, dt.New(t, newSpike(t, spikeSettings())).Stream(order...)) {
			out = append(out, f.Evidence["principal"]+" "+f.Evidence["rule"]+" "+f.Severity.String())
		}
		slices.Sort(out)
		return out
	}
	inOrder := incidents(stream)
	wantIn := []string{
		"arn:aws:iam::111122223333:user/alice first-privileged MEDIUM",
		"arn:aws:iam::111122223333:user/alice low-privileged HIGH",
		"arn:aws:iam::111122223333:user/bob spike MEDIUM",
	}
	if !slices.Equal(inOrder, wantIn) {
		t.Fatalf("in order: %v, want %v", inOrder, wantIn)
	}
	for seed := range uint64(8) {
		if got := incidents(shuffleWithin(stream, 15*time.Minute, seed)); !slices.Equal(got, inOrder) {
			t.Errorf("seed %d: incidents %v, want %v", seed, got, inOrder)
		}
	}
}

func TestPrivilegedRoleAssumptionSpikeOptions(t *testing.T) {
	set := func(f func(*builtin.PrivilegedRoleAssumptionSpikeOptions)) detectors.Config {
		return detectors.Config{Settings: spikeSettings(), Options: func(v any) error {
			f(v.(*builtin.PrivilegedRoleAssumptionSpikeOptions))
			return nil
		}}
	}
	_, err := builtin.NewPrivilegedRoleAssumptionSpike(set(func(o *builtin.PrivilegedRoleAssumptionSpikeOptions) {
		o.History, o.MinHistory, o.MinCount, o.LowPrivilegeMax, o.Sigma = 90*time.Minute, 48*time.Hour, 0, -1, -2
	}))
	var keys []string
	for _, e := range unjoin(err) {
		oe, ok := errors.AsType[*detectors.OptionError](e)
		if !ok {
			t.Fatalf("%v is not an *OptionError", e)
		}
		keys = append(keys, oe.Key)
	}
	slices.Sort(keys)
	if want := []string{"history", "low_privilege_max", "min_count", "min_history", "sigma"}; !slices.Equal(keys, want) {
		t.Errorf("bad keys %v, want %v (%v)", keys, want, err)
	}
	// Decoding propagates the decoder's error.
	boom := errors.New("detectors.privileged-role-assumption-spike.windw: unknown key")
	if _, err := builtin.NewPrivilegedRoleAssumptionSpike(detectors.Config{Settings: &detectors.Settings{},
		Options: func(any) error { return boom }}); !errors.Is(err, boom) {
		t.Errorf("decode error %v, want %v", err, boom)
	}
	// A two-hour window over a 2-day history with no warm-up.
	d, err := builtin.NewPrivilegedRoleAssumptionSpike(set(func(o *builtin.PrivilegedRoleAssumptionSpikeOptions) {
		o.Window, o.History, o.MinHistory, o.MinCount = 2*time.Hour, 48*time.Hour, 0, 2
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d.Info().Description, "2 days") {
		t.Errorf("description %q does not name the history", d.Info().Description)
	}
	stream := []dt.Rec{assume(t0.Add(-time.Hour), adminRole), assume(t0.Add(-20*time.Minute), adminRole)}
	checkFindings(t, builtin.PrivilegedRoleAssumptionSpikeID, dt.New(t, d), stream,
		want{stream[0].ID(), detectors.SeverityMedium}, want{stream[1].ID(), detectors.SeverityHigh})
}

// TestInlineAdminPolicyMakesRolePrivileged checks the mark policy-weakened
// leaves: an inline policy granting * on * put on a role makes later
// assumptions of that role privileged for the spike baseline. Generated
// records.
func TestInlineAdminPolicyMakesRolePrivileged(t *testing.T) {
	pw, err := builtin.NewPolicyWeakened(detectors.Config{Settings: spikeSettings()})
	if err != nil {
		t.Fatal(err)
	}
	putAdmin := dt.IAM("PutRolePolicy", day(6), map[string]any{
		"roleName": "OpsAutomation", "policyName": "everything",
		"policyDocument": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
	})
	stream := slices.Concat(readOnlyDays(8), []dt.Rec{putAdmin}, burst(day(8), opsRole, 3))
	h := dt.New(t, newSpike(t, spikeSettings()), pw)
	vs := h.Stream(stream...)
	if fs := dt.Only(builtin.PolicyWeakenedID, vs); len(fs) != 1 || fs[0].Severity != detectors.SeverityCritical {
		t.Fatalf("policy-weakened findings = %+v, want one CRITICAL", fs)
	}
	if fs := dt.Only(builtin.PrivilegedRoleAssumptionSpikeID, vs); len(fs) == 0 {
		t.Error("assumptions of a role made admin by an inline policy raised no spike")
	}
	// Without the inline policy the same burst is of an ordinary role.
	h2 := dt.New(t, newSpike(t, spikeSettings()), pw)
	if fs := dt.Only(builtin.PrivilegedRoleAssumptionSpikeID, h2.Stream(slices.Concat(readOnlyDays(8), burst(day(8), opsRole, 3))...)); len(fs) != 0 {
		t.Errorf("an ordinary role's burst raised %+v", fs)
	}
}

// TestPrivilegedSpikeFirstUseByPerson: a person's first privileged role
// assumption (an admin permission set used once a month) is LOW; an IAM
// user's key doing it for the first time stays MEDIUM.
func TestPrivilegedSpikeFirstUseByPerson(t *testing.T) {
	person := func(r dt.Rec) dt.Rec {
		return r.AsAssumedRole("AWSReservedSSO_ReadOnly_0a1b2c3d4e5f6a7b", "alice@example.com").
			With("userIdentity.accessKeyId", "ASIAALICESSO00000001")
	}
	for _, tt := range []struct {
		name string
		as   func(dt.Rec) dt.Rec
		want detectors.Severity
	}{
		{"a person", person, detectors.SeverityLow},
		{"an IAM user's key", func(r dt.Rec) dt.Rec { return r }, detectors.SeverityMedium},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stream []dt.Rec
			for _, r := range readOnlyDays(15) {
				stream = append(stream, tt.as(r))
			}
			stream = append(stream, tt.as(assume(day(15), adminRole)), tt.as(assume(day(15).Add(3*time.Hour), readOnlyRole)))
			fs := dt.Only(builtin.PrivilegedRoleAssumptionSpikeID, dt.New(t, newSpike(t, spikeSettings())).Stream(stream...))
			if len(fs) != 1 || fs[0].Severity != tt.want || fs[0].Evidence["rule"] != "first-privileged" {
				t.Fatalf("want one first-privileged %v finding, got %+v", tt.want, fs)
			}
		})
	}
}
