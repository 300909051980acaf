package engine_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/engine/story"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

// Attack stories scored through every built-in detector (default options,
// no GeoIP databases: a new location is a new network prefix, MEDIUM).
// Every stream is generated; addresses are documentation and benchmark
// ranges.

var storyDay0 = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

// user returns a call of user name with key, from ip.
func userCall(source, name string, at time.Time, user, key, ip string) dt.Rec {
	return dt.Base(source, name, at).With("sourceIPAddress", ip).With("userIdentity", map[string]any{
		"type": "IAMUser", "principalId": "AIDA" + strings.ToUpper(user), "arn": "arn:aws:iam::111122223333:user/" + user,
		"accountId": "111122223333", "accessKeyId": key, "userName": user,
	})
}

// habit is user's key used every workday from the office and from home for
// days days: the history that makes a new network new.
func habit(user, key string, days int) []dt.Rec {
	var out []dt.Rec
	for d := range days {
		at := storyDay0.Add(time.Duration(d) * 24 * time.Hour)
		out = append(out,
			userCall("s3.amazonaws.com", "ListBuckets", at, user, key, "203.0.113.10"),
			userCall("s3.amazonaws.com", "ListBuckets", at.Add(11*time.Hour), user, key, fmt.Sprintf("198.51.100.%d", 20+d)))
	}
	return out
}

// attacker is what one stolen key does from ip, starting at t.
type attacker struct {
	user, key, ip string
	t             time.Time
}

func (a attacker) call(source, name string, after time.Duration) dt.Rec {
	return userCall(source, name, a.t.Add(after), a.user, a.key, a.ip).With("userAgent", "python-requests/2.31.0")
}

func (a attacker) iam(name string, after time.Duration, params, resp map[string]any) dt.Rec {
	r := a.call("iam.amazonaws.com", name, after).With("requestParameters", params)
	if resp != nil {
		r = r.With("responseElements", resp)
	}
	return r
}

// takeover is the textbook one: whoami and a listing from a new network,
// then a key the user makes for itself.
func (a attacker) takeover() []dt.Rec {
	return []dt.Rec{
		a.call("sts.amazonaws.com", "GetCallerIdentity", 0),
		a.call("s3.amazonaws.com", "ListBuckets", 40*time.Second),
		a.iam("CreateAccessKey", 3*time.Minute, map[string]any{},
			map[string]any{"accessKey": map[string]any{"userName": a.user, "accessKeyId": "AKIANEW" + strings.ToUpper(a.user), "status": "Active"}}),
	}
}

