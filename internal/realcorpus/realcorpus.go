// Package realcorpus generates a month of CloudTrail traffic shaped like a
// real account's, for benchmarks that should not flatter: well over a
// hundred identities of the kinds real accounts hold (people signing in
// through IAM Identity Center or a SAML provider, developers with access
// keys, CI pipelines through web identity, a Terraform runner, automation
// keys, AWS services acting on the account's behalf), each with its own
// services, event names, working hours and networks, and records carrying
// the fields and sizes real ones do (tlsDetails, requestID, session
// context, credentials in STS responses). Attacks are woven in after the
// first week.
//
// The shapes and sizes follow the real records under the project's shared
// data (Stratus Red Team detonations, Panther rule tests): median about
// 1 KB of compact JSON, STS responses over 2 KB. Everything is generated:
// every userAgent ends in "iamsentry-realcorpus". Output is deterministic
// for a seed, sorted by event time, with unique event ids.
//
// internal/corpus stays as it is: many tests pin its exact output.
package realcorpus

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/iamsentry/iamsentry/internal/corpus"
)

// Account is the account every generated identity lives in.
const Account = "444455556666"

// Options shape a corpus. The zero value gives the defaults, which make
// about 150,000 records from 150 identities over 30 days.
type Options struct {
	Seed  uint64
	Start time.Time // first day, a Monday by default: 2025-03-03 UTC
	Days  int       // default 30
	// People is how many people sign in through SSO or SAML (default 100);
	// the other populations scale with it (developers a fifth, CI
	// pipelines a tenth, at least one of each).
	People int
	// AttacksPerDay is how many attacks are woven in per day after the
	// first week (baselines need history first); default 3.
	AttacksPerDay int
}

func (o *Options) defaults() {
	if o.Start.IsZero() {
		o.Start = time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
	}
	if o.Days <= 0 {
		o.Days = 30
	}
	if o.People <= 0 {
		o.People = 100
	}
	if o.AttacksPerDay <= 0 {
		o.AttacksPerDay = 3
	}
}

// Attack is one attack woven into a corpus: what it is, when it started,
// who it acted as, and the event ids of its records.
type Attack struct {
	Kind     string // one of AttackKinds
	At       time.Time
	Actor    string // the identity's ARN (or user name) the attacker used
	EventIDs []string
}

// AttackKinds are the attacks Generate weaves in, in the order it cycles
// through them.
var AttackKinds = []string{
	"enumeration", "caller-identity-recon", "new-network", "fresh-admin", "foreign-access-key",
	"weakened-policy", "admin-role-spike", "ci-token-theft", "console-login-no-mfa",
}

// Corpus is a generated corpus.
type Corpus struct {
	Records    []corpus.Record // sorted by event time
	Attacks    []Attack
	Identities []Identity
}

// Generate returns the corpus for o.
func Generate(o Options) *Corpus {
	o.defaults()
	g := &gen{rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x5deece66d)), o: o}
	g.population()
	for day := range o.Days {
		base := o.Start.Add(time.Duration(day) * 24 * time.Hour)
		weekend := base.Weekday() == time.Saturday || base.Weekday() == time.Sunday
		for i := range g.ids {
			g.day(&g.ids[i], base, weekend)
		}
		if day >= 7 {
			for range o.AttacksPerDay {
				g.attack(base.Add(time.Duration(7+g.rng.IntN(14))*time.Hour + time.Duration(g.rng.IntN(3600))*time.Second))
			}
		}
	}
	slices.SortStableFunc(g.out, func(a, b corpus.Record) int { return a.Time.Compare(b.Time) })
	ids := make([]Identity, len(g.ids))
	for i, id := range g.ids {
		ids[i] = id.Identity
	}
	return &Corpus{Records: g.out, Attacks: g.attacks, Identities: ids}
}

type gen struct {
	rng     *rand.Rand
	o       Options
	ids     []identity
	out     []corpus.Record
	attacks []Attack
	seq     int
	nattack int
}

// uuid returns a fresh, deterministic, UUID-shaped id.
func (g *gen) uuid() string {
	g.seq++
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", g.rng.Uint32(), g.rng.IntN(1<<16), g.rng.IntN(1<<12), g.rng.IntN(1<<12), g.seq)
}

// upper returns n random upper-case letters and digits, as AWS ids hold.
func (g *gen) upper(n int) string {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alpha[g.rng.IntN(len(alpha))]
	}
	return string(b)
}

func (g *gen) emit(t time.Time, r map[string]any) string {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // plain maps of strings, numbers and bools: cannot fail
	}
	g.out = append(g.out, corpus.Record{Time: t.Truncate(time.Second), JSON: b}) // eventTime has whole seconds
	return r["eventID"].(string)
}

// jitter returns a duration in [0, d).
func (g *gen) jitter(d time.Duration) time.Duration { return time.Duration(g.rng.Int64N(int64(d))) }
