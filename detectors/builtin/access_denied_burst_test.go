package builtin_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// Tests of access-denied-burst. Bursts are generated (the shared data holds
// none: the Stratus detonations' denials are one or two actions repeated,
// which are the real quiet twins below).

func newDenied(t testing.TB) detectors.Detector {
	t.Helper()
	return dt.Must(builtin.NewAccessDeniedBurst(detectors.DefaultConfig()))
}

// denied is a generated denied call of service:Action by alice.
func denied(action string, at time.Time) dt.Rec {
	svc, name, _ := cut(action)
	return dt.Base(svc+".amazonaws.com", name, at).Failed("AccessDenied")
}

func cut(action string) (string, string, bool) {
	for i := range action {
		if action[i] == ':' {
			return action[:i], action[i+1:], true
		}
	}
	return action, "", false
}

// probing is what a stolen key tries: ordinary services first.
var probing = []string{
	"ec2:DescribeInstances", "ec2:DescribeVpcs", "s3:ListBuckets", "lambda:ListFunctions",
	"rds:DescribeDBInstances", "dynamodb:ListTables", "sns:ListTopics", "sqs:ListQueues",
	"ecs:ListClusters", "eks:ListClusters", "cloudformation:ListStacks", "logs:DescribeLogGroups",
}

// paced returns n distinct ordinary actions over several services, for a
// caller pacing its attempts (about one per 150 s stays under the fast
// scale).
func paced(n int) []string {
	out := slices.Clone(probing)
	for i := 0; len(out) < n; i++ {
		out = append(out, fmt.Sprintf("ec2:DescribeThing%02d", i))
	}
	return out[:n]
}

// sensitiveProbing reaches identity, keys and secrets.
var sensitiveProbing = []string{
	"iam:ListUsers", "iam:ListRoles", "iam:CreateUser", "sts:GetSessionToken",
	"kms:ListKeys", "secretsmanager:ListSecrets", "organizations:DescribeOrganization",
}

// burstOf returns denied calls of actions, one every step from start.
func burstOf(actions []string, start time.Time, step time.Duration) []dt.Rec {
	out := make([]dt.Rec, len(actions))
	for i, a := range actions {
		out[i] = denied(a, start.Add(time.Duration(i)*step))
	}
	return out
}

func TestAccessDeniedBurstContract(t *testing.T) {
	var retries []dt.Rec
	for i := range 30 {
		retries = append(retries, denied("kms:Decrypt", t0.Add(time.Duration(i)*10*time.Second)))
	}
	dt.Run(t, dt.Contract{
		New:   func() detectors.Detector { return newDenied(t) },
		Loud:  burstOf(probing[:10], t0, 20*time.Second),
		Quiet: append(retries, burstOf(probing[:9], t0.Add(time.Hour), 20*time.Second)...),
	})
}

// TestAccessDeniedBurstShapes: what fires at what severity, and the quiet
// twins, each on a fresh store.
func TestAccessDeniedBurstShapes(t *testing.T) {
	mixed := append(slices.Clone(probing[:6]), sensitiveProbing[:4]...)
	twoKeys := burstOf(probing[:10], t0, 20*time.Second)
	for i := range twoKeys {
		if i%2 == 1 {
			twoKeys[i] = twoKeys[i].With("userIdentity.accessKeyId", "AKIAEXAMPLEALICE02")
		}
	}
	roleSessions := burstOf(probing[:10], t0, 20*time.Second)
	for i := range roleSessions {
		roleSessions[i] = roleSessions[i].AsAssumedRole("app-role", fmt.Sprintf("i-%017d", i))
	}
	ssoPeople := burstOf(probing[:10], t0, 20*time.Second)
	for i := range ssoPeople {
		ssoPeople[i] = ssoPeople[i].AsAssumedRole("AWSReservedSSO_ReadOnly_0123456789abcdef", []string{"alice@example.com", "bob@example.com"}[i%2])
	}
	console := burstOf(probing[:12], t0, 10*time.Second)
	for i := range console {
		console[i] = console[i].AsAssumedRole("AWSReservedSSO_ReadOnly_0123456789abcdef", "alice@example.com").With("sessionCredentialFromConsole", "true")
	}
	notDenied := burstOf(probing[:12], t0, 10*time.Second)
	for i := range notDenied {
		notDenied[i] = notDenied[i].Failed("ThrottlingException")
	}
	tests := []struct {
		name   string
		stream []dt.Rec
		want   detectors.Severity
	}{
		{"ten actions over many services", burstOf(probing[:10], t0, 20*time.Second), detectors.SeverityMedium},
		{"identity, keys and secrets among them", burstOf(mixed, t0, 20*time.Second), detectors.SeverityHigh},
		{"across two keys of one user", twoKeys, detectors.SeverityMedium},
		{"across sessions of one role", roleSessions, detectors.SeverityMedium},
		{"straddling a window edge", burstOf(probing[:10], t0.Add(-2*time.Minute), 20*time.Second), detectors.SeverityMedium},
		{"nine actions", burstOf(probing[:9], t0, 20*time.Second), 0},
		{"ten actions on two services", burstOf([]string{"ec2:DescribeInstances", "ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeImages", "ec2:DescribeVolumes", "s3:ListBuckets", "s3:GetBucketPolicy", "s3:GetBucketAcl", "s3:GetBucketTagging", "s3:GetBucketLogging"}, t0, 20*time.Second), 0},
		{"ten spread over an hour", burstOf(probing[:10], t0, 7*time.Minute), 0},
		{"twenty paced over an hour", burstOf(paced(20), t0, 150*time.Second), detectors.SeverityMedium},
		{"nineteen paced over an hour", burstOf(paced(19), t0, 150*time.Second), 0},
		{"two people of one permission set", ssoPeople, 0},
		{"console browsing", console, 0},
		{"throttled, not denied", notDenied, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := dt.Only(builtin.AccessDeniedBurstID, dt.New(t, newDenied(t)).Stream(tt.stream...))
			det3CheckOne(t, fs, tt.want, nil)
		})
	}
}