// backdoor goes on from a takeover: a new user, a key for it, and
// AdministratorAccess on it, then the new key at work.
func (a attacker) backdoor() []dt.Rec {
	newKey := "AKIABACKDOOR" + strings.ToUpper(a.user)
	return append(a.takeover(),
		a.iam("CreateUser", 5*time.Minute, map[string]any{"userName": "svc-" + a.user}, nil),
		a.iam("CreateAccessKey", 6*time.Minute, map[string]any{"userName": "svc-" + a.user},
			map[string]any{"accessKey": map[string]any{"userName": "svc-" + a.user, "accessKeyId": newKey, "status": "Active"}}),
		a.iam("AttachUserPolicy", 7*time.Minute, map[string]any{"userName": "svc-" + a.user, "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}, nil),
		userCall("sts.amazonaws.com", "GetCallerIdentity", a.t.Add(9*time.Minute), "svc-"+a.user, newKey, a.ip),
		userCall("s3.amazonaws.com", "ListBuckets", a.t.Add(9*time.Minute+30*time.Second), "svc-"+a.user, newKey, a.ip),
	)
}

// storyRun is what scoring a stream gave.
type storyRun struct {
	findings []detectors.Finding
	emitted  []story.Story // in emission order
}

func newStoryHarness(t *testing.T, store state.Store) *dt.Harness {
	t.Helper()
	return dt.NewWithStore(t, store, builtin.All()...)
}

// scoreStory scores history, then attack in delivery order, one record a
// batch, and collects the findings and stories of the attack.
func scoreStory(t *testing.T, store state.Store, history, attack []dt.Rec) storyRun {
	t.Helper()
	h := newStoryHarness(t, store)
	for _, v := range h.Stream(history...) {
		if len(v.Findings) > 0 || len(v.Stories) > 0 {
			t.Fatalf("history raised %v", v.Findings)
		}
	}
	var run storyRun
	for _, v := range h.Stream(attack...) {
		for _, f := range v.Findings {
			if f.Suppressed == nil {
				run.findings = append(run.findings, f)
			}
		}
		run.emitted = append(run.emitted, v.Stories...)
	}
	return run
}

// final returns the stories a consumer holds after every emission, in
// emission order: the latest version of each, without those a later one
// superseded.
func (r storyRun) final() map[string]story.Story {
	out := map[string]story.Story{}
	for _, s := range r.emitted {
		for _, old := range s.Supersedes {
			delete(out, old)
		}
		out[s.ID] = s
	}
	return out
}

// storyOf returns the final story finding f belongs to: the story it
// names, or the one that last superseded it; "" when that is not a final
// story.
func (r storyRun) storyOf(f detectors.Finding) string {
	by := map[string]string{}
	for _, s := range r.emitted {
		delete(by, s.ID)
		for _, old := range s.Supersedes {
			by[old] = s.ID
		}
	}
	id := f.Story
	for range len(by) + 1 {
		next, ok := by[id]
		if !ok {
			break
		}
		id = next
	}
	if _, ok := r.final()[id]; !ok {
		return ""
	}
	return id
}

// checkOneStory asserts that the findings form exactly one final story
// that holds them all, and returns it.
func checkOneStory(t *testing.T, run storyRun) story.Story {
	t.Helper()
	final := run.final()
	if len(run.findings) == 0 {
		t.Fatal("the attack raised no finding")
	}
	if len(final) != 1 {
		for _, s := range final {
			t.Logf("story %s %s %v: %v", s.ID, s.Severity, s.Stages, s.Incidents)
		}
		t.Fatalf("%d stories, want 1", len(final))
	}
	for _, s := range final {
		for _, f := range run.findings {
			if got := run.storyOf(f); got != s.ID {
				t.Errorf("finding %s (%s) names story %q (final %q), want %s", f.Incident, f.Severity, f.Story, got, s.ID)
			}
		}
		return s
	}
	return story.Story{}
}

// orders are the delivery orders every scenario runs in: event time, and
// shuffled within the allowed lateness by a few seeds.
func orders(stream []dt.Rec) map[string][]dt.Rec {
	out := map[string][]dt.Rec{"in order": stream}
	for seed := range uint64(4) {
		out[fmt.Sprintf("shuffled %d", seed)] = dt.LateOrder(stream, detectors.AllowedLateness, seed)
	}
	rev := slices.Clone(stream)
	slices.Reverse(rev)
	out["reversed"] = rev
	return out
}

type storeFunc func(testing.TB) state.Store

func memoryStores(tb testing.TB) state.Store {
	s := memory.New()
	tb.Cleanup(func() { s.Close() })
	return s
}

type storyScenario struct {
	name    string
	history []dt.Rec
	attack  []dt.Rec
	check   func(t *testing.T, run storyRun)
}

func storyScenarios() []storyScenario {
	alice := attacker{"alice", "AKIAALICE0000000001", "198.18.7.7", storyDay0.Add(8*24*time.Hour + 5*time.Hour)}
	bob := attacker{"bob", "AKIABOB000000000001", "100.100.9.9", storyDay0.Add(8*24*time.Hour + 5*time.Hour + 2*time.Minute)}
	stranger := attacker{"carol", "AKIACAROL0000000001", "198.18.7.7", storyDay0.Add(8*24*time.Hour + 5*time.Hour)}
	both := append(habit("alice", alice.key, 8), habit("bob", bob.key, 8)...)
	return []storyScenario{
		{"textbook takeover is one HIGH story", habit("alice", alice.key, 8), alice.takeover(), func(t *testing.T, run storyRun) {
			s := checkOneStory(t, run)
			if s.Severity != detectors.SeverityHigh {
				t.Errorf("story is %s, want HIGH: %s", s.Severity, s.Summary)
			}
			if len(s.Stages) < 3 {
				t.Errorf("stages %v, want initial access, discovery and persistence", s.Stages)
			}
		}},
		// The quiet twin: a user never seen before checks who it is and
		// makes itself a key, which is how onboarding looks too. No new
		// location can fire without history, so two LOW stages stay LOW.
		{"whoami and a self-made key on a user with no history is one LOW story", nil, stranger.takeover(), func(t *testing.T, run storyRun) {
			if s := checkOneStory(t, run); s.Severity != detectors.SeverityLow {
				t.Errorf("story is %s, want LOW: %s", s.Severity, s.Summary)
			}
		}},
		{"backdoor user with admin and its key at work is one CRITICAL story", habit("alice", alice.key, 8), alice.backdoor(), func(t *testing.T, run storyRun) {
			s := checkOneStory(t, run)
			if s.Severity != detectors.SeverityCritical {
				t.Errorf("story is %s, want CRITICAL: %s", s.Severity, s.Summary)
			}
			if !slices.Contains(s.Identities, "arn:aws:iam::111122223333:user/alice") {
				t.Errorf("identities %v lack alice", s.Identities)
			}
		}},
		{"stolen key hopping into a role is one story", habit("alice", alice.key, 8), hopStream(alice), func(t *testing.T, run storyRun) {
			s := checkOneStory(t, run)
			if !slices.Contains(s.Identities, "arn:aws:sts::111122223333:assumed-role/ops-admin/hop-alice") {
				t.Errorf("identities %v lack the session", s.Identities)
			}
		}},
		{"backdoor role with admin and its session at work is one CRITICAL story", habit("alice", alice.key, 8), alice.backdoorRole(), func(t *testing.T, run storyRun) {
			s := checkOneStory(t, run)
			if s.Severity != detectors.SeverityCritical {
				t.Errorf("story is %s, want CRITICAL: %s", s.Severity, s.Summary)
			}
			if !slices.ContainsFunc(run.findings, func(f detectors.Finding) bool { return strings.Contains(f.PrincipalARN, "assumed-role/maintenance/") }) {
				t.Error("the backdoor role's session raised nothing: the scenario does not test the role link")
			}
		}},
		{"two attackers hopping into one role are two stories", both, append(hopStream(alice), hopStream(bob)...), func(t *testing.T, run storyRun) {
			if final := run.final(); len(final) != 2 {
				t.Fatalf("%d stories, want 2 (a role they share is no link between them)", len(final))
			}
			if a, b := storyOfUser(run, "alice"), storyOfUser(run, "bob"); a == "" || a == b {
				t.Errorf("alice's story %q and bob's %q must be two", a, b)
			}
		}},
		{"two attackers in one account are two stories", both, append(alice.takeover(), bob.backdoor()...), func(t *testing.T, run storyRun) {
			final := run.final()
			if len(final) != 2 {
				t.Fatalf("%d stories, want 2: %v", len(final), final)
			}
			for _, f := range run.findings {
				if run.storyOf(f) == "" {
					t.Errorf("finding %s is in no story", f.Incident)
				}
			}
			if a, b := storyOfUser(run, "alice"), storyOfUser(run, "bob"); a == b {
				t.Errorf("alice's and bob's findings share story %s", a)
			}
		}},
	}
}

// storyOfUser returns the one story the findings of user's key are in.
func storyOfUser(run storyRun, user string) string {
	id := ""
	for _, f := range run.findings {
		if strings.HasSuffix(f.PrincipalARN, "user/"+user) {
			id = run.storyOf(f)
		}
	}
	return id
}

func runStoryScenarios(t *testing.T, newStore storeFunc) {
	for _, sc := range storyScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			for name, stream := range orders(sc.attack) {
				t.Run(name, func(t *testing.T) {
					sc.check(t, scoreStory(t, newStore(t), sc.history, stream))
				})
			}
		})
	}
}

