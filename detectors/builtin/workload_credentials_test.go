package builtin_test

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// Generated streams. wlGeo places: two AWS networks (AMAZON-02 and
// AMAZON-AES; real AWS prefixes, since the documentation ranges are
// nobody's), a residential ISP, a VPS provider (DigitalOcean, a default
// hosting ASN) and an office.
var wlGeo = fakeGeo{
	"52.94.0.0/16":    {Country: "US", ASN: 16509, ASNOrg: "AMAZON-02"},
	"3.5.0.0/16":      {Country: "US", ASN: 14618, ASNOrg: "AMAZON-AES"},
	"2600:1f18::/32":  {Country: "US", ASN: 16509, ASNOrg: "AMAZON-02"},
	"198.51.100.0/24": {Country: "DE", ASN: 3320, ASNOrg: "Deutsche Telekom AG"},
	"192.0.2.0/24":    {Country: "NL", ASN: 14061, ASNOrg: "DIGITALOCEAN-ASN"},
	"203.0.113.0/24":  {Country: "US", ASN: 64500, ASNOrg: "Example Office Net"},
}

const (
	wlAcct     = "111122223333"
	instanceIP = "52.94.1.10"
	instance   = "i-0abc1234def567890"
	ec2Key     = "ASIAEC2INSTANCE00001"
	lambdaKey  = "ASIALAMBDAFUNCTION01"
	lambdaUA   = "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10 lang/python#3.12 exec-env/AWS_Lambda_python3.12"
)

func wlSettings() *detectors.Settings { return &detectors.Settings{GeoIP: wlGeo} }

// newWorkload builds the detector on s. The tests' trusted_networks are
// the workloads' whole egress (trusted_networks_are_egress).
func newWorkload(t testing.TB, s *detectors.Settings) detectors.Detector {
	t.Helper()
	cfg := options("trusted_networks_are_egress: true")
	cfg.Settings = s
	d, err := builtin.NewWorkloadCredentials(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestWorkloadCredentialsEgressIsOptIn: without an ASN database and without
// trusted_networks_are_egress, an instance's session from a public address
// outside trusted_networks says nothing (an instance with a public address
// calls from an AWS address nobody lists).
func TestWorkloadCredentialsEgressIsOptIn(t *testing.T) {
	s := &detectors.Settings{TrustedCIDRs: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}}
	d, err := builtin.NewWorkloadCredentials(detectors.Config{Settings: s})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 8, 1, 12, 0, 0, 0, time.UTC)
	rec := session(t0, "batch-role", "i-0123456789abcdef0", "ASIABATCH00000000001", "3.93.248.90")
	if fs := dt.Only(builtin.WorkloadCredentialsID, dt.New(t, d).Score(rec)); len(fs) != 0 {
		t.Errorf("want quiet without trusted_networks_are_egress: %s", fs[0].Explanation)
	}
	if fs := dt.Only(builtin.WorkloadCredentialsID, dt.New(t, newWorkload(t, s)).Score(rec)); len(fs) != 1 {
		t.Errorf("with trusted_networks_are_egress: %d findings, want 1", len(fs))
	}
}

// session is a call by a session of role named name, with key, from src.
func session(at time.Time, role, name, key, src string) dt.Rec {
	return dt.Base("s3.amazonaws.com", "ListBuckets", at).AsAssumedRole(role, name).
		With("userIdentity.accessKeyId", key).With("sourceIPAddress", src).
		With("userAgent", "aws-sdk-go-v2/1.30.0 os/linux lang/go#1.22")
}

// ec2 is the instance profile session of instance.
func ec2(at time.Time, src string) dt.Rec {
	return session(at, "web-app-role", instance, ec2Key, src)
}

// lambda is the orders function's session; ua says where it runs.
func lambda(at time.Time, src, ua string) dt.Rec {
	return session(at, "orders-fn-role", "orders-fn", lambdaKey, src).With("userAgent", ua)
}

// serviceAssume is an AWS service assuming role for a workload and issuing
// key, as CloudTrail records it.
func serviceAssume(at time.Time, svc, role, name, key string) dt.Rec {
	return dt.Base("sts.amazonaws.com", "AssumeRole", at).
		With("userIdentity", map[string]any{"type": "AWSService", "invokedBy": svc}).
		With("sourceIPAddress", svc).With("userAgent", svc).
		With("requestParameters", map[string]any{"roleArn": "arn:aws:iam::" + wlAcct + ":role/" + role, "roleSessionName": name}).
		With("responseElements", map[string]any{"credentials": map[string]any{"accessKeyId": key}})
}

