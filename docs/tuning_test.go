package docs_test

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/config"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/state/memory"
)

// recipeBlock matches a "<!-- recipe: NAME -->" marker and the YAML block
// after it.
var recipeBlock = regexp.MustCompile("(?s)<!-- recipe: ([a-z-]+) -->\\s*```yaml\\n(.*?)```")

// recipes returns the YAML blocks of docs/tuning.md by recipe name.
func recipes(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", "tuning.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range recipeBlock.FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = m[2]
	}
	return out
}

// tuningGeo stands in for geoip.asn_db: the CI provider, the CSPM vendor
// and a hosting network nobody expects.
type tuningGeo map[netip.Prefix]uint32

func (g tuningGeo) Lookup(a netip.Addr) (detectors.GeoLocation, bool) {
	for p, asn := range g {
		if p.Contains(a) {
			return detectors.GeoLocation{ASN: asn}, true
		}
	}
	return detectors.GeoLocation{}, false
}

var geo = tuningGeo{
	netip.MustParsePrefix("198.51.100.0/24"):  64501, // CI provider
	netip.MustParsePrefix("203.0.113.0/25"):   64502, // CSPM vendor
	netip.MustParsePrefix("203.0.113.128/25"): 64503, // someone else's hosting
	netip.MustParsePrefix("198.18.0.0/16"):    64510, // the responders' home ISP
	netip.MustParsePrefix("198.19.0.0/24"):    64520, // other networks
	netip.MustParsePrefix("198.19.1.0/24"):    64521,
	netip.MustParsePrefix("198.19.2.0/24"):    64522,
}

// buildRecipe loads the organisation block and the named recipe with the
// real configuration loader and returns an engine running them.
func buildRecipe(t *testing.T, name string) *engine.Engine {
	t.Helper()
	rs := recipes(t)
	yaml, ok := rs[name]
	if !ok {
		t.Fatalf("docs/tuning.md has no recipe %q (has %d blocks)", name, len(rs))
	}
	cfg, err := config.Parse([]byte(rs["organisation"] + yaml))
	if err != nil {
		t.Fatalf("recipe %s: %v", name, err)
	}
	built, err := cfg.Build(builtin.Specs(), geo)
	if err != nil {
		t.Fatalf("recipe %s: %v", name, err)
	}
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	return engine.New(built.Registry, mem, engine.Options{Suppress: built.Suppress})
}

// findings scores records, one batch each in order, and returns the
// findings of detector id, suppressed and alerted, and the MEDIUM or
// higher alerts of other detectors.
func findings(t *testing.T, e *engine.Engine, id string, recs []dt.Rec) (suppressed, alerted, others []detectors.Finding) {
	t.Helper()
	for _, r := range recs {
		vs, err := e.Score(context.Background(), engine.Batch{Records: [][]byte{r.JSON()}})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range vs[0].Findings {
			switch {
			case f.Suppressed != nil && f.DetectorID == id:
				suppressed = append(suppressed, f)
			case f.Suppressed == nil && f.DetectorID == id:
				alerted = append(alerted, f)
			case f.Suppressed == nil && f.Severity >= detectors.SeverityMedium:
				others = append(others, f)
			}
		}
	}
	return suppressed, alerted, others
}

// recipeCase is one daily pattern, quiet with its recipe, and the stolen
// sessions of the same pipeline that must still alert.
type recipeCase struct {
	recipe   string
	detector string
	pattern  []dt.Rec
	stolen   map[string][]dt.Rec
	// quietByDefault: the detector learns the pattern (a per-caller
	// baseline), so the recipe needs no entry for it; the pattern must
	// raise nothing, suppressed or not, after its first days.
	quietByDefault bool
}