func TestStoryScenarios(t *testing.T) { runStoryScenarios(t, memoryStores) }

func TestStoryScenariosOnRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	open := rstore.Factory(t)
	runStoryScenarios(t, func(tb testing.TB) state.Store { return open(tb) })
}

func TestStoryScenariosOnRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	c := redistest.StartCluster(t, 3)
	runStoryScenarios(t, func(tb testing.TB) state.Store { return rstore.Open(tb, c.URL(), rstore.Prefix()) })
}

// roleHop is a takeover that goes on through a role: the stolen key
// assumes a role, and the session looks around.
func (a attacker) roleHop() (assume dt.Rec, rest []dt.Rec) {
	name, key := "hop-"+a.user, "ASIAHOP"+strings.ToUpper(a.user)
	session := "arn:aws:sts::111122223333:assumed-role/ops-admin/" + name
	assume = a.call("sts.amazonaws.com", "AssumeRole", 4*time.Minute).
		With("requestParameters", map[string]any{"roleArn": "arn:aws:iam::111122223333:role/ops-admin", "roleSessionName": name}).
		With("responseElements", map[string]any{"credentials": map[string]any{"accessKeyId": key},
			"assumedRoleUser": map[string]any{"arn": session}})
	hop := func(call string, after time.Duration) dt.Rec {
		return dt.Base("sts.amazonaws.com", call, a.t.Add(after)).With("sourceIPAddress", a.ip).AsAssumedRole("ops-admin", name).
			With("userIdentity.accessKeyId", key)
	}
	rest = append(a.takeover(), hop("GetCallerIdentity", 5*time.Minute),
		hop("ListBuckets", 5*time.Minute+20*time.Second).With("eventSource", "s3.amazonaws.com"))
	return assume, rest
}

