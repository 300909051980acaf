// Package statetest is the conformance suite for state.Store backends.
//
// Every backend (the embedded memory store, a real redis-server, Redis
// Cluster) runs the same suite unchanged, so a detector behaves the same
// whichever backend a deployment picks. Like testing/slogtest, each rule is
// a subtest and every failure message names the rule that broke.
//
// The suite only writes keys it made up itself: each subtest uses its own
// tenant and identity (derived from the test name plus a random suffix), so
// it may run against a shared, long-lived backend without subtests leaking
// state into each other.
//
// A backend's test runs it like this:
//
//	func TestConformance(t *testing.T) {
//		statetest.Run(t, statetest.Harness{
//			New: func(t *testing.T) state.Store {
//				s := memory.New()
//				t.Cleanup(func() { s.Close() })
//				return s
//			},
//		})
//	}
package statetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/state"
)

// Harness tells Run how to reach the backend under test.
type Harness struct {
	// New returns the store one subtest runs against. It is called once per
	// subtest and may hand out the same shared store every time: the suite
	// never calls Close, so New registers any teardown with t.Cleanup.
	New func(t *testing.T) state.Store

	// ExpiryTimeout bounds how long the suite waits, past a key's TTL, for
	// the key to disappear. Zero means 3 seconds. Backends whose expiry is
	// approximate (Redis) may need the slack; the memory store needs none.
	ExpiryTimeout time.Duration
}

// Run checks every rule of the state contract against the store h.New
// returns, one subtest per rule, grouped by operation. Rules that wait for
// wall-clock expiry run in parallel with each other to keep the suite fast.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("statetest: Harness.New is nil")
	}
	if h.ExpiryTimeout <= 0 {
		h.ExpiryTimeout = 3 * time.Second
	}
	for _, g := range groups() {
		t.Run(g.name, func(t *testing.T) {
			for _, r := range g.rules {
				t.Run(r.name, func(t *testing.T) {
					if g.parallel {
						t.Parallel()
					}
					r.check(newCheck(t, h, r))
				})
			}
		})
	}
}

// group is a set of rules about one operation or concern.
type group struct {
	name     string
	parallel bool // the rules sleep on wall-clock time; run them together
	rules    []rule
}

// rule is one sentence of the contract and the check that enforces it.
type rule struct {
	name  string // subtest name
	text  string // the contract, quoted in every failure
	check func(c *check)
}

func groups() []group {
	return []group{
		valueRules(), windowRules(), pairRules(), noveltyRules(), markRules(),
		bucketRules(), throttleRules(), batchRules(),
		concurrencyRules(), expiryRules(),
	}
}

// base is the event time rules build on: event time is CloudTrail time, not
// the wall clock, so a fixed date keeps the rules reproducible.
var base = time.Date(2024, 8, 1, 13, 0, 0, 0, time.UTC)

// hour is a long TTL for rules that must not see wall-clock expiry.
const hour = time.Hour

// check carries what one rule needs: the store, unique key names and
// failure reporting that names the rule.
type check struct {
	t      *testing.T
	h      Harness
	s      state.Store
	rule   rule
	tenant string
	id     string
}

func newCheck(t *testing.T, h Harness, r rule) *check {
	suffix := fmt.Sprintf("%016x", rand.Uint64())
	return &check{
		t:      t,
		h:      h,
		s:      h.New(t),
		rule:   r,
		tenant: "statetest-" + suffix[:8],
		id:     strings.ReplaceAll(t.Name(), "/", ".") + "-" + suffix,
	}
}

// key returns a key unique to this subtest.
func (c *check) key(name string) state.Key {
	return state.Key{Tenant: c.tenant, Identity: c.id, Name: name}
}

// errorf reports a broken rule and lets the rule go on.
func (c *check) errorf(format string, args ...any) {
	c.t.Helper()
	c.t.Errorf("rule broken: %s\n\t%s", c.rule.text, fmt.Sprintf(format, args...))
}

// fatalf reports a broken rule and stops it.
func (c *check) fatalf(format string, args ...any) {
	c.t.Helper()
	c.t.Fatalf("rule broken: %s\n\t%s", c.rule.text, fmt.Sprintf(format, args...))
}

// exec runs b and stops the rule when the store reports an error.
func (c *check) exec(b *state.Batch) {
	c.t.Helper()
	if err := c.tryExec(b); err != nil {
		c.fatalf("Exec: %v", err)
	}
}

// tryExec runs b under a deadline so a hung backend fails instead of hanging.
func (c *check) tryExec(b *state.Batch) error {
	ctx, cancel := context.WithTimeout(c.t.Context(), 10*time.Second)
	defer cancel()
	return c.s.Exec(ctx, b)
}

// get reads a future that must have succeeded.
func get[T any](c *check, what string, f *state.Future[T]) T {
	c.t.Helper()
	v, err := f.Get()
	if err != nil {
		c.fatalf("%s: future error: %v", what, err)
	}
	return v
}

// one queues a single operation, executes it and returns its value.
func one[T any](c *check, what string, queue func(b *state.Batch) *state.Future[T]) T {
	c.t.Helper()
	var b state.Batch
	f := queue(&b)
	c.exec(&b)
	return get(c, what, f)
}

// eventually polls cond until it holds or the expiry timeout (past ttl)
// runs out. Redis expires keys lazily and approximately, so a fixed sleep
// would be either slow or flaky.
func (c *check) eventually(what string, ttl time.Duration, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(ttl + c.h.ExpiryTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			c.fatalf("%s: still not true %v after the TTL", what, c.h.ExpiryTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// span is shorthand for an inclusive span of event time.
func span(from, to time.Time) state.Span { return state.Span{From: from, To: to} }
