// Package benign generates a month of an organisation's ordinary CloudTrail
// traffic, with no attacks in it, to measure how much detectors alert on a
// normal day (make noise, docs/noise.md). Where internal/realcorpus is
// shaped for throughput (one account, volumes like a real one's), this
// corpus is shaped for noise: every daily pattern that a naive detection
// mistakes for an attack is in it, each with the record shapes real
// CloudTrail gives it.
//
// The organisation: People people (120 by default) in four accounts
// (management with IAM Identity Center, security, production,
// development), signing in through Identity Center or an Okta SAML
// provider from three offices, from their homes (each person one stable
// consumer ISP, sometimes a mobile carrier) and, a few at a time, from a
// week abroad. Developers run `aws sts get-caller-identity` then `aws s3
// ls`; Terraform plans (read-heavy, many services) and applies run in
// GitHub Actions through web identity; CDK bootstraps and deploys
// (CloudFormation attaching AdministratorAccess to its execution role);
// self-hosted runners call through VPC endpoints; a vendor's crawler and
// a Prowler CSPM scan enumerate every account daily through cross-account
// roles; Lambda functions and EC2 instances act across accounts from AWS
// networks; AWS services act with invokedBy; Identity Center provisions
// permission sets; access keys are rotated; service-linked roles are
// created; and the root user browses the EC2 console.
//
// Output is deterministic for a seed, sorted by event time, with unique
// event ids; Corpus.Pattern names the pattern of every record.
package benign

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/iamsentry/iamsentry/internal/corpus"
)

// The organisation's accounts.
const (
	AccountManagement = "520813004771" // AWS Organizations, IAM Identity Center
	AccountSecurity   = "193847562011" // Prowler, audit
	AccountProduction = "731245906612"
	AccountDev        = "384920175563"

	// AccountCrawlerVendor is a SaaS vendor's account, outside the
	// organisation, whose crawler assumes a read-only role in each account.
	AccountCrawlerVendor = "464622532012"
)

// Accounts are the organisation's own accounts.
var Accounts = []string{AccountManagement, AccountSecurity, AccountProduction, AccountDev}

// Patterns are the daily patterns of the organisation, as Corpus.Pattern
// names them.
var Patterns = []string{
	PatternSSOSignIn, PatternSAMLSignIn, PatternConsole, PatternTravel, PatternMobile,
	PatternWhoamiS3Ls, PatternTerraformPlan, PatternTerraformApply, PatternCDKBootstrap,
	PatternCDKDeploy, PatternCIWebIdentity, PatternVPCEndpoint, PatternCrawler, PatternProwler,
	PatternCrossAccount, PatternServiceInvoked, PatternIdentityCenter, PatternKeyRotation,
	PatternServiceLinkedRole, PatternRootConsole, PatternAutomationKey,
}

// Pattern names.
const (
	PatternSSOSignIn         = "sso-sign-in"     // Identity Center: AssumeRoleWithSAML into AWSReservedSSO_* roles
	PatternSAMLSignIn        = "saml-sign-in"    // Okta: AssumeRoleWithSAML
	PatternConsole           = "console"         // people's console and CLI work
	PatternTravel            = "travel"          // a person a week abroad: every record of that week
	PatternMobile            = "mobile"          // a session from a mobile carrier
	PatternWhoamiS3Ls        = "whoami-s3-ls"    // aws sts get-caller-identity, then aws s3 ls
	PatternTerraformPlan     = "terraform-plan"  // read-heavy across services
	PatternTerraformApply    = "terraform-apply" // writes, IAM included
	PatternCDKBootstrap      = "cdk-bootstrap"   // CloudFormation creates the CDK roles, AdministratorAccess on cfn-exec
	PatternCDKDeploy         = "cdk-deploy"      // deploy role, change sets, cfn-exec-role at work
	PatternCIWebIdentity     = "ci-web-identity" // GitHub OIDC AssumeRoleWithWebIdentity and the run's calls
	PatternVPCEndpoint       = "vpc-endpoint"    // self-hosted runners through VPC endpoints
	PatternCrawler           = "vendor-crawler"  // a vendor's cross-account read-only crawl
	PatternProwler           = "cspm-prowler"    // Prowler through a cross-account role
	PatternCrossAccount      = "cross-account-automation"
	PatternServiceInvoked    = "aws-service-invoked" // invokedBy and AWSService records
	PatternIdentityCenter    = "identity-center-provisioning"
	PatternKeyRotation       = "access-key-rotation" // Create, UpdateAccessKey Inactive, Delete by the user
	PatternServiceLinkedRole = "service-linked-role" // CreateServiceLinkedRole
	PatternRootConsole       = "root-console"        // the root user in the EC2 console
	PatternAutomationKey     = "automation-key"      // scripts holding IAM user keys
)