func hopStream(a attacker) []dt.Rec {
	assume, rest := a.roleHop()
	return append(rest, assume)
}

// backdoorRole goes on from a takeover: a role trusting an outside
// account, AdministratorAccess on it, then a session of it at work.
func (a attacker) backdoorRole() []dt.Rec {
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole"}]}`
	session := func(name string, after time.Duration) dt.Rec {
		return dt.Base("sts.amazonaws.com", name, a.t.Add(after)).With("sourceIPAddress", a.ip).AsAssumedRole("maintenance", "x").
			With("userIdentity.accessKeyId", "ASIAMAINT0000000001")
	}
	return append(a.takeover(),
		a.iam("CreateRole", 5*time.Minute, map[string]any{"roleName": "maintenance", "assumeRolePolicyDocument": trust}, nil),
		a.iam("AttachRolePolicy", 6*time.Minute, map[string]any{"roleName": "maintenance", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}, nil),
		session("GetCallerIdentity", 10*time.Minute),
		session("ListBuckets", 10*time.Minute+30*time.Second).With("eventSource", "s3.amazonaws.com"),
	)
}

// TestLateAssumeRoleJoinsStories delivers the AssumeRole that links a
// stolen key to the session it opened last: the session's findings and the
// key's told two stories until then, and the AssumeRole record, which
// raises nothing itself, hands out the story that joins them.
func TestLateAssumeRoleJoinsStories(t *testing.T) {
	alice := attacker{"alice", "AKIAALICE0000000001", "198.18.7.7", storyDay0.Add(8*24*time.Hour + 5*time.Hour)}
	assume, rest := alice.roleHop()
	for name, newStore := range map[string]storeFunc{"memory": memoryStores} {
		t.Run(name, func(t *testing.T) {
			h := newStoryHarness(t, newStore(t))
			h.Stream(habit("alice", alice.key, 8)...)
			var run storyRun
			for _, v := range h.Stream(rest...) {
				run.findings = append(run.findings, v.Findings...)
				run.emitted = append(run.emitted, v.Stories...)
			}
			if n := len(run.final()); n != 2 {
				t.Fatalf("before the AssumeRole: %d stories, want the key's and the session's", n)
			}
			var published []engine.Verdict
			vs, err := h.Engine.Score(t.Context(), engine.Batch{Records: [][]byte{assume.JSON()}, Publish: func(v []engine.Verdict) { published = v }})
			if err != nil {
				t.Fatal(err)
			}
			if len(vs[0].Findings) != 0 || len(vs[0].Stories) != 1 {
				t.Fatalf("the AssumeRole: %d findings, %d stories; want none and the joined story", len(vs[0].Findings), len(vs[0].Stories))
			}
			if len(published) != 1 || len(published[0].Stories) != 1 {
				t.Errorf("Publish got %v, want the AssumeRole's verdict with its story", published)
			}
			run.emitted = append(run.emitted, vs[0].Stories...)
			published = nil
			again, err := h.Engine.Score(t.Context(), engine.Batch{Records: [][]byte{assume.JSON()}, Publish: func(v []engine.Verdict) { published = v }})
			if err != nil {
				t.Fatal(err)
			}
			if again[0].Outcome != engine.OutcomeDuplicate || len(again[0].Stories) != 0 || published != nil {
				t.Errorf("the redelivered AssumeRole: %s with %d stories, published %v; want a DUPLICATE telling nothing again",
					again[0].Outcome, len(again[0].Stories), published)
			}
			s := checkOneStory(t, run)
			if len(s.Supersedes) == 0 {
				t.Errorf("the joined story %s supersedes nothing", s.ID)
			}
		})
	}
}