// viaEndpoint sends r through VPC endpoint id owned by account, from a
// private address, as CloudTrail records calls through an interface or
// gateway endpoint.
func viaEndpoint(r dt.Rec, id, account string) dt.Rec {
	return r.With("sourceIPAddress", "10.0.3.7").With("vpcEndpointId", id).With("vpcEndpointAccountId", account)
}

func TestWorkloadCredentialsContract(t *testing.T) {
	dt.Run(t, dt.Contract{
		New:   func() detectors.Detector { return newWorkload(t, wlSettings()) },
		Loud:  []dt.Rec{ec2(t0, instanceIP), ec2(t0.Add(time.Hour), "198.51.100.7")},
		Quiet: []dt.Rec{ec2(t0, instanceIP), ec2(t0.Add(time.Hour), instanceIP)},
		Unrelated: []dt.Rec{
			ec2(t0, "ec2.amazonaws.com"),
			ec2(t0, "AWS Internal"),
			ec2(t0, instanceIP).With("userIdentity.invokedBy", "cloudformation.amazonaws.com"),
			ec2(t0, "198.51.100.7").Failed("InvalidClientTokenId"),
			dt.Base("s3.amazonaws.com", "ListBuckets", t0), // alice's long-term key
			session(t0, "AWSReservedSSO_Admin_0123456789abcdef", "alice", "ASIASSOALICE00000001", "198.51.100.7"),
			session(t0, "okta-admin", "alice@example.com", "ASIASAMLALICE0000001", "198.51.100.7"),
			ec2(t0, "198.51.100.7").With("sessionCredentialFromConsole", "true"),
			viaEndpoint(ec2(t0, ""), "vpce-0own", wlAcct),
		},
	})
}

func TestWorkloadCredentialsScenarios(t *testing.T) { runWorkloadScenarios(t, memoryStore) }

