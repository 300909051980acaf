package engine

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/engine/story"
	"github.com/iamsentry/iamsentry/state"
)

// The story graph in the state store. Every actor (see story.Actors) has
// two windowed sets under the identity "story:<actor>": "links", the actors
// it is chained to ("s:" same chain, "m:" it made or changed, "c:" it was
// made or changed by), and "findings", the story entries of the findings
// its events raised. Both are sets keyed by member, so writing them again
// (a retry, a replica) changes nothing, and the graph after a set of
// records is the same whatever order they came in.
const (
	// StoryWindow is how far apart in event time two findings of one
	// chain may be and still tell one story.
	StoryWindow = 24 * time.Hour
	// StoryLinkTTL is how long a creator stays chained to what it created
	// or changed ("in the last days").
	StoryLinkTTL = 7 * 24 * time.Hour

	storyDepth     = 3   // links followed from a finding's own actors
	storyMaxActors = 48  // actors one story reads at most
	storyHub       = 16  // an actor chained to more is automation or a shared role: not followed through
	storyRoleHub   = 4   // a role someone changed is followed through only while this few chain to it
	storyEntries   = 200 // entries read per actor
	storyEntryTTL  = 3 * StoryWindow
)

func storyKey(tenant, actor, name string) state.Key {
	return state.Key{Tenant: tenant, Identity: "story:" + actor, Name: name}
}

// creations queues, on the first batch, the chain links of a record that
// created or changed identities, and a look at whether either end already
// has findings: if so, the record may join two stories (see storyPass).
// The keys' identities and the links are carved from arena, the batch's
// (a service assuming a role creates a session record after record, and
// each was an allocation).
func (s *scoring) creations(it *item, arena *detectors.Arena) {
	r := it.event.Record
	created := story.Created(r)
	if len(created) == 0 {
		return
	}
	actors := story.Actors(r)
	if len(actors) == 0 {
		return
	}
	creator := actors[0]
	created = slices.DeleteFunc(created, func(a string) bool { return a == creator })
	if len(created) == 0 {
		return
	}
	at := r.EventTime
	var buf [256]byte
	join := func(prefix, s string) string { return arena.String(append(append(buf[:0], prefix...), s...)) }
	key := func(actor, name string) state.Key {
		return state.Key{Tenant: s.tenant, Identity: join("story:", actor), Name: name}
	}
	for _, c := range created {
		s.first.WindowAdd(key(creator, "links"), join("m:", c), at, state.Span{From: at, To: at}, StoryLinkTTL)
		s.first.WindowAdd(key(c, "links"), join("c:", creator), at, state.Span{From: at, To: at}, StoryLinkTTL)
	}
	for _, c := range created[1:] { // a key minted for a user is that user's
		s.first.WindowAdd(key(created[0], "links"), join("s:", c), at, state.Span{From: at, To: at}, StoryLinkTTL)
		s.first.WindowAdd(key(c, "links"), join("s:", created[0]), at, state.Span{From: at, To: at}, StoryLinkTTL)
	}
	span := state.Span{From: at.Add(-StoryWindow), To: at.Add(StoryWindow)}
	it.chained = append(it.chained, s.first.WindowRead(key(creator, "findings"), span, 1))
	for _, a := range created {
		it.chained = append(it.chained, s.first.WindowRead(key(a, "findings"), span, 1))
	}
}

// storyItem is one record's part in the story pass.
type storyItem struct {
	it       *item
	start    []string        // the record's actors and what it created
	chained  bool            // it chained identities one of which has findings
	own      []story.Entry   // entries of its kept findings
	visited  map[string]bool // actors reached
	followed map[string]bool // actors reached whose links were followed through
	entries  []story.Entry   // entries read from the store
	frontier []string        // actors to read next
	reads    []actorRead     // reads in flight
}

// actorRead is the read of one actor's sets.
type actorRead struct {
	actor           string
	links, findings *state.Future[state.Window]
}