func TestTuningRecipes(t *testing.T) {
	for _, c := range recipeCases() {
		t.Run(c.recipe+"/"+c.detector, func(t *testing.T) {
			e := buildRecipe(t, c.recipe)
			sup, alerts, others := findings(t, e, c.detector, c.pattern)
			for _, f := range append(alerts, others...) {
				t.Errorf("pattern still alerts: %s %v: %s", f.DetectorID, f.Severity, f.Explanation)
			}
			switch {
			case c.quietByDefault && len(sup) > 0:
				t.Errorf("pattern raised %d suppressed %s findings; the detector should learn it", len(sup), c.detector)
			case !c.quietByDefault && len(sup) == 0:
				t.Errorf("pattern raised no %s finding to suppress: the test proves nothing", c.detector)
			}
			incidents := map[string]bool{}
			for _, f := range sup {
				if incidents[f.Incident] {
					t.Errorf("incident %s suppressed twice: one incident suppresses once", f.Incident)
				}
				incidents[f.Incident] = true
			}
			t.Logf("%d records, %d suppressed findings", len(c.pattern), len(sup))
			// In name order: a map's order would let one variant's
			// incident throttle the next at random.
			for _, name := range slices.Sorted(maps.Keys(c.stolen)) {
				recs := c.stolen[name]
				// On the engine that suppressed the pattern: its state and
				// throttles are what a thief meets.
				if _, alerts, _ := findings(t, e, c.detector, recs); len(alerts) == 0 {
					t.Errorf("stolen session, %s: %s raised no alert", name, c.detector)
				}
			}
		})
	}
}

func TestTuningRecipesAllTested(t *testing.T) {
	tested := map[string]bool{"organisation": true}
	for _, c := range recipeCases() {
		tested[c.recipe] = true
	}
	for name := range recipes(t) {
		if !tested[name] {
			t.Errorf("recipe %q of docs/tuning.md has no test case", name)
		}
	}
}

var tuningT0 = time.Date(2027, 3, 15, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return tuningT0.Add(d) }

const (
	terraformUA = "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.80.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.6 os/linux lang/go#1.23.3 md/GOOS#linux md/GOARCH#amd64 api/iam#1.38.2"
	cliUA       = "aws-cli/2.22.4 md/awscrt#0.22.0 ua/2.0 os/linux#6.8.0 md/arch#x86_64 lang/python#3.12.6 exec-env/CloudShell cfg/retry-mode#standard md/command#iam.list-roles"
	cdkUA       = "aws-sdk-js/2.1691.0 linux/v20.18.0 aws-cdk/2.171.1 promise"
	adminPolicy = "arn:aws:iam::aws:policy/AdministratorAccess"
)

// reads are distinct read-only calls over several services, as a plan or
// an inventory makes them.
var reads = [][2]string{
	{"iam", "ListRoles"}, {"iam", "ListUsers"}, {"iam", "ListPolicies"}, {"iam", "GetRole"},
	{"iam", "ListAttachedRolePolicies"}, {"s3", "ListBuckets"}, {"s3", "GetBucketPolicy"},
	{"s3", "GetBucketAcl"}, {"ec2", "DescribeInstances"}, {"ec2", "DescribeVpcs"},
	{"ec2", "DescribeSubnets"}, {"ec2", "DescribeSecurityGroups"}, {"kms", "ListKeys"},
	{"kms", "DescribeKey"}, {"lambda", "ListFunctions20150331"}, {"rds", "DescribeDBInstances"},
	{"logs", "DescribeLogGroups"}, {"sns", "ListTopics"}, {"sqs", "ListQueues"}, {"dynamodb", "ListTables"},
}

// sweep is one identity's inventory: GetCallerIdentity, then every read,
// a second apart from start, each record shaped by with.
func sweep(start time.Duration, with func(dt.Rec) dt.Rec) []dt.Rec {
	out := []dt.Rec{with(dt.Base("sts.amazonaws.com", "GetCallerIdentity", at(start)))}
	for i, r := range reads {
		rec := dt.Base(r[0]+".amazonaws.com", r[1], at(start+time.Duration(i+1)*time.Second)).With("readOnly", true)
		out = append(out, with(rec))
	}
	return out
}

func terraform(ua, ip string) func(dt.Rec) dt.Rec {
	return func(r dt.Rec) dt.Rec {
		return r.AsAssumedRole("terraform-runner", "tf-run-8812").With("userAgent", ua).With("sourceIPAddress", ip)
	}
}

