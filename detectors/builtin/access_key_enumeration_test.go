package builtin_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/state"
)

// Streams here are generated (detectortest builders) unless they come from
// testdata: none of the public sets holds a real enumeration burst.

// reconActions are 24 read-only actions over 8 services, in the order a
// tool such as enumerate-iam might call them.
var reconActions = []string{
	"sts:GetCallerIdentity", "iam:ListUsers", "iam:ListRoles", "iam:ListPolicies", "iam:ListGroups",
	"iam:GetAccountAuthorizationDetails", "s3:ListBuckets", "s3:GetBucketPolicy", "ec2:DescribeInstances",
	"ec2:DescribeVpcs", "ec2:DescribeSecurityGroups", "ec2:DescribeSnapshots", "lambda:ListFunctions20150331",
	"rds:DescribeDBInstances", "secretsmanager:ListSecrets", "dynamodb:ListTables", "kms:ListKeys",
	"sns:ListTopics", "iam:ListAccessKeys", "ec2:DescribeImages", "ec2:DescribeKeyPairs",
	"s3:GetBucketAcl", "lambda:GetPolicy20150331v2", "rds:DescribeDBSnapshots",
}

// twoServices are 20 actions of ec2 and iam only.
var twoServices = []string{
	"ec2:DescribeInstances", "ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
	"ec2:DescribeVolumes", "ec2:DescribeSnapshots", "ec2:DescribeImages", "ec2:DescribeKeyPairs",
	"ec2:DescribeRegions", "ec2:DescribeAddresses", "ec2:DescribeRouteTables", "ec2:DescribeNetworkInterfaces",
	"iam:ListUsers", "iam:ListRoles", "iam:ListPolicies", "iam:ListGroups", "iam:GetUser",
	"iam:ListAccessKeys", "iam:ListMFADevices", "iam:GetAccountSummary",
}

// burst is key ak calling actions one after the other, gap apart, from start.
func enumBurst(ak string, actions []string, start time.Time, gap time.Duration) []dt.Rec {
	out := make([]dt.Rec, len(actions))
	for i, a := range actions {
		out[i] = keyCall(ak, a, start.Add(time.Duration(i)*gap))
	}
	return out
}

func concat(streams ...[]dt.Rec) []dt.Rec { return slices.Concat(streams...) }

func newEnum(t testing.TB, src string) detectors.Detector {
	t.Helper()
	d, err := builtin.NewAccessKeyEnumeration(options(src))
	if err != nil {
		t.Fatalf("options %q: %v", src, err)
	}
	return d
}

func TestAccessKeyEnumerationContract(t *testing.T) {
	dt.Run(t, dt.Contract{
		New:   func() detectors.Detector { return newEnum(t, "") },
		Loud:  enumBurst(keyA, reconActions[:16], w0, 10*time.Second),
		Quiet: developer(keyA, w0),
	})
}

// developer is a busy but ordinary developer: 9 distinct reads over three
// services, each repeated, across 10 minutes.
func developer(ak string, start time.Time) []dt.Rec {
	actions := []string{"s3:ListBuckets", "s3:GetObject", "s3:ListObjects", "s3:GetBucketLocation",
		"logs:DescribeLogGroups", "logs:GetLogEvents", "logs:FilterLogEvents", "lambda:GetFunction20150331v2",
		"lambda:ListFunctions20150331", "sts:GetCallerIdentity"}
	var out []dt.Rec
	for round := range 4 {
		out = append(out, enumBurst(ak, actions, start.Add(time.Duration(round)*150*time.Second), 12*time.Second)...)
	}
	return out
}

func TestAccessKeyEnumeration(t *testing.T) { enumerationScenarios(t, newMemory) }