// storyItems returns the records that may take part in the story pass:
// those with findings that are not suppressed, and those that chained
// identities one of which has findings. It runs before the throttles are
// read, so that the first step of following their chains rides on the
// throttles' round trip (see settle).
func (s *scoring) storyItems() ([]*storyItem, error) {
	if s.learn {
		return nil, nil
	}
	var out []*storyItem
	for i := range s.items {
		it := &s.items[i]
		if it.copyOf >= 0 || s.verdicts[it.index].Outcome == OutcomeDuplicate && !it.redelivered {
			continue // told when it was first scored
		}
		r := it.event.Record
		if !story.HasActors(r) {
			continue
		}
		chained := false
		for _, f := range it.chained {
			w, err := f.Get()
			if err != nil {
				return nil, fmt.Errorf("reading stories of event %s: %w", r.EventID, err)
			}
			chained = chained || w.Count > 0
		}
		raised := slices.ContainsFunc(it.candidates, func(f detectors.Finding) bool { return f.Suppressed == nil })
		if !raised && (!chained || s.verdicts[it.index].Outcome == OutcomeDuplicate) {
			continue // nothing to tell, or a clean record's redelivery: it told its story the first time
		}
		// Most records tell nothing: their part is built only once they do.
		si := &storyItem{it: it, chained: chained, visited: map[string]bool{}, followed: map[string]bool{}}
		si.start = append(story.Actors(r), story.Created(r)...)
		si.frontier = si.start
		out = append(out, si)
	}
	return out, nil
}

// queueStories queues on b the chain links of the records with findings
// (a principal is its key's, its session's role's, its source identity's)
// and the first step of following every item's chain.
func (s *scoring) queueStories(b *state.Batch, sis []*storyItem) {
	for _, si := range sis {
		if si.chained && len(si.it.candidates) == 0 {
			continue
		}
		actors := story.Actors(si.it.event.Record)
		at := si.it.event.Record.EventTime
		for _, a := range actors[1:] {
			b.WindowAdd(storyKey(s.tenant, actors[0], "links"), "s:"+a, at, state.Span{From: at, To: at}, StoryLinkTTL)
			b.WindowAdd(storyKey(s.tenant, a, "links"), "s:"+actors[0], at, state.Span{From: at, To: at}, StoryLinkTTL)
		}
	}
	s.queueReads(b, sis)
}

// queueReads queues the reads of every item's frontier.
func (s *scoring) queueReads(b *state.Batch, sis []*storyItem) {
	for _, si := range sis {
		at := si.it.event.Record.EventTime
		for _, a := range si.frontier {
			if si.visited[a] || len(si.visited) >= storyMaxActors {
				continue
			}
			si.visited[a] = true
			si.reads = append(si.reads, actorRead{actor: a,
				links:    b.WindowRead(storyKey(s.tenant, a, "links"), state.Span{From: at.Add(-StoryLinkTTL), To: at.Add(StoryLinkTTL)}, storyHub+1),
				findings: b.WindowRead(storyKey(s.tenant, a, "findings"), state.Span{From: at.Add(-StoryWindow), To: at.Add(StoryWindow)}, storyEntries)})
		}
		si.frontier = nil
	}
}

// stories links the kept findings into stories, once the first step of
// every chain was read with the throttles: it follows the chains further
// (one round trip per step, for all items together), builds each story,
// names it on the findings, and puts it on the verdict when it is new to
// the store or this batch changed its severity, stages, identities or what
// it supersedes. The findings' entries are stored with the verdicts (see
// remember).
func (s *scoring) stories(ctx context.Context, sis []*storyItem) error {
	sis = slices.DeleteFunc(sis, func(si *storyItem) bool {
		for j := range si.it.candidates {
			if f := &si.it.candidates[j]; f.Suppressed == nil {
				si.own = append(si.own, story.EntryOf(f))
			}
		}
		return len(si.own) == 0 && !si.chained // its findings lost their throttles
	})
	if len(sis) == 0 {
		return nil
	}
	s.alerting = true // a record chaining identities with findings is not the quiet path
	for depth := 0; ; depth++ {
		for _, si := range sis {
			if err := s.readChain(si); err != nil {
				return err
			}
		}
		if depth == storyDepth {
			break
		}
		var b state.Batch
		s.queueReads(&b, sis)
		if b.Len() == 0 {
			break
		}
		if err := s.e.exec(ctx, s, &b); err != nil {
			return fmt.Errorf("following stories: %w", err)
		}
	}
	s.tell(sis)
	return nil
}

// tell builds the story of every item and decides what to emit.
func (s *scoring) tell(sis []*storyItem) {
	joined := joinBatch(sis)
	emitted := map[string]bool{}
	for i, si := range sis {
		st, ok := story.Build(joined[i])
		if !ok {
			continue
		}
		for j := range si.it.candidates {
			if f := &si.it.candidates[j]; f.Suppressed == nil {
				f.Story = st.ID
			}
		}
		for _, e := range si.own {
			e.Story = st.ID
			si.it.storyEntries = append(si.it.storyEntries, e)
		}
		sig := signature(&st)
		if emitted[sig] {
			continue
		}
		before, had := story.Build(si.entries)
		changed := !had || signature(&before) != sig
		if len(si.own) == 0 {
			changed = len(st.Supersedes) > 0 // chaining alone: emitted when it joins stories
		}
		if changed {
			emitted[sig] = true
			si.it.stories = append(si.it.stories, st)
		}
	}
}