// attach is AttachRolePolicy (or AttachUserPolicy when kind is "user") of
// AdministratorAccess to name, after its creation.
func attach(start time.Duration, kind, name string, with func(dt.Rec) dt.Rec) []dt.Rec {
	param, create, attach := "roleName", "CreateRole", "AttachRolePolicy"
	if kind == "user" {
		param, create, attach = "userName", "CreateUser", "AttachUserPolicy"
	}
	return []dt.Rec{
		with(dt.IAM(create, at(start), map[string]any{param: name})),
		with(dt.IAM(attach, at(start+time.Second), map[string]any{param: name, "policyArn": adminPolicy})),
	}
}

func cat(parts ...[]dt.Rec) []dt.Rec {
	var out []dt.Rec
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func recipeCases() []recipeCase {
	runner := "192.0.2.10"
	var plans []dt.Rec
	for day := range 3 {
		plans = append(plans, sweep(time.Duration(day)*24*time.Hour, terraform(terraformUA, runner))...)
	}
	later := 72 * time.Hour
	return append(moreRecipeCases(), []recipeCase{
		{recipe: "terraform", detector: builtin.AccessKeyEnumerationID, pattern: plans, stolen: map[string][]dt.Rec{
			"aws cli on the runner":  sweep(later, terraform(cliUA, runner)),
			"terraform from outside": sweep(later+time.Hour, terraform(terraformUA, "203.0.113.200")),
		}},
		// The aws cli on the runner is no stolen session to recon: the
		// runner probes daily (a learned habit) and reads what it always
		// reads; enumeration still tells it by its user agent.
		{recipe: "terraform", detector: builtin.CallerIdentityReconID, pattern: plans, stolen: map[string][]dt.Rec{
			"terraform from outside": sweep(later+time.Hour, terraform(terraformUA, "203.0.113.200")),
		}},
		{recipe: "terraform", detector: builtin.AdminPolicyAttachedID,
			pattern: cat(attach(0, "role", "ci-deploy-payments", terraform(terraformUA, runner)), attach(time.Hour, "role", "ci-deploy-search", terraform(terraformUA, runner))),
			stolen: map[string][]dt.Rec{
				"another target":         attach(later, "role", "backdoor", terraform(terraformUA, runner)),
				"a user":                 attach(later, "user", "ci-deploy-mallory", terraform(terraformUA, runner)),
				"aws cli on the runner":  attach(later, "role", "ci-deploy-x", terraform(cliUA, runner)),
				"terraform from outside": attach(later, "role", "ci-deploy-y", terraform(terraformUA, "203.0.113.200")),
			}},
	}...)
}

// assume is an sts:AssumeRole of role (a name in 111122223333) at start.
func assume(start time.Duration, role string, with func(dt.Rec) dt.Rec) []dt.Rec {
	return []dt.Rec{with(dt.Base("sts.amazonaws.com", "AssumeRole", at(start)).With("requestParameters", map[string]any{
		"roleArn": "arn:aws:iam::111122223333:role/" + role, "roleSessionName": "s-" + dt.FreshID()[24:],
	}))}
}

func session(role, name, ua, ip string) func(dt.Rec) dt.Rec {
	return func(r dt.Rec) dt.Rec {
		return r.AsAssumedRole(role, name).With("userAgent", ua).With("sourceIPAddress", ip)
	}
}

// byService makes the caller's session act through an AWS service, as
// CloudFormation and Identity Center calls are recorded.
func byService(role, name, service string) func(dt.Rec) dt.Rec {
	return func(r dt.Rec) dt.Rec {
		return r.AsAssumedRole(role, name).With("userIdentity.invokedBy", service).
			With("userAgent", service).With("sourceIPAddress", service)
	}
}

func iamUser(name, ip string) func(dt.Rec) dt.Rec {
	return func(r dt.Rec) dt.Rec {
		return r.With("userIdentity.arn", "arn:aws:iam::111122223333:user/"+name).With("userIdentity.userName", name).
			With("userIdentity.principalId", "AIDAEXAMPLE"+fmt.Sprint(len(name))).With("sourceIPAddress", ip).
			With("userIdentity.accessKeyId", fmt.Sprintf("AKIAEXAMPLE%09d", len(name)*7919))
	}
}

// vendor is the CSPM vendor's account calling into ours.
func vendor(ip string) func(dt.Rec) dt.Rec {
	return func(r dt.Rec) dt.Rec {
		return r.With("userIdentity", map[string]any{
			"type": "AWSAccount", "principalId": "AIDAVENDOREXAMPLE:scanner", "accountId": "999988887777",
		}).With("sourceIPAddress", ip).With("userAgent", "vendor-scanner/3.1 aws-sdk-go-v2/1.32.6")
	}
}

// daily repeats a day's records for n days from the start.
func daily(n int, day func(start time.Duration) []dt.Rec) []dt.Rec {
	var out []dt.Rec
	for d := range n {
		out = append(out, day(time.Duration(d)*24*time.Hour)...)
	}
	return out
}

func putInline(start time.Duration, role string, with func(dt.Rec) dt.Rec) []dt.Rec {
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	return []dt.Rec{with(dt.IAM("PutRolePolicy", at(start), map[string]any{
		"roleName": role, "policyName": "AwsSSOInlinePolicy", "policyDocument": doc,
	}))}
}

func moreRecipeCases() []recipeCase {
	const cfnExec = "cdk-hnb659fds-cfn-exec-role-111122223333-us-east-1"
	admin := func(r dt.Rec) dt.Rec { return r.AsAssumedRole("AdminRole", "alice@example.com") }
	ci := session("github-actions-deploy", "gha-9921", cdkUA, "198.51.100.20")
	ssoRole := "aws-service-role/sso.amazonaws.com/AWSServiceRoleForSSO"
	sso := byService(ssoRole, "AWS-SSO", "sso.amazonaws.com")
	scanner := session("CSPMVendorAudit", "cspm-scan", "vendor-scanner/3.1 aws-sdk-go-v2/1.32.6", "203.0.113.10")
	var scans []dt.Rec
	for h := range 3 {
		scans = append(scans, sweep(time.Duration(h)*time.Hour, scanner)...)
	}
	later := 72 * time.Hour
	drillEnd := 17 * 24 * time.Hour // 2027-04-01, the day after expires
	tenDays := 10 * 24 * time.Hour
	return []recipeCase{
		{recipe: "cdk", detector: builtin.AdminPolicyAttachedID,
			pattern: attach(0, "role", cfnExec, byService("AdminRole", "alice@example.com", "cloudformation.amazonaws.com")),
			stolen: map[string][]dt.Rec{
				"by hand, no invokedBy":        attach(later, "role", "cdk-hnb659fds-cfn-exec-role-111122223333-eu-west-1", admin),
				"a stack making another admin": attach(later, "role", "evil-admin", byService("AdminRole", "alice@example.com", "cloudformation.amazonaws.com")),
			}},
		// CI assumes the bootstrap roles from the CI provider's network
		// every day: assume-role-unexpected-source learns the caller's
		// networks and roles, so the recipe has no entry for it.
		{recipe: "cdk", detector: builtin.AssumeRoleUnexpectedSourceID, quietByDefault: true,
			pattern: daily(10, func(d time.Duration) []dt.Rec {
				return cat(assume(d, "cdk-hnb659fds-deploy-role-111122223333-us-east-1", ci), assume(d+time.Hour, "cdk-hnb659fds-file-publishing-role-111122223333-us-east-1", ci))
			}),
			stolen: map[string][]dt.Rec{
				"from another network": assume(tenDays, "cdk-hnb659fds-deploy-role-111122223333-us-east-1", session("github-actions-deploy", "gha-9921", cdkUA, "203.0.113.200")),
				"another role":         assume(tenDays+time.Hour, "AdminRole", ci),
			}},
		{recipe: "identity-center", detector: builtin.AdminPolicyAttachedID,
			pattern: attach(0, "role", "AWSReservedSSO_AdministratorAccess_0a1b2c3d4e5f6a7b", sso),
			stolen: map[string][]dt.Rec{
				"a person widening a permission set role": attach(later, "role", "AWSReservedSSO_ReadOnly_1b2c3d4e5f6a7b8c", iamUser("mallory", "203.0.113.200")),
				"the service role on another role":        attach(later, "role", "not-sso", sso),
			}},
		{recipe: "identity-center", detector: builtin.PolicyWeakenedID,
			pattern: putInline(0, "AWSReservedSSO_PowerUser_2c3d4e5f6a7b8c9d", sso),
			stolen: map[string][]dt.Rec{
				"a person widening a permission set role": putInline(later, "AWSReservedSSO_ReadOnly_1b2c3d4e5f6a7b8c", iamUser("mallory", "203.0.113.200")),
			}},
		{recipe: "cspm", detector: builtin.AccessKeyEnumerationID, pattern: scans, stolen: map[string][]dt.Rec{
			"from another network": sweep(later, session("CSPMVendorAudit", "cspm-scan", "vendor-scanner/3.1 aws-sdk-go-v2/1.32.6", "203.0.113.200")),
		}},
		{recipe: "cspm", detector: builtin.CallerIdentityReconID, pattern: scans, stolen: map[string][]dt.Rec{
			"from another network": sweep(later, session("CSPMVendorAudit", "cspm-scan", "vendor-scanner/3.1 aws-sdk-go-v2/1.32.6", "203.0.113.200")),
		}},
		{recipe: "cspm", detector: builtin.AssumeRoleUnexpectedSourceID, quietByDefault: true,
			pattern: daily(10, func(d time.Duration) []dt.Rec {
				return cat(assume(d, "CSPMVendorAudit", vendor("203.0.113.10")), assume(d+time.Hour, "CSPMVendorAudit", vendor("203.0.113.11")))
			}),
			stolen: map[string][]dt.Rec{
				"from another network": assume(tenDays, "CSPMVendorAudit", vendor("203.0.113.200")),
				"another role":         assume(tenDays+time.Hour, "AdminRole", vendor("203.0.113.10")),
			}},
		// The responders have a history (their everyday role from home);
		// the drill assumes the break-glass role from the drill network.
		{recipe: "break-glass", detector: builtin.AssumeRoleUnexpectedSourceID,
			pattern: cat(
				daily(10, func(d time.Duration) []dt.Rec {
					return cat(assume(d, "ReadOnly", iamUser("breakglass-1", "198.18.0.10")), assume(d+time.Hour, "ReadOnly", iamUser("alice", "198.18.1.10")))
				}),
				assume(tenDays, "BreakGlassAdmin", iamUser("breakglass-1", "203.0.113.200"))),
			stolen: map[string][]dt.Rec{
				"after the drill": assume(drillEnd, "BreakGlassAdmin", iamUser("breakglass-1", "198.19.0.10")),
				"by someone else": assume(tenDays+time.Hour, "BreakGlassAdmin", iamUser("alice", "198.19.1.10")),
				"another role":    assume(tenDays+2*time.Hour, "AdminRole", iamUser("breakglass-1", "198.19.2.10")),
			}},
	}
}

// TestConfigurationSuppressExample loads the example of the Suppression
// section of docs/configuration.md with the real loader.
func TestConfigurationSuppressExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## Suppression\n.*?```yaml\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("no YAML example in the Suppression section of docs/configuration.md")
	}
	cfg, err := config.Parse(append([]byte("geoip:\n  asn_db: /var/lib/GeoIP/GeoLite2-ASN.mmdb\n"), m[1]...))
	if err != nil {
		t.Fatal(err)
	}
	built, err := cfg.Build(builtin.Specs(), geo)
	if err != nil {
		t.Fatal(err)
	}
	if len(built.Suppress) != 3 {
		t.Errorf("the example has %d entries, want 3", len(built.Suppress))
	}
}
