package builtin_test

import (
	"encoding/json"
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

// enumScenario is a stream and the findings it must raise.
type enumScenario struct {
	name   string
	opts   string
	stream []dt.Rec
	want   int                // findings
	sev    detectors.Severity // of every finding, when set
	check  map[string]string  // evidence of the first finding
}

// runEnumScenarios scores each scenario on a fresh store from newStore.
func runEnumScenarios(t *testing.T, newStore newStoreFunc, tests []enumScenario) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := dt.NewWithStore(t, newStore(t), newEnum(t, tt.opts))
			fs := dt.Only(builtin.AccessKeyEnumerationID, scored(h.Stream(tt.stream...)))
			if len(fs) != tt.want {
				for _, f := range fs {
					t.Logf("finding: %v %s", f.Severity, f.Explanation)
				}
				t.Fatalf("got %d findings, want %d", len(fs), tt.want)
			}
			for _, f := range fs {
				if tt.sev != detectors.SeverityUnknown && f.Severity != tt.sev {
					t.Errorf("severity %v, want %v: %s", f.Severity, tt.sev, f.Explanation)
				}
			}
			for k, v := range tt.check {
				if got := fs[0].Evidence[k]; got != v {
					t.Errorf("evidence[%s] = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// enumerationScenarios runs every scenario on stores from newStore.
func enumerationScenarios(t *testing.T, newStore newStoreFunc) {
	console := func(rs []dt.Rec) []dt.Rec {
		for _, r := range rs {
			r.With("sessionCredentialFromConsole", "true").With("userIdentity.accessKeyId", keyS).
				With("userAgent", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)")
		}
		return rs
	}
	runEnumScenarios(t, newStore, []enumScenario{
		{name: "whoami then five IAM reads within a minute: the burst scale, evidence at the crossing", want: 1, sev: detectors.SeverityHigh,
			stream: enumBurst(keyA, reconActions[:16], w0, 10*time.Second),
			check: map[string]string{"scale": "burst", "distinct_reads": "6", "weighted_score": "12", "sensitive_reads": "5",
				"denied_reads": "0", "principal": "arn:aws:iam::111122223333:user/alice",
				"window_start": "2024-08-01T12:59:00Z", "window_end": "2024-08-01T13:01:00Z"}},
		{name: "a 24-call burst is one finding", want: 1, sev: detectors.SeverityHigh,
			stream: enumBurst(keyA, reconActions, w0, 5*time.Second)},
		{name: "the same burst replayed (same event ids) is one finding", want: 1,
			stream: func() []dt.Rec { b := enumBurst(keyA, reconActions[:16], w0, time.Second); return concat(b, b) }()},
		{name: "denied calls count and are reported", want: 1,
			stream: concat(enumBurst(keyA, twoServices[:8], w0, 20*time.Second), []dt.Rec{
				keyCall(keyA, "organizations:ListAccounts", w0.Add(3*time.Minute)).Failed("AccessDeniedException"),
				keyCall(keyA, "ec2:DescribeRegions", w0.Add(4*time.Minute)).Failed("Client.UnauthorizedOperation"),
				keyCall(keyA, "guardduty:ListDetectors", w0.Add(5*time.Minute)).Failed("AccessDenied"),
			}),
			check: map[string]string{"denied_reads": "3"}},
		{name: "readOnly calls without a List/Get verb count", want: 1,
			stream: concat(enumBurst(keyA, twoServices[:12], w0, 30*time.Second),
				[]dt.Rec{keyCall(keyA, "secretsmanager:BatchGetSecretValue", w0.Add(7*time.Minute)).With("readOnly", true)})},
		{name: "two bursts a day apart are two findings", want: 2,
			stream: concat(enumBurst(keyA, reconActions[:15], w0, time.Second), enumBurst(keyA, reconActions[:15], w0.Add(24*time.Hour), time.Second))},
		{name: "a burst rerun within the incident period is one finding", want: 1,
			stream: concat(enumBurst(keyA, reconActions[:15], w0, time.Second), enumBurst(keyA, reconActions[:15], w0.Add(time.Hour), time.Second))},
		{name: "console session counted when include_console is set", opts: "include_console: true", want: 1,
			stream: console(enumBurst(keyS, reconActions[:20], w0, time.Second))},
		{name: "thresholds are configurable", opts: "min_score: 5\nburst_window: 30s\nwindow: 2m", want: 1,
			stream: enumBurst(keyA, twoServices[:5], w0, 10*time.Second)},
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
		{name: "12 distinct EC2 reads in 10 minutes", stream: enumBurst(keyA, twoServices[:12], w0, 45*time.Second)},
		{name: "20 reads spread over an hour, a few sensitive", stream: enumBurst(keyA, reconActions[:20], w0, 3*time.Minute)},
		{name: "replays do not add distinct reads",
			stream: func() []dt.Rec { b := enumBurst(keyA, twoServices[:10], w0, time.Minute); return concat(b, b, b) }()},
		{name: "the same action repeated 100 times is one", stream: func() []dt.Rec {
			var out []dt.Rec
			for i := range 100 {
				out = append(out, keyCall(keyA, reconActions[i%3], w0.Add(time.Duration(i)*time.Second)))
			}
			return out
		}()},
		{name: "ignored data-plane reads do not count", stream: concat(enumBurst(keyA, twoServices[:10], w0, time.Minute),
			enumBurst(keyA, []string{"s3:GetObject", "s3:HeadObject", "kms:Decrypt", "sts:AssumeRole", "dynamodb:Query"}, w0.Add(5*time.Minute), time.Minute))},
		{name: "writes do not count", stream: concat(enumBurst(keyA, twoServices[:10], w0, time.Minute),
			enumBurst(keyA, []string{"iam:CreateUser", "s3:PutObject", "ec2:RunInstances"}, w0.Add(time.Minute), time.Minute))},
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
	})
}

func TestAccessKeyEnumerationFinding(t *testing.T) {
	stream := concat(enumBurst(keyA, twoServices[:12], w0, 30*time.Second),
		[]dt.Rec{keyCall(keyA, "guardduty:ListDetectors", w0.Add(7*time.Minute)).Failed("AccessDenied")})
	fs := dt.Only(builtin.AccessKeyEnumerationID, dt.New(t, newEnum(t, "")).Stream(stream...))
	if len(fs) != 1 {
		t.Fatalf("want one finding, got %d", len(fs))
	}
	f := fs[0]
	if f.Severity != detectors.SeverityHigh || f.EventID != stream[12].ID() || f.AccessKeyID != keyA {
		t.Errorf("finding attaches to the record completing the threshold, HIGH: got %v on %s (%s)", f.Severity, f.EventID, f.AccessKeyID)
	}
	if f.Score <= 70 {
		t.Errorf("a denied call raises the score above 70, got %d", f.Score)
	}
	want := "arn:aws:iam::111122223333:user/alice (counted across its keys and sessions; this call by access key " +
		"AKIAEXAMPLEALICE01) made 13 distinct read-only calls across 2 services (ec2, guardduty) within the 20m0s " +
		"from 2024-08-01T12:50:00Z to 2024-08-01T13:10:00Z, weighing 15 against its window threshold of 15 (1 sensitive reads count 2); " +
		"1 were denied; first calls: ec2:DescribeInstances, ec2:DescribeVpcs, ec2:DescribeSubnets, " +
		"ec2:DescribeSecurityGroups, ec2:DescribeVolumes, ec2:DescribeSnapshots, ec2:DescribeImages, ec2:DescribeKeyPairs; " +
		"source 203.0.113.10"
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
		{"min_score: 1\nsensitive_weight: 0", []string{"min_score", "sensitive_weight"}},
		{"learn_days: 20\nallowed_lateness: -1m", []string{"learn_days", "allowed_lateness"}},
		{"ignore_actions: [GetObject]\nsensitive: [\"iam:\"]", []string{"sensitive[0]", "ignore_actions[0]"}},
		{"burst_window: 1s\nfamiliar_after: 1m\nipv4_prefix: 4", []string{"burst_window", "familiar_after", "ipv4_prefix"}},
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
	d, err := builtin.NewAccessKeyEnumeration(options("window: 15m\nmin_score: 30"))
	if err != nil || !strings.Contains(d.Info().Description, "at least 30 within 15m0s") {
		t.Errorf("decoded options must take effect: %v %v", err, d)
	}
}

// TestAccessKeyEnumerationShuffled is the out-of-order property: streams of
// several principals, scored sorted and delivered shuffled within the
// allowed lateness (15 min) in micro-batches, raise the same incidents
// (principal, period, severity) — the ones the stream was built to hold.
func TestAccessKeyEnumerationShuffled(t *testing.T) { enumerationShuffled(t, newMemory) }

func enumerationShuffled(t *testing.T, newStore newStoreFunc) {
	for seed := range uint64(10) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			stream, want := randomRecon(seed)
			sorted := enumIncidents(dt.NewWithStore(t, newStore(t), newEnum(t, "")).Stream(sortedByTime(stream)...))
			if !slices.Equal(sorted, want) {
				t.Fatalf("sorted stream: incidents %v, the stream holds %v", sorted, want)
			}
			for shuffle := range uint64(3) {
				h := dt.NewWithStore(t, newStore(t), newEnum(t, ""))
				got := enumIncidents(scoreInBatches(h, deliver(stream, 15*time.Minute, seed*100+shuffle), shuffle))
				if !slices.Equal(got, sorted) {
					t.Errorf("rule: shuffled within lateness gives the incidents of sorted; shuffle %d: %v, sorted: %v", shuffle, got, sorted)
				}
			}
		})
	}
}

// enumIncidents names each enumeration finding by its incident and
// severity.
func enumIncidents(vs []engine.Verdict) []string {
	var out []string
	for _, f := range dt.Only(builtin.AccessKeyEnumerationID, vs) {
		out = append(out, f.Incident+" "+f.Severity.String())
	}
	slices.Sort(out)
	return out
}

// randomRecon is a seeded stream over two hours: four users (one key
// each) reading a few things at random all along, some of whom also run an
// enumeration burst (20 to 24 distinct reads within 4 minutes, some
// denied), and the incidents it holds.
func randomRecon(seed uint64) ([]dt.Rec, []string) {
	rng := rand.New(rand.NewPCG(seed, 42))
	background := []string{"s3:ListBuckets", "logs:DescribeLogGroups", "lambda:ListFunctions20150331", "ec2:DescribeInstances"}
	var out []dt.Rec
	var want []string
	for i, user := range []string{"alice", "bob", "carol", "dave"} {
		ak := fmt.Sprintf("AKIAEXAMPLE%08d", i)
		arn := "arn:aws:iam::111122223333:user/" + user
		call := func(action string, at time.Time) dt.Rec {
			return keyCall(ak, action, at).With("userIdentity.arn", arn).With("userIdentity.userName", user)
		}
		for range 10 + rng.IntN(30) {
			out = append(out, call(background[rng.IntN(len(background))], w0.Add(time.Duration(rng.Int64N(int64(2*time.Hour))).Truncate(time.Second))))
		}
		if rng.IntN(3) == 0 {
			continue
		}
		start := w0.Add(time.Duration(10+rng.IntN(90)) * time.Minute)
		for j, a := range reconActions[:20+rng.IntN(5)] {
			r := call(a, start.Add(time.Duration(j)*10*time.Second))
			if rng.IntN(5) == 0 {
				r.Failed("AccessDenied")
			}
			out = append(out, r)
		}
		want = append(want, builtin.AccessKeyEnumerationID+"/principal:"+arn+"/enum:once:20240801T120000Z HIGH")
	}
	slices.Sort(want)
	return out, want
}

// TestAccessKeyEnumerationPanther maps Panther's single-event rules onto
// this windowed detector. A Panther rule fires on one record; this detector
// never does (one call cannot fill a window), so each case is checked twice:
// alone it must be quiet, and as one more read after 12 generated reads
// (weighing 14) by the same principal in the minutes before it must tip the window
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
			// 12 generated reads of three services (weighing 14) spread
			// over the 9 minutes before: under every threshold alone, and
			// under the burst scale with the case's record too.
			var event map[string]any
			if err := json.Unmarshal(c.Event, &event); err != nil {
				t.Fatal(err)
			}
			var fill []dt.Rec
			for i, a := range fillerActions(12) {
				fill = append(fill, keyCall(rec.UserIdentity.AccessKeyID, a, rec.EventTime.Add(-9*time.Minute+time.Duration(i)*40*time.Second)).
					With("userIdentity", event["userIdentity"]))
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