func runWorkloadScenarios(t *testing.T, newStore newStoreFunc) {
	type scenario struct {
		name     string
		settings *detectors.Settings
		stream   []dt.Rec
		want     func(stream []dt.Rec) []want
	}
	at := func(i int, sev detectors.Severity) func([]dt.Rec) []want {
		return func(s []dt.Rec) []want { return []want{{s[i].ID(), sev}} }
	}
	none := func([]dt.Rec) []want { return nil }
	high, medium := detectors.SeverityHigh, detectors.SeverityMedium
	min := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
	noDB := &detectors.Settings{}
	noDBTrusted := &detectors.Settings{TrustedCIDRs: []netip.Prefix{netip.MustParsePrefix("52.94.1.0/24")}}
	org := &detectors.Settings{GeoIP: wlGeo, Accounts: []string{wlAcct, "444455556666"}}

	scenarios := []scenario{
		// EC2 instance credentials (OutsideAWS).
		{"instance session from a residential ISP is HIGH at once", wlSettings(),
			[]dt.Rec{ec2(min(0), "198.51.100.7")}, at(0, high)},
		{"instance session from a VPS is HIGH", wlSettings(),
			[]dt.Rec{ec2(min(0), instanceIP), ec2(min(5), "192.0.2.44")}, at(1, high)},
		{"instance named only in principalId is recognised", wlSettings(),
			[]dt.Rec{ec2(min(0), "198.51.100.7").With("userIdentity.arn", "arn:aws:sts::111122223333:assumed-role/web-app-role")},
			at(0, high)},
		{"quiet: the instance's own calls, service sources and own endpoints", wlSettings(),
			[]dt.Rec{ec2(min(0), instanceIP), ec2(min(1), instanceIP), ec2(min(2), "ec2.amazonaws.com"), ec2(min(3), "AWS Internal"),
				viaEndpoint(ec2(min(4), ""), "vpce-0own", wlAcct), ec2(min(5), instanceIP)}, none},
		{"quiet: the SSM agent's message channel", wlSettings(),
			[]dt.Rec{ec2(min(0), "192.0.2.44").With("eventSource", "ssmmessages.amazonaws.com").With("eventName", "CreateControlChannel")}, none},
		{"quiet: an instance using IPv4 and IPv6 of its own", wlSettings(),
			[]dt.Rec{ec2(min(0), instanceIP), ec2(min(1), "2600:1f18:1:2::10"), ec2(min(2), instanceIP)}, none},
		// InsideAWS: the key at a second AWS address.
		{"instance key at a second AWS address is HIGH", wlSettings(),
			[]dt.Rec{ec2(min(0), instanceIP), ec2(min(30), "52.94.200.7")}, at(1, high)},
		// Foreign VPC endpoints.
		{"instance session through another account's VPC endpoint is HIGH", wlSettings(),
			[]dt.Rec{ec2(min(0), instanceIP), viaEndpoint(ec2(min(1), ""), "vpce-0evil", "999988887777")}, at(1, high)},
		{"quiet: an endpoint of another organisation account", org,
			[]dt.Rec{viaEndpoint(ec2(min(0), ""), "vpce-0shared", "444455556666"), ec2(min(1), instanceIP)}, none},
		{"an endpoint outside the listed accounts is HIGH", org,
			[]dt.Rec{viaEndpoint(ec2(min(0), ""), "vpce-0evil", "999988887777")}, at(0, high)},
		// Lambda: learned from the AssumeRole by lambda.amazonaws.com.
		{"Lambda key used from a residential ISP without Lambda's user agent is HIGH", wlSettings(),
			[]dt.Rec{serviceAssume(min(0), "lambda.amazonaws.com", "orders-fn-role", "orders-fn", lambdaKey),
				lambda(min(1), "52.94.9.9", lambdaUA), lambda(min(20), "198.51.100.7", "aws-cli/2.15.0 md/Botocore#1.34 os/macos#23.1")},
			at(2, high)},
		{"quiet: Lambda changing addresses and ASNs within AWS", wlSettings(),
			[]dt.Rec{serviceAssume(min(0), "lambda.amazonaws.com", "orders-fn-role", "orders-fn", lambdaKey),
				lambda(min(1), "52.94.9.9", lambdaUA), lambda(min(2), "52.94.77.1", lambdaUA), lambda(min(3), "3.5.1.1", lambdaUA)}, none},
		{"quiet: a person assuming the function's role by hand, from home", wlSettings(),
			[]dt.Rec{serviceAssume(min(0), "lambda.amazonaws.com", "orders-fn-role", "orders-fn", lambdaKey),
				session(min(5), "orders-fn-role", "bob-debug", "ASIABOBDEBUG00000001", "198.51.100.7")}, none},
		{"Lambda recognised by its user agent without the AssumeRole", wlSettings(),
			[]dt.Rec{lambda(min(0), "192.0.2.44", lambdaUA)}, at(0, high)},
		// ECS and EKS.
		{"ECS task key from a VPS is HIGH", wlSettings(),
			[]dt.Rec{serviceAssume(min(0), "ecs-tasks.amazonaws.com", "api-task-role", "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "ASIAECSTASK000000001"),
				session(min(1), "api-task-role", "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "ASIAECSTASK000000001", "192.0.2.44")}, at(1, high)},
		{"EKS IRSA key from a residential ISP is HIGH", wlSettings(),
			[]dt.Rec{irsaAssume(min(0)), session(min(1), "payments-irsa", "botocore-session-1722517200", "ASIAEKSPOD0000000001", "198.51.100.7")},
			at(1, high)},
		// Any temporary key: first inside AWS, then elsewhere.
		{"CI role key first used inside AWS, then from an ISP, is HIGH", wlSettings(),
			[]dt.Rec{session(min(0), "deployer", "build-881", "ASIADEPLOY0000000001", "52.94.9.9"),
				session(min(9), "deployer", "build-881", "ASIADEPLOY0000000001", "198.51.100.7")}, at(1, high)},
		{"quiet: a person's key first used at home, then inside AWS", wlSettings(),
			[]dt.Rec{session(min(0), "deployer", "bob", "ASIADEPLOY0000000002", "198.51.100.7"),
				session(min(9), "deployer", "bob", "ASIADEPLOY0000000002", "52.94.9.9")}, none},
		{"quiet: an SSO session moving from AWS to home is the location detector's", wlSettings(),
			[]dt.Rec{session(min(0), "AWSReservedSSO_Admin_0123456789abcdef", "alice", "ASIASSOALICE00000001", "52.94.9.9"),
				session(min(9), "AWSReservedSSO_Admin_0123456789abcdef", "alice", "ASIASSOALICE00000001", "198.51.100.7")}, none},
		// Trusted networks.
		{"quiet: an instance behind the office's listed egress", &detectors.Settings{GeoIP: wlGeo, TrustedCIDRs: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}},
			[]dt.Rec{ec2(min(0), "203.0.113.9")}, none},
		// Without databases.
		{"no database: one public sighting says nothing", noDB,
			[]dt.Rec{ec2(min(0), "198.51.100.7")}, none},
		{"no database: instance key at a second /16 is MEDIUM", noDB,
			[]dt.Rec{ec2(min(0), instanceIP), ec2(min(5), "198.51.100.7")}, at(1, medium)},
		{"no database: instance outside listed egress is MEDIUM", noDBTrusted,
			[]dt.Rec{ec2(min(0), instanceIP), ec2(min(5), "198.51.100.7")}, at(1, medium)},
		{"quiet, no database: Lambda outside the listed egress says nothing", noDBTrusted,
			[]dt.Rec{lambda(min(0), "198.51.100.7", lambdaUA),
				serviceAssume(min(1), "lambda.amazonaws.com", "orders-fn-role", "orders-fn", lambdaKey),
				lambda(min(2), "198.51.100.8", "aws-cli/2.15.0")}, none},
		{"no database: ECS task outside the listed egress is MEDIUM, even scored before its AssumeRole", noDBTrusted,
			[]dt.Rec{session(min(1), "api-task-role", "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "ASIAECSTASK000000001", "198.51.100.7"),
				serviceAssume(min(0), "ecs-tasks.amazonaws.com", "api-task-role", "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "ASIAECSTASK000000001")},
			at(1, medium)},
		{"quiet, no database: Lambda roaming /16s", noDB,
			[]dt.Rec{lambda(min(0), "52.94.9.9", lambdaUA), lambda(min(1), "3.5.1.1", lambdaUA)}, none},
		{"no database: a foreign endpoint is still HIGH", noDB,
			[]dt.Rec{viaEndpoint(ec2(min(0), ""), "vpce-0evil", "999988887777")}, at(0, high)},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			h := dt.NewWithStore(t, newStore(t), newWorkload(t, sc.settings))
			checkFindings(t, builtin.WorkloadCredentialsID, h, sc.stream, sc.want(sc.stream)...)
		})
	}
}

// irsaAssume is a pod of an EKS cluster exchanging its service account
// token for the payments-irsa role (IAM roles for service accounts).
func irsaAssume(at time.Time) dt.Rec {
	provider := "arn:aws:iam::" + wlAcct + ":oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
	return dt.Base("sts.amazonaws.com", "AssumeRoleWithWebIdentity", at).
		With("userIdentity", map[string]any{"type": "WebIdentityUser", "principalId": provider + ":sts.amazonaws.com:system:serviceaccount:payments:api",
			"userName": "system:serviceaccount:payments:api", "identityProvider": provider}).
		With("sourceIPAddress", "52.94.9.9").
		With("requestParameters", map[string]any{"roleArn": "arn:aws:iam::" + wlAcct + ":role/payments-irsa", "roleSessionName": "botocore-session-1722517200"}).
		With("responseElements", map[string]any{"credentials": map[string]any{"accessKeyId": "ASIAEKSPOD0000000001"}})
}

// TestWorkloadCredentialsShuffled delivers incidents out of order within
// the allowed lateness: a stolen Lambda key whose use is scored before the
// AssumeRole that says the role is Lambda's, an ECS task key used only
// from outside (the AssumeRole by ecs-tasks raises when it is scored
// second), and a CI key whose outside use is scored before its first use
// inside AWS.
func TestWorkloadCredentialsShuffled(t *testing.T) { runWorkloadShuffled(t, memoryStore) }

func runWorkloadShuffled(t *testing.T, newStore newStoreFunc) {
	var stream []dt.Rec
	stream = append(stream, serviceAssume(t0, "lambda.amazonaws.com", "orders-fn-role", "orders-fn", lambdaKey))
	for m := 1; m < 30; m += 3 {
		stream = append(stream, lambda(t0.Add(time.Duration(m)*time.Minute), "52.94.9.9", lambdaUA))
	}
	stream = append(stream, lambda(t0.Add(2*time.Minute), "198.51.100.7", "aws-cli/2.15.0"))
	stream = append(stream, session(t0, "deployer", "build-881", "ASIADEPLOY0000000001", "52.94.9.9"),
		session(t0.Add(4*time.Minute), "deployer", "build-881", "ASIADEPLOY0000000001", "198.51.100.7"))
	// An ECS task key whose only use is a listing from outside AWS.
	stream = append(stream,
		serviceAssume(t0.Add(10*time.Minute), "ecs-tasks.amazonaws.com", "api-task-role", "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "ASIAECSTASK000000001"),
		session(t0.Add(11*time.Minute), "api-task-role", "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "ASIAECSTASK000000001", "198.51.100.7"))
	for m := 0; m < 30; m += 2 { // the instance's own traffic: quiet
		stream = append(stream, ec2(t0.Add(time.Duration(m)*time.Minute), instanceIP))
	}
	stream = sortByTime(stream)
	incidents := func(order []dt.Rec) []string {
		h := dt.NewWithStore(t, newStore(t), newWorkload(t, wlSettings()))
		var out []string
		for _, f := range dt.Only(builtin.WorkloadCredentialsID, h.Stream(order...)) {
			out = append(out, f.AccessKeyID+" "+f.Severity.String())
		}
		slices.Sort(out)
		return out
	}
	inOrder := incidents(stream)
	want := []string{"ASIADEPLOY0000000001 HIGH", "ASIAECSTASK000000001 HIGH", lambdaKey + " HIGH"}
	if !slices.Equal(inOrder, want) {
		t.Fatalf("in order: incidents %v, want %v", inOrder, want)
	}
	for seed := range uint64(8) {
		if got := incidents(shuffleWithin(stream, 15*time.Minute, seed)); !slices.Equal(got, want) {
			t.Errorf("seed %d: incidents %v, want %v", seed, got, want)
		}
	}
}

// TestWorkloadCredentialsExplains checks that a finding names the
// evidence: the session, the key, the source and its network, the reason.
func TestWorkloadCredentialsExplains(t *testing.T) {
	h := dt.New(t, newWorkload(t, wlSettings()))
	fs := dt.Only(builtin.WorkloadCredentialsID, h.Stream(ec2(t0, instanceIP), ec2(t0.Add(time.Minute), "192.0.2.44")))
	if len(fs) != 1 {
		t.Fatalf("got %d findings, want 1", len(fs))
	}
	f := fs[0]
	for k, v := range map[string]string{"workload": "ec2", "asn": "14061", "network_kind": "hosting", "other_networks": "AWS address " + instanceIP} {
		if f.Evidence[k] != v {
			t.Errorf("evidence %s = %q, want %q", k, f.Evidence[k], v)
		}
	}
	for _, s := range []string{instance, ec2Key, "192.0.2.44", "DIGITALOCEAN-ASN", "hosting, VPN or Tor network, not AWS's", "first used inside AWS"} {
		if !strings.Contains(f.Explanation, s) {
			t.Errorf("explanation %q does not name %q", f.Explanation, s)
		}
	}
	t.Log(f.Explanation)
}

// TestWorkloadCredentialsNotes: without an ASN database the detector says
// what it cannot see, and how to make it see more.
func TestWorkloadCredentialsNotes(t *testing.T) {
	n := newWorkload(t, &detectors.Settings{}).(detectors.Notable).Notes()
	if len(n) != 1 || !strings.Contains(n[0], "trusted_networks") {
		t.Errorf("notes without databases = %q, want one naming trusted_networks", n)
	}
	if n := newWorkload(t, wlSettings()).(detectors.Notable).Notes(); len(n) != 0 {
		t.Errorf("notes with databases = %q, want none", n)
	}
}

func TestWorkloadCredentialsOptions(t *testing.T) {
	_, err := builtin.NewWorkloadCredentials(detectors.Config{Options: func(v any) error {
		o := v.(*builtin.WorkloadCredentialsOptions)
		o.FallbackSeverity, o.LearnFor, o.KeyLifetime = 0, time.Minute, 0
		return nil
	}})
	var keys []string
	for _, e := range unjoin(err) {
		oe, ok := errors.AsType[*detectors.OptionError](e)
		if !ok {
			t.Fatalf("%v is not an *OptionError", e)
		}
		keys = append(keys, oe.Key)
	}
	slices.Sort(keys)
	if want := []string{"fallback_severity", "key_lifetime", "learn_for"}; !slices.Equal(keys, want) {
		t.Errorf("bad keys %v, want %v (err: %v)", keys, want, err)
	}
}
