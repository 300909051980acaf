package realcorpus

import (
	"fmt"
	"time"
)

// Identity kinds, as Identity.Kind names them.
const (
	KindSSOPerson  = "sso-person"  // IAM Identity Center permission-set sessions
	KindSAMLPerson = "saml-person" // AssumeRoleWithSAML through an external IdP
	KindDeveloper  = "developer"   // IAM user with a long-term access key
	KindCI         = "ci"          // a pipeline through AssumeRoleWithWebIdentity
	KindTerraform  = "terraform"   // the infrastructure-as-code runner
	KindAutomation = "automation"  // IAM users whose keys scripts hold
	KindService    = "aws-service" // AWS services calling on the account's behalf
)

// Identity is one actor of a corpus.
type Identity struct {
	Kind string
	Name string // user name, email, repository or service principal
}

// identity is an actor and how it behaves.
type identity struct {
	Identity
	key      string // AKIA key of IAM users
	role     string // the role its sessions are of ("" for IAM users and services)
	net      int    // index of its home network in Networks
	ua       string
	ops      []op
	perDay   int  // mean calls on an active day
	weekdays bool // works Monday to Friday only
	start    int  // first working hour, UTC
	span     int  // hours its work spreads over
}

// population builds the identities: People people (three in five on SSO),
// a fifth as many developers, a tenth as many CI pipelines, one Terraform
// runner, six automation keys and eight AWS services.
func (g *gen) population() {
	n := g.o.People
	for i := range n {
		id := identity{weekdays: true, start: 7 + i%4, span: 9, perDay: 14 + g.rng.IntN(28), net: homeNet(i),
			ua: consoleUA, ops: consoleOps}
		email := fmt.Sprintf("person%03d@example.com", i)
		if i%5 < 3 {
			id.Identity = Identity{KindSSOPerson, email}
			id.role = ssoRoles[i%len(ssoRoles)]
		} else {
			id.Identity = Identity{KindSAMLPerson, email}
			id.role = samlRoles[i%len(samlRoles)]
		}
		g.ids = append(g.ids, id)
	}
	for i := range max(1, n/5) {
		g.ids = append(g.ids, identity{
			Identity: Identity{KindDeveloper, fmt.Sprintf("dev-%02d", i)},
			key:      "AKIA" + g.upper(16), weekdays: true, start: 8 + i%3, span: 10,
			perDay: 40 + g.rng.IntN(60), net: homeNet(n + i), ua: cliUA, ops: developerOps,
		})
	}
	for i := range max(1, n/10) {
		g.ids = append(g.ids, identity{
			Identity: Identity{KindCI, fmt.Sprintf("repo:example-org/service-%02d:ref:refs/heads/main", i)},
			role:     fmt.Sprintf("gha-deploy-service-%02d", i), weekdays: true, start: 7, span: 12,
			perDay: 60 + g.rng.IntN(100), net: netCI, ua: sdkUA, ops: ciOps,
		})
	}
	// Machines work in proportion to the account's size: People/100 of
	// their volume at the default size.
	scale := func(perDay int) int { return max(4, perDay*n/100) }
	g.ids = append(g.ids, identity{
		Identity: Identity{KindTerraform, "terraform-runner"}, role: "terraform-runner",
		start: 1, span: 22, perDay: scale(400), net: netAWS, ua: terraformUA, ops: terraformOps,
	})
	for _, a := range automations {
		g.ids = append(g.ids, identity{
			Identity: Identity{KindAutomation, a.name}, key: "AKIA" + g.upper(16),
			start: 0, span: 24, perDay: scale(a.perDay), net: netAWS, ua: sdkUA, ops: a.ops,
		})
	}
	for _, s := range services {
		g.ids = append(g.ids, identity{
			Identity: Identity{KindService, s.principal}, role: s.role,
			start: 0, span: 24, perDay: scale(s.perDay), ops: s.ops,
		})
	}
}

// day is one identity's day: its calls at working hours, preceded by how
// it gets its credentials (a console sign-in, AssumeRoleWithSAML,
// AssumeRoleWithWebIdentity, AssumeRole).
func (g *gen) day(id *identity, base time.Time, weekend bool) {
	if weekend && id.weekdays {
		if g.rng.IntN(10) != 0 { // one in ten works a little on weekends
			return
		}
	}
	n := id.perDay/2 + g.rng.IntN(id.perDay+1)
	if weekend && id.weekdays {
		n /= 4
	}
	runs := 1
	if id.Kind == KindCI || id.Kind == KindTerraform {
		runs = 3 + g.rng.IntN(6) // pipeline runs, each with its own session
	}
	for r := range runs {
		t := base.Add(time.Duration(id.start)*time.Hour + time.Duration(r)*time.Duration(id.span)*time.Hour/time.Duration(runs) + g.jitter(time.Hour))
		s := g.credentials(id, t)
		calls := n / runs
		step := time.Duration(id.span) * time.Hour / time.Duration(runs) / time.Duration(calls+1)
		if id.Kind == KindCI || id.Kind == KindTerraform {
			step = 3 * time.Second // a pipeline run is a burst
		}
		for c := range calls {
			at := s.at.Add(time.Duration(c+1)*step + g.jitter(step/2+time.Second))
			op := id.ops[g.pick(id.ops)]
			g.emit(at, g.call(s, at, op))
		}
	}
}

// pick returns an index into ops drawn by weight.
func (g *gen) pick(ops []op) int {
	total := 0
	for _, o := range ops {
		total += o.weight
	}
	x := g.rng.IntN(total)
	for i, o := range ops {
		if x < o.weight {
			return i
		}
		x -= o.weight
	}
	return len(ops) - 1
}

// homeNet spreads people over the office and home networks: most in the
// office country, some abroad.
func homeNet(i int) int {
	switch i % 10 {
	case 0, 1, 2, 3:
		return netOffice
	case 4, 5, 6:
		return netHomeNL
	case 7, 8:
		return netHomeDE
	default:
		return netHomeUS
	}
}