// enumerationScenarios runs every scenario on stores from newStore.
func enumerationScenarios(t *testing.T, newStore newStoreFunc) {
	console := func(rs []dt.Rec) []dt.Rec {
		for _, r := range rs {
			r.With("sessionCredentialFromConsole", "true").With("userIdentity.accessKeyId", keyS).
				With("userAgent", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)")
		}
		return rs
	}
	tests := []struct {
		name   string
		opts   string
		stream []dt.Rec
		want   int               // findings
		check  map[string]string // evidence of the first finding
	}{
		{name: "16 distinct reads over 8 services in 3 minutes, evidence at the crossing", want: 1,
			stream: enumBurst(keyA, reconActions[:16], w0, 10*time.Second),
			check: map[string]string{"distinct_actions": "15", "distinct_services": "7", "denied_actions": "0",
				"window_start": "2024-08-01T13:00:00Z", "window_end": "2024-08-01T13:10:00Z"}},
		{name: "a 24-call burst is one finding", want: 1,
			stream: enumBurst(keyA, reconActions, w0, 5*time.Second),
			check:  map[string]string{"distinct_actions": "15"}},
		{name: "the same burst replayed (same event ids) is one finding", want: 1,
			stream: func() []dt.Rec { b := enumBurst(keyA, reconActions[:16], w0, time.Second); return concat(b, b) }()},
		{name: "denied calls count and are reported", want: 1,
			stream: concat(enumBurst(keyA, reconActions[:12], w0, time.Second), []dt.Rec{
				keyCall(keyA, "iam:ListUsers", w0.Add(20*time.Second)),
				keyCall(keyA, "organizations:ListAccounts", w0.Add(30*time.Second)).Failed("AccessDeniedException"),
				keyCall(keyA, "ec2:DescribeRegions", w0.Add(31*time.Second)).Failed("Client.UnauthorizedOperation"),
				keyCall(keyA, "guardduty:ListDetectors", w0.Add(32*time.Second)).Failed("AccessDenied"),
			}),
			check: map[string]string{"distinct_actions": "15", "denied_actions": "3"}},
		{name: "readOnly calls without a List/Get verb count", want: 1,
			stream: concat(enumBurst(keyA, reconActions[:14], w0, time.Second),
				[]dt.Rec{keyCall(keyA, "secretsmanager:BatchGetSecretValue", w0.Add(time.Minute)).With("readOnly", true)})},
		{name: "two bursts an hour apart are two findings", want: 2,
			stream: concat(enumBurst(keyA, reconActions[:15], w0, time.Second), enumBurst(keyA, reconActions[:15], w0.Add(time.Hour), time.Second))},
		{name: "console session counted when include_console is set", opts: "include_console: true", want: 1,
			stream: console(enumBurst(keyS, reconActions[:20], w0, time.Second))},
		{name: "thresholds are configurable", opts: "min_actions: 5\nmin_services: 2\nwindow: 2m", want: 1,
			stream: enumBurst(keyA, reconActions[:5], w0, 10*time.Second)},
		{name: "a console user agent on a long-term key is not excused", want: 1,
			stream: func() []dt.Rec {
				b := enumBurst(keyA, reconActions[:16], w0, time.Second)
				for _, r := range b {
					r.With("userAgent", "console.amazonaws.com")
				}
				return b
			}()},

		// Quiet side.
		{name: "busy ordinary developer (9 distinct reads in 10 minutes)", stream: developer(keyA, w0)},
		{name: "14 distinct actions across 2 services", stream: enumBurst(keyA, twoServices[:14], w0, 10*time.Second)},
		{name: "20 distinct actions across 2 services", stream: enumBurst(keyA, twoServices, w0, 10*time.Second)},
		{name: "14 distinct actions across 5 services", stream: enumBurst(keyA, reconActions[:14], w0, 10*time.Second)},
		{name: "20 reads spread over an hour", stream: enumBurst(keyA, reconActions[:20], w0, 3*time.Minute)},
		{name: "8 reads each by two keys", stream: concat(enumBurst(keyA, reconActions[:8], w0, time.Second), enumBurst(keyB, reconActions[8:16], w0, time.Second))},
		{name: "replays do not add distinct actions",
			stream: func() []dt.Rec { b := enumBurst(keyA, reconActions[:14], w0, time.Second); return concat(b, b, b) }()},
		{name: "the same action repeated 100 times is one", stream: func() []dt.Rec {
			var out []dt.Rec
			for i := range 100 {
				out = append(out, keyCall(keyA, reconActions[i%3], w0.Add(time.Duration(i)*time.Second)))
			}
			return out
		}()},
		{name: "ignored data-plane reads do not count", stream: concat(enumBurst(keyA, reconActions[:14], w0, time.Second),
			enumBurst(keyA, []string{"s3:GetObject", "s3:HeadObject", "kms:Decrypt", "sts:AssumeRole"}, w0.Add(time.Minute), time.Second))},
		{name: "writes do not count", stream: concat(enumBurst(keyA, reconActions[:14], w0, time.Second),
			enumBurst(keyA, []string{"iam:CreateUser", "s3:PutObject", "ec2:RunInstances"}, w0.Add(time.Minute), time.Second))},
		{name: "AWS service callers", stream: func() []dt.Rec {
			b := enumBurst(keyA, reconActions[:20], w0, time.Second)
			for i, r := range b {
				if i%2 == 0 {
					r.With("sourceIPAddress", "cloudformation.amazonaws.com")
				} else {
					r.With("userIdentity.invokedBy", "cloudformation.amazonaws.com")
				}
			}
			return b
		}()},
		{name: "events without an access key", stream: func() []dt.Rec {
			b := enumBurst(keyA, reconActions[:20], w0, time.Second)
			for _, r := range b {
				r.Without("userIdentity.accessKeyId")
			}
			return b
		}()},
		{name: "console session browsing 8 services", stream: console(enumBurst(keyS, reconActions, w0, time.Second))},
		{name: "console user agent on a temporary key (records before sessionCredentialFromConsole)", stream: func() []dt.Rec {
			b := enumBurst(keyS, reconActions, w0, time.Second)
			for _, r := range b {
				r.With("userAgent", "aws-internal/3 aws-sdk-java/1.12.124")
			}
			return b
		}()},
		{name: "known limit: a burst split by a window boundary is counted per window",
			stream: enumBurst(keyA, reconActions[:20], w0.Add(5*time.Minute), 30*time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := dt.NewWithStore(t, newStore(t), newEnum(t, tt.opts))
			fs := dt.Only(builtin.AccessKeyEnumerationID, scored(h.Stream(tt.stream...)))
			if len(fs) != tt.want {
				for _, f := range fs {
					t.Logf("finding: %s", f.Explanation)
				}
				t.Fatalf("got %d findings, want %d", len(fs), tt.want)
			}
			for k, v := range tt.check {
				if got := fs[0].Evidence[k]; got != v {
					t.Errorf("evidence[%s] = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestAccessKeyEnumerationFinding(t *testing.T) {
	stream := concat(enumBurst(keyA, reconActions[:14], w0, time.Second),
		[]dt.Rec{keyCall(keyA, "guardduty:ListDetectors", w0.Add(time.Minute)).Failed("AccessDenied")})
	fs := dt.Only(builtin.AccessKeyEnumerationID, dt.New(t, newEnum(t, "")).Stream(stream...))
	if len(fs) != 1 {
		t.Fatalf("want one finding, got %d", len(fs))
	}
	f := fs[0]
	if f.Severity != detectors.SeverityHigh || f.EventID != stream[14].ID() || f.AccessKeyID != keyA {
		t.Errorf("finding attaches to the record completing the threshold, HIGH: got %v on %s (%s)", f.Severity, f.EventID, f.AccessKeyID)
	}
	if f.Score <= 70 {
		t.Errorf("a denied call raises the score above 70, got %d", f.Score)
	}
	want := "access key AKIAEXAMPLEALICE01 (arn:aws:iam::111122223333:user/alice) made 15 distinct read-only calls " +
		"across 7 services (ec2, guardduty, iam, lambda, rds, s3, sts) in the 10m0s window " +
		"2024-08-01T13:00:00Z/2024-08-01T13:10:00Z of event time; 1 distinct calls were denied; first calls: " +
		"sts:GetCallerIdentity, iam:ListUsers, iam:ListRoles, iam:ListPolicies, iam:ListGroups, " +
		"iam:GetAccountAuthorizationDetails, s3:ListBuckets, s3:GetBucketPolicy; source 203.0.113.10"
	if f.Explanation != want {
		t.Errorf("explanation:\n got %s\nwant %s", f.Explanation, want)
	}
}

func TestAccessKeyEnumerationOptions(t *testing.T) {
	tests := []struct {
		src  string
		keys []string // OptionError keys wanted
	}{
		{"window: 30s", []string{"window"}},
		{"min_actions: 1", []string{"min_actions", "min_services"}},
		{"min_services: 0\nallowed_lateness: -1m", []string{"min_services", "allowed_lateness"}},
		{"ignore_actions: [GetObject]", []string{"ignore_actions[0]"}},
	}
	for _, tt := range tests {
		_, err := builtin.NewAccessKeyEnumeration(options(tt.src))
		var got []string
		for _, e := range unjoin(err) {
			var oe *detectors.OptionError
			if !errors.As(e, &oe) {
				t.Errorf("%q: error %v is not an *OptionError", tt.src, e)
				continue
			}
			got = append(got, oe.Key)
		}
		if !slices.Equal(got, tt.keys) {
			t.Errorf("%q: option errors on %v, want %v (%v)", tt.src, got, tt.keys, err)
		}
	}
	if _, err := builtin.NewAccessKeyEnumeration(options("windw: 5m")); err == nil {
		t.Error("an unknown key must be an error")
	}
	d, err := builtin.NewAccessKeyEnumeration(options("window: 15m\nmin_actions: 30"))
	if err != nil || !strings.Contains(d.Info().Description, "at least 30 distinct") || !strings.Contains(d.Info().Description, "15m0s") {
		t.Errorf("decoded options must take effect: %v %v", err, d)
	}
}

// TestAccessKeyEnumerationShuffled is the out-of-order property: streams of
// several keys, scored sorted and delivered shuffled within the allowed
// lateness (15 min) in micro-batches, raise the same incidents (key,
// window) — and the ones an independent count of the stream predicts.
func TestAccessKeyEnumerationShuffled(t *testing.T) { enumerationShuffled(t, newMemory) }

func enumerationShuffled(t *testing.T, newStore newStoreFunc) {
	total := 0
	defer func() {
		if total < 6 {
			t.Errorf("the generated streams must raise incidents to be a test; got %d over all seeds", total)
		}
	}()
	for seed := range uint64(12) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			stream := randomRecon(seed)
			want := expectedEnumIncidents(stream, 10*time.Minute, 15, 3)
			total += len(want)
			sorted := incidents(builtin.AccessKeyEnumerationID,
				dt.NewWithStore(t, newStore(t), newEnum(t, "")).Stream(sortedByTime(stream)...))
			if !slices.Equal(sorted, want) {
				t.Fatalf("sorted stream: incidents %v, an independent count predicts %v", sorted, want)
			}
			for shuffle := range uint64(4) {
				h := dt.NewWithStore(t, newStore(t), newEnum(t, ""))
				got := incidents(builtin.AccessKeyEnumerationID,
					scoreInBatches(h, deliver(stream, 15*time.Minute, seed*100+shuffle), shuffle))
				if !slices.Equal(got, sorted) {
					t.Errorf("rule: shuffled within lateness gives the incidents of sorted; shuffle %d: %v, sorted: %v", shuffle, got, sorted)
				}
			}
		})
	}
}

// randomRecon is a seeded stream over 90 minutes: three keys reading from a
// pool of actions at random, some in dense bursts, with denied calls.
func randomRecon(seed uint64) []dt.Rec {
	rng := rand.New(rand.NewPCG(seed, 42))
	pool := slices.Concat(reconActions, twoServices)
	var out []dt.Rec
	for _, ak := range []string{keyA, keyB, "AKIAEXAMPLECAROL001"} {
		n := 20 + rng.IntN(60)
		for range n {
			at := w0.Add(time.Duration(rng.Int64N(int64(90 * time.Minute))).Truncate(time.Second))
			r := keyCall(ak, pool[rng.IntN(len(pool))], at)
			if rng.IntN(5) == 0 {
				r.Failed("AccessDenied")
			}
			out = append(out, r)
		}
		if rng.IntN(2) == 0 { // a dense burst somewhere
			start := w0.Add(time.Duration(rng.IntN(80)) * time.Minute)
			for i := range 10 + rng.IntN(14) {
				out = append(out, keyCall(ak, pool[rng.IntN(len(pool))], start.Add(time.Duration(i)*7*time.Second)))
			}
		}
	}
	return out
}

// expectedEnumIncidents counts the stream independently of the detector:
// distinct actions and services per key per aligned window.
func expectedEnumIncidents(recs []dt.Rec, w time.Duration, minActions, minServices int) []string {
	type kw struct{ key, win string }
	actions, services := map[kw]map[string]bool{}, map[kw]map[string]bool{}
	for _, r := range recs {
		k := kw{r["userIdentity"].(map[string]any)["accessKeyId"].(string),
			state.BucketStart(eventTime(r), w).Format(time.RFC3339)}
		if actions[k] == nil {
			actions[k], services[k] = map[string]bool{}, map[string]bool{}
		}
		src := r["eventSource"].(string)
		actions[k][src+r["eventName"].(string)] = true
		services[k][src] = true
	}
	var out []string
	for k, a := range actions {
		if len(a) >= minActions && len(services[k]) >= minServices {
			out = append(out, k.key+" "+k.win)
		}
	}
	slices.Sort(out)
	return out
}

// TestAccessKeyEnumerationPanther maps Panther's single-event rules onto
// this windowed detector. A Panther rule fires on one record; this detector
// never does (one call cannot fill a window), so each case is checked twice:
// alone it must be quiet, and as the 15th distinct action of a generated
// 14-action burst by the same key around its time it must tip the window
// exactly when this detector counts the call. counted is the mapping; where
// it differs from Panther's expected result, why says why.
func TestAccessKeyEnumerationPanther(t *testing.T) {
	cases := dt.PantherCases(t, "testdata/panther/access-key-enumeration.jsonl",
		"AWS.IAMUser.ReconAccessDenied", "AWS.IAM.Group.Read.Only.Events", "AWS.RDS.SnapshotEnumeration", "AWS.Software.Discovery")
	counted := map[string]struct {
		counted bool
		why     string // when counted differs from Panther's expected_result
	}{
		"Unauthorized API Call":                        {false, "the fixture sets userIdentity.invokedBy (signin.amazonaws.com), which marks an AWS service calling on the principal's behalf (Record.ServiceCaller); such calls are not a key enumerating"},
		"Unauthorized API Call from Within AWS (FQDN)": {false, ""},
		"Authorized API Call":                          {false, ""},
		"Unauthorized API Call - From AWS console":     {false, "agrees, for another reason: invokedBy is set, as above (the console user agent alone would not excuse this long-term key)"},
		"Get Group":                                        {false, "made through CloudFormation (sourceIPAddress cloudformation.amazonaws.com): an AWS service acting, not a key enumerating"},
		"Get Group Policy":                                 {false, "same: CloudFormation service caller"},
		"List Attached Group Policies":                     {false, "same: CloudFormation service caller"},
		"List Groups":                                      {false, "same: CloudFormation service caller"},
		"List Groups for User":                             {false, "same: CloudFormation service caller"},
		"Detach User Group":                                {false, ""},
		"Snapshot Enumeration with Public Flag":            {true, ""},
		"Cluster Snapshot Enumeration with Shared Flag":    {true, ""},
		"Normal Snapshot Query - No Public or Shared Flag": {false, "agrees, for another reason: a console session (user agent console.amazonaws.com on a temporary key), not counted by default"},
		"Query Failed":                                     {true, "a denied Describe is reconnaissance too; it counts and raises the score"},
		"Discovery Event Names":                            {true, ""},
		"Non Discovery Event Names":                        {false, ""},
	}
	for _, c := range cases {
		t.Run(c.RuleID+"/"+c.TestName, func(t *testing.T) {
			m, ok := counted[c.TestName]
			if !ok {
				t.Fatalf("case %q has no mapping: say whether it is counted", c.TestName)
			}
			if m.counted != c.Expected && m.why == "" {
				t.Fatalf("mapping differs from Panther (%v) without a reason", c.Expected)
			}
			c = withEventID(t, c)
			h := dt.New(t, newEnum(t, ""))
			if alone := h.ScoreRaw(c.Event); alone[0].Outcome != engine.OutcomeClean {
				t.Fatalf("a single record must not fill a window: %v %s", alone[0].Outcome, alone[0].Reason)
			}
			rec := pantherRecord(t, c)
			if rec.UserIdentity.AccessKeyID == "" {
				if m.counted {
					t.Fatal("a record without an access key cannot be counted")
				}
				return
			}
			var fill []dt.Rec
			for _, a := range fillerActions(14) {
				fill = append(fill, keyCall(rec.UserIdentity.AccessKeyID, a, rec.EventTime))
			}
			fresh := dt.New(t, newEnum(t, ""))
			vs := append(fresh.Stream(fill...), fresh.ScoreRaw(c.Event)...)
			got := len(dt.Only(builtin.AccessKeyEnumerationID, vs)) == 1
			if got != m.counted {
				t.Errorf("counted = %v, mapping says %v", got, m.counted)
			}
		})
	}
}

// fillerActions are n generated read actions over three services, named so
// they collide with no real action.
func fillerActions(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s:DescribeGenerated%02d", []string{"ec2", "ssm", "ecs"}[i%3], i)
	}
	return out
}

// TestAccessKeyEnumerationStratus scores real detonation logs that are busy
// but not enumeration: 15 denied DescribeInstanceAttribute calls (one
// action), 56 SSM calls (three actions), and stolen instance credentials
// used for two reads.
func TestAccessKeyEnumerationStratus(t *testing.T) {
	for _, name := range []string{
		"aws.discovery.ec2-download-user-data.json",
		"aws.execution.ssm-send-command.json",
		"aws.credential-access.ec2-steal-instance-credentials.json",
	} {
		t.Run(name, func(t *testing.T) {
			vs := streamRaw(dt.New(t, newEnum(t, "")), stratus(t, name))
			if fs := dt.Only(builtin.AccessKeyEnumerationID, vs); len(fs) != 0 {
				t.Errorf("real non-enumeration activity must stay quiet: %s", fs[0].Explanation)
			}
		})
	}
}

func TestReconRead(t *testing.T) {
	for _, tt := range []struct {
		rec  dt.Rec
		want bool
	}{
		{keyCall(keyA, "ec2:DescribeInstances", w0), true},
		{keyCall(keyA, "s3:HeadBucket", w0), true},
		{keyCall(keyA, "iam:GetUser", w0), true},
		{keyCall(keyA, "kendra:SearchEntities", w0), true},
		{keyCall(keyA, "secretsmanager:BatchGetSecretValue", w0).With("readOnly", true), true},
		{keyCall(keyA, "ec2:Getaway", w0), false},
		{keyCall(keyA, "iam:List", w0), false},
		{keyCall(keyA, "iam:CreateUser", w0), false},
		{keyCall(keyA, "iam:GetUser", w0).With("eventType", "AwsServiceEvent"), false},
		{keyCall(keyA, "signin:GetSigninToken", w0).With("eventType", "AwsConsoleSignIn"), false},
	} {
		rec, err := cloudtrail.Parse(tt.rec.JSON(), cloudtrail.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := builtin.ReconRead(rec); got != tt.want {
			t.Errorf("ReconRead(%s %s) = %v, want %v", rec.EventType, rec.EventName, got, tt.want)
		}
	}
}