// deniedScenario: an application denied on s3, ec2 and lambda every day
// (it raises on its first days, then is known), and on day 6 the same
// application's key starts trying IAM, STS and KMS; alice's stolen key
// probes in the same hour.
func deniedScenario() []dt.Rec {
	app := func(r dt.Rec) dt.Rec { return r.AsAssumedRole("batch-app", "run") }
	chronic := []string{"s3:PutObject", "s3:GetObject", "s3:ListBucket", "s3:DeleteObject", "ec2:DescribeInstances",
		"ec2:DescribeTags", "ec2:CreateTags", "lambda:InvokeFunction", "lambda:GetFunction", "lambda:ListFunctions"}
	var stream []dt.Rec
	for d := range 7 {
		for _, r := range burstOf(chronic, day(d), 30*time.Second) {
			stream = append(stream, app(r))
		}
	}
	for _, r := range burstOf(append(slices.Clone(chronic[:7]), sensitiveProbing[:4]...), day(6).Add(time.Hour), 30*time.Second) {
		stream = append(stream, app(r))
	}
	stream = append(stream, burstOf(append(slices.Clone(probing[:8]), sensitiveProbing...), day(6).Add(time.Hour), 15*time.Second)...)
	return sortByTime(stream)
}

func runDeniedScenarios(t *testing.T, newStore newStoreFunc) {
	stream := deniedScenario()
	// Per principal and day, the highest severity raised: a burst that
	// becomes HIGH may have raised MEDIUM first, depending on order.
	incidents := func(order []dt.Rec) []string {
		h := dt.NewWithStore(t, newStore(t), newDenied(t))
		top := map[string]detectors.Severity{}
		for _, f := range dt.Only(builtin.AccessDeniedBurstID, h.Stream(order...)) {
			k := f.Evidence["principal"] + " " + f.EventTime.Format(time.DateOnly)
			top[k] = max(top[k], f.Severity)
		}
		var out []string
		for k, s := range top {
			out = append(out, k+" "+s.String())
		}
		slices.Sort(out)
		return out
	}
	want := []string{
		"arn:aws:iam::111122223333:role/batch-app 2024-08-01 MEDIUM",
		"arn:aws:iam::111122223333:role/batch-app 2024-08-02 MEDIUM",
		"arn:aws:iam::111122223333:role/batch-app 2024-08-03 MEDIUM",
		"arn:aws:iam::111122223333:role/batch-app 2024-08-07 HIGH",
		"arn:aws:iam::111122223333:user/alice 2024-08-07 HIGH",
	}
	checkIncidentsShuffled(t, stream, 6, incidents, want)
}

func TestAccessDeniedBurstScenarios(t *testing.T) { runDeniedScenarios(t, memoryStore) }

// TestAccessDeniedBurstStratus: the detonations whose denials are one or
// two actions repeated (GetPasswordData on many instances, user data of
// many instances) are quiet: failures without breadth.
func TestAccessDeniedBurstStratus(t *testing.T) {
	for _, name := range []string{
		"aws.credential-access.ec2-get-password-data.json",
		"aws.discovery.ec2-download-user-data.json",
		"aws.defense-evasion.organizations-leave.json",
	} {
		t.Run(name, func(t *testing.T) {
			if fs := dt.Only(builtin.AccessDeniedBurstID, streamRaw(dt.New(t, newDenied(t)), stratus(t, name))); len(fs) != 0 {
				t.Fatalf("want quiet, got %s", fs[0].Explanation)
			}
		})
	}
}

func TestAccessDeniedBurstExplains(t *testing.T) {
	fs := dt.Only(builtin.AccessDeniedBurstID, dt.New(t, newDenied(t)).Stream(burstOf(append(slices.Clone(probing[:6]), sensitiveProbing[:4]...), t0, 20*time.Second)...))
	if len(fs) != 1 {
		t.Fatalf("got %d findings", len(fs))
	}
	det3CheckOne(t, fs, detectors.SeverityHigh, map[string]string{
		"denied_actions": "10", "denied_services": "7", "sensitive_actions": "4",
		"principal": "arn:aws:iam::111122223333:user/alice",
	})
	t.Log(fs[0].Explanation)
}

func TestAccessDeniedBurstOptions(t *testing.T) {
	cfg := detectors.DefaultConfig()
	cfg.Options = func(v any) error {
		o := v.(*builtin.AccessDeniedBurstOptions)
		o.Window, o.MinServices, o.ChronicDays, o.SensitiveServices = time.Second, 50, 40, []string{"iam.amazonaws.com"}
		return nil
	}
	_, err := builtin.NewAccessDeniedBurst(cfg)
	if got := len(unjoin(err)); got != 4 {
		t.Fatalf("want 4 option errors, got %v", err)
	}
}