// signature is what, changed, makes a story worth emitting again: its
// name, severity, stages, identities (an attacker moving to a new key or
// role is news) and the stories it supersedes.
func signature(st *story.Story) string {
	stages := make([]string, len(st.Stages))
	for i, g := range st.Stages {
		stages[i] = string(g)
	}
	slices.Sort(stages)
	ids := slices.Sorted(slices.Values(st.Identities))
	return st.ID + "|" + st.Severity.String() + "|" + strings.Join(stages, ",") + "|" + strings.Join(ids, ",") +
		"|" + strings.Join(st.Supersedes, ",")
}

// readChain takes in the reads of one item and sets its next frontier. A
// hub (automation that creates identities by the dozen, a role many
// sessions share) and a role nobody created or changed are reached but not
// followed through: they chain strangers, not one attacker's steps. A role
// someone created or changed is followed through while few sessions and
// changers chain to it: a backdoor role and the sessions of its creator,
// not a role infrastructure code manages and a team assumes. A session is
// named by its role and session name, which callers choose: one that
// several principals opened ("cli", "GitHubActions", a script's fixed
// name) is a name people share, not one actor's step, and is not followed
// through either.
func (s *scoring) readChain(si *storyItem) error {
	for _, rd := range si.reads {
		lw, err := rd.links.Get()
		if err != nil {
			return fmt.Errorf("following stories of %s: %w", rd.actor, err)
		}
		fw, err := rd.findings.Get()
		if err != nil {
			return fmt.Errorf("following stories of %s: %w", rd.actor, err)
		}
		for _, m := range fw.Members {
			e, err := story.DecodeEntry(m)
			if err != nil {
				s.e.opts.Logger.Warn("story entry unreadable; story built without it", slog.String("actor", rd.actor), slog.Any("error", err))
				continue
			}
			si.entries = append(si.entries, e)
		}
		var next []string
		makers := 0
		for _, m := range lw.Members {
			if kind, other, ok := strings.Cut(m, ":"); ok {
				if kind == "c" {
					makers++
				}
				next = append(next, other)
			}
		}
		sharedRole := story.IsRole(rd.actor) && (makers == 0 || lw.Count > storyRoleHub)
		sharedName := story.IsSession(rd.actor) && makers > 1
		if lw.Count <= storyHub && !sharedRole && !sharedName {
			si.followed[rd.actor] = true
			si.frontier = append(si.frontier, next...)
		}
	}
	si.reads = nil
	return nil
}

// joinBatch returns, for each item, the entries of its story: what its
// chain read from the store, its own, and those of the batch's items its
// chain reached (not stored yet: without them two findings of one story
// scored together would not see each other).
func joinBatch(sis []*storyItem) [][]story.Entry {
	out := make([][]story.Entry, len(sis))
	for i, si := range sis {
		out[i] = append(slices.Clip(si.entries), si.own...)
	}
	for changed := true; changed; {
		changed = false
		for i, a := range sis {
			for j, b := range sis {
				if i == j || !reaches(a, b) {
					continue
				}
				for _, e := range out[j] {
					if !containsIncident(out[i], e.Incident) {
						out[i] = append(out[i], e)
						changed = true
					}
				}
			}
		}
	}
	return out
}

// reaches reports whether a's chain reaches b as it would through the
// store once b is stored: a reached b's principal, under which b's entries
// are kept, or followed through one of b's actors, which b's links join to
// its principal. An actor a only reached (a hub, a shared role or session
// name) is no link: two sessions of one shared role in one batch are two
// people, as they are in two batches.
func reaches(a, b *storyItem) bool {
	if a.visited[b.start[0]] {
		return true
	}
	for _, actor := range b.start {
		if a.followed[actor] {
			return true
		}
	}
	return false
}

func containsIncident(es []story.Entry, incident string) bool {
	return slices.ContainsFunc(es, func(e story.Entry) bool { return e.Incident == incident })
}

// queueEntries queues the writes of it's story entries, under its
// principal, for the stories records after it tell.
func (s *scoring) queueEntries(b *state.Batch, it *item) {
	if len(it.storyEntries) == 0 {
		return
	}
	actors := story.Actors(it.event.Record)
	for _, e := range it.storyEntries {
		b.WindowAdd(storyKey(s.tenant, actors[0], "findings"), e.Encode(), e.Time, state.Span{From: e.Time, To: e.Time}, storyEntryTTL)
	}
}
