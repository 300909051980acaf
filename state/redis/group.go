package redis

import (
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// group is the operations of one batch on the keys of one hash tag, sent
// as one command: the group script over all of them, or the plain command
// of an operation alone on its tag that needs no script.
type group struct {
	calls  []*call
	args   []any // the command line
	script bool
	cmd    *goredis.Cmd // the last pass's command; nil before the first
	// refreshed are the keys whose TTL the group script sets for sure
	// when their writes succeed (their refresh flag is '0').
	refreshed []string
}

// groupCalls groups the valid calls by the part of their key Redis Cluster
// hashes, keeping queue order within each group and ordering groups by
// their first call.
func (s *Store) groupCalls(calls []call, now time.Time) []*group {
	byTag := make(map[string]*group)
	var groups []*group
	for i := range calls {
		c := &calls[i]
		if !c.valid {
			continue
		}
		tag := hashTag(c.key)
		g := byTag[tag]
		if g == nil {
			g = &group{}
			byTag[tag] = g
			groups = append(groups, g)
		}
		g.calls = append(g.calls, c)
	}
	for _, g := range groups {
		g.build(&s.refresh, now)
	}
	return groups
}

// hashTag returns what Redis Cluster hashes of key: the part between the
// first '{' and the first '}' after it when not empty, else the whole key.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

// build renders the group's command line: EVALSHA of the group script,
// its distinct keys, one flag per key, then each call as its code, the
// indexes of its keys among them, and its arguments. A key's flag is a
// digit: bit 0 set when its TTL was set by this replica within the
// refresh period, by every write on it here; bit 1 set when two or more
// calls name it first, so the script may view it (read it whole once).
// A call's first key index is negative when the script is to settle the
// key first (see settles).
func (g *group) build(r *refreshes, now time.Time) {
	if len(g.calls) == 1 {
		if line := g.calls[0].plain(); line != nil {
			g.args = line
			return
		}
	}
	g.script = true
	index := make(map[string]int)
	var keys []string
	n := 0
	for _, c := range g.calls {
		n += 1 + len(c.keys) + len(c.args)
		for _, k := range c.keys {
			if _, ok := index[k]; !ok {
				keys = append(keys, k)
				index[k] = len(keys)
			}
		}
	}
	flags := make([]byte, len(keys))
	uses := make([]int, len(keys))
	for i := range flags {
		flags[i] = '1'
	}
	for _, c := range g.calls {
		uses[index[c.key]-1]++
		if c.ttl > 0 && !r.fresh(c.key, c.ttl, now) {
			flags[index[c.key]-1] = '0'
		}
		for _, k := range c.keys[1:] {
			flags[index[k]-1] = '0' // the introductions hash: short-lived
		}
	}
	for i, k := range keys {
		if flags[i] == '0' {
			g.refreshed = append(g.refreshed, k)
		}
		if uses[i] >= 2 {
			flags[i] += 2
		}
	}
	settle := g.settles()
	args := make([]any, 0, 4+len(keys)+n)
	args = append(args, "evalsha", groupScript.sha, len(keys))
	for _, k := range keys {
		args = append(args, k)
	}
	args = append(args, string(flags))
	for i, c := range g.calls {
		args = append(args, c.code)
		for j, k := range c.keys {
			if j == 0 && settle[i] {
				args = append(args, -index[k])
				continue
			}
			args = append(args, index[k])
		}
		args = append(args, c.args...)
	}
	g.args = args
}

// settles reports, for each call, whether the script must settle its key
// before running it: write back what an earlier call of another kind left
// pending or cached on the key (a deferred drop, a view, a cached string
// or bucket counts). Calls of one kind share what they cache, so settling
// between them would find nothing to do; the script skips it unless told.
// A key another call names as a secondary key (an introductions hash) is
// settled every time.
func (g *group) settles() []bool {
	kinds := make(map[string]byte, len(g.calls))
	secondary := make(map[string]bool)
	for _, c := range g.calls {
		for _, k := range c.keys[1:] {
			secondary[k] = true
		}
	}
	out := make([]bool, len(g.calls))
	for i, c := range g.calls {
		kind := opKind(c.code)
		prev, seen := kinds[c.key]
		switch {
		case secondary[c.key]:
			out[i] = true
		case seen && prev != kind:
			out[i] = true
			kind = mixedKind
		}
		kinds[c.key] = kind
	}
	return out
}

// mixedKind marks a key that calls of more than one kind worked on.
const mixedKind = 0

// opKind groups the op codes by what the script keeps between them on
// one key: window and novelty operations (a deferred drop, a view),
// bucket operations (a view, cached counts), string reads (a cached
// value) and string writes (nothing).
func opKind(code string) byte {
	switch code {
	case opWindowAdd, opWindowAddRead, opWindowRead, opNovelty:
		return 'w'
	case opBucketAdd, opBucketRead:
		return 'b'
	case opGet, opMark:
		return 'g'
	}
	return 's'
}

// spread hands the group's reply to its calls: each call's own element of
// the script's reply, or the command's error to all of them.
func (g *group) spread() {
	if g.cmd == nil {
		return
	}
	v, err := g.cmd.Result()
	if !g.script {
		g.calls[0].setReply(v, err)
		return
	}
	replies, ok := v.([]any)
	if err == nil && (!ok || len(replies) != len(g.calls)) {
		err = fmt.Errorf("group script: %d replies for %d operations", len(replies), len(g.calls))
	}
	for i, c := range g.calls {
		if err != nil {
			c.setReply(nil, err)
			continue
		}
		var rerr goredis.Error
		if e, isErr := replies[i].(error); isErr && errors.As(e, &rerr) {
			c.setReply(nil, e)
			continue
		}
		c.setReply(replies[i], nil)
	}
}

// recordRefreshes notes the keys whose TTL the group script set: those
// flagged for it whose every write succeeded.
func (g *group) recordRefreshes(r *refreshes, at time.Time) {
	if !g.script || len(g.refreshed) == 0 {
		return
	}
	keys := g.refreshed[:0:0]
	for _, k := range g.refreshed {
		ok := true
		for _, c := range g.calls {
			if c.key == k && (c.ttl == 0 || c.err != nil) {
				ok = false // a read, or a write that failed: maybe no TTL set
			}
		}
		if ok {
			keys = append(keys, k)
		}
	}
	r.record(keys, at)
}