// Options shape a corpus. The zero value gives the defaults: 120 people
// over 30 days from Monday 2025-06-02.
type Options struct {
	Seed   uint64
	Start  time.Time // first day; default 2025-06-02 UTC, a Monday
	Days   int       // default 30
	People int       // default 120
}

func (o *Options) defaults() {
	if o.Start.IsZero() {
		o.Start = time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)
	}
	if o.Days <= 0 {
		o.Days = 30
	}
	if o.People <= 0 {
		o.People = 120
	}
}

// Corpus is a generated corpus.
type Corpus struct {
	Records []corpus.Record // sorted by event time
	// Pattern[i] is the pattern Records[i] belongs to.
	Pattern []string
	People  []Person
}

// Person is one person of the organisation.
type Person struct {
	Email     string
	Developer bool
	Identity  string // "identity-center" or "okta"
	Country   string // where they live
	Office    string // their office network; "" for remote people
	Home      string // their home ISP's network
	Mobile    string // their mobile carrier's network
	// Travel is the week (first day index) they spend abroad, on the
	// network TravelNet; -1 when they stay home this month.
	Travel    int
	TravelNet string
}

// Generate returns the corpus for o.
func Generate(o Options) *Corpus {
	o.defaults()
	g := &gen{rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)), o: o}
	g.organisation()
	for day := range o.Days {
		base := o.Start.AddDate(0, 0, day)
		g.day(day, base)
	}
	order := make([]int, len(g.recs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return g.recs[a].Time.Compare(g.recs[b].Time) })
	c := &Corpus{Records: make([]corpus.Record, len(order)), Pattern: make([]string, len(order))}
	for i, j := range order {
		c.Records[i], c.Pattern[i] = g.recs[j], g.pats[j]
	}
	for _, p := range g.people {
		c.People = append(c.People, p.Person)
	}
	return c
}

type gen struct {
	rng    *rand.Rand
	o      Options
	people []*person
	recs   []corpus.Record
	pats   []string
	seq    int
}

// day is one day of the whole organisation.
func (g *gen) day(day int, base time.Time) {
	weekend := base.Weekday() == time.Saturday || base.Weekday() == time.Sunday
	for _, p := range g.people {
		g.personDay(p, day, base, weekend)
	}
	g.pipelines(day, base, weekend)
	g.scanners(base)
	g.automation(base)
	g.services(base)
	g.administration(day, base, weekend)
}

// uuid returns a fresh, deterministic, UUID-shaped id.
func (g *gen) uuid() string {
	g.seq++
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", g.rng.Uint32(), g.rng.IntN(1<<16), g.rng.IntN(1<<12), 0x8000|g.rng.IntN(1<<14), g.seq)
}

// upper returns n random upper-case letters and digits, as AWS ids hold.
func (g *gen) upper(n int) string {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := make([]byte, n)
	for i := range b {
		b[i] = alpha[g.rng.IntN(len(alpha))]
	}
	return string(b)
}

// hex returns n random lower-case hex digits.
func (g *gen) hex(n int) string {
	const alpha = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = alpha[g.rng.IntN(len(alpha))]
	}
	return string(b)
}

// jitter returns a duration in [0, d).
func (g *gen) jitter(d time.Duration) time.Duration { return time.Duration(g.rng.Int64N(int64(d))) }

// emit records r, of pattern, at t.
func (g *gen) emit(pattern string, t time.Time, r map[string]any) {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // plain maps of strings, numbers and bools: cannot fail
	}
	g.recs = append(g.recs, corpus.Record{Time: t.Truncate(time.Second), JSON: b})
	g.pats = append(g.pats, pattern)
}
