package memory

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/state"
)

// exec runs one operation under its shard's lock and resolves its future.
// *held is the shard whose lock the previous operation left held: a run
// of operations on one shard (a detector's on one identity, the next
// detector's on the same) takes its lock once. exec leaves the lock of
// op's shard held in *held; Exec releases the last one.
func (s *Store) exec(op state.Op, now int64, x *scratch, held **shard) {
	switch o := op.(type) {
	case *state.ClaimOp:
		sh, h := s.hold(&o.Key, x, held)
		o.Result.Resolve(sh.claim(o, h, now, x))
	case *state.PutOp:
		sh, h := s.hold(&o.Key, x, held)
		o.Result.Resolve(sh.put(o, h, now, x))
	case *state.GetOp:
		sh, h := s.hold(&o.Key, x, held)
		o.Result.Resolve(sh.get(o, h, now, x))
	case *state.WindowAddOp:
		sh, h := s.hold(&o.Key, x, held)
		o.Result.Resolve(sh.windowAdd(o, h, now, x))
	case *state.WindowAddReadOp:
		sh, h := s.hold(&o.Key, x, held)
		o.Result.Resolve(sh.windowAddRead(o, h, now, x))
	case *state.WindowPairAddReadOp:
		sh, h := s.hold(&o.Key, x, held)
		o.Result.Resolve(sh.windowPairAddRead(o, h, now, x))
	case *state.WindowReadOp:
		sh, h := s.hold(&o.Key, x, held)
		o.Result.Resolve(sh.windowRead(o, h, now, x))
	case *state.NoveltyAddOp:
		sh, h := s.hold(&o.Key, x, held)
		o.Result.Resolve(sh.noveltyAdd(o, h, now, x))
	case *state.MarkOp:
		sh, h := s.hold(&o.Key, x, held)
		o.Result.Resolve(sh.mark(o, h, now, x))
	case *state.ReadMarkOp:
		sh, h := s.hold(&o.Key, x, held)
		o.Result.Resolve(sh.readMark(o, h, now, x))
	case *state.BucketAddOp:
		sh, h := s.hold(&o.Key, x, held)
		o.Result.Resolve(sh.bucketAdd(o, h, now, x))
	case *state.BucketReadOp:
		sh, h := s.hold(&o.Key, x, held)
		o.Result.Resolve(sh.bucketRead(o, h, now, x))
	case *state.ThrottleOp:
		sh, h := s.hold(&o.Key, x, held)
		o.Result.Resolve(sh.throttle(o, h, now, x))
	default:
		op.Fail(fmt.Errorf("memory: unsupported operation %T", op))
	}
}

// hold returns k's shard, locked, and hashKey(k). *held is the shard
// whose lock the caller holds, if any: it is unlocked unless it is k's,
// and becomes k's.
//
// The shard's hint (see shard.hint) is taken only while the operations
// are on one identity: hold sets the shard's again for an operation on
// the previous one's identity, and drops the hint at any other. Such an
// operation runs on the same shard, whose lock has been held since, so no
// other Exec can have set the hint meanwhile; again is cleared with the
// lock's release.
func (s *Store) hold(k *state.Key, x *scratch, held **shard) (*shard, uint64) {
	h, again := x.last.hash, true
	if !x.last.is(k) { // hash's first test, inlined
		h, again = x.rehash(k)
	}
	sh := s.shard(h)
	if *held != sh {
		if *held != nil {
			(*held).release()
		}
		sh.mu.Lock()
		*held = sh
	}
	sh.again = again
	if !again {
		sh.hint = nil
	}
	return sh, h
}

// checkTTL rejects a write without a positive TTL: it would never expire,
// and Redis refuses it too.
// The error is built apart so that the check inlines into every write.
func checkTTL(k state.Key, ttl time.Duration) error {
	if ttl <= 0 {
		return badTTL(k, ttl)
	}
	return nil
}

func badTTL(k state.Key, ttl time.Duration) error {
	return fmt.Errorf("memory: key %s: TTL %v is not positive", k, ttl)
}

func (sh *shard) claim(o *state.ClaimOp, h uint64, now int64, x *scratch) (state.Claimed, error) {
	if err := checkTTL(o.Key, o.TTL); err != nil {
		return state.Claimed{}, err
	}
	if sh.lookup(&o.Key, h) == nil {
		if c, ok := sh.claimAlone(&o.Key, h, o.Value, now+int64(o.TTL), now, x); ok {
			return c, nil
		}
	}
	g, e, err := sh.live(&o.Key, h, kindValue, now)
	if err != nil {
		return state.Claimed{}, err
	}
	if e != nil {
		return state.Claimed{Prior: bytesOf(e.value)}, nil
	}
	if g == nil {
		one := &single{e: entry{name: strings.Clone(o.Key.Name), kind: kindValue, value: string(o.Value), expires: now + int64(o.TTL)}}
		g = sh.adopt(&o.Key, h, &one.g)
		sh.add(g, &one.e)
		sh.evict(g)
		return state.Claimed{First: true}, nil
	}
	sh.replace(g, &o.Key, h, &entry{name: strings.Clone(o.Key.Name), kind: kindValue, value: string(o.Value), expires: now + int64(o.TTL)})
	return state.Claimed{First: true}, nil
}

func (sh *shard) put(o *state.PutOp, h uint64, now int64, x *scratch) (struct{}, error) {
	if err := checkTTL(o.Key, o.TTL); err != nil {
		return struct{}{}, err
	}
	// Put replaces whatever the key held, as SET does on Redis.
	sh.replace(sh.group(&o.Key, h), &o.Key, h, &entry{name: strings.Clone(o.Key.Name), kind: kindValue, value: string(o.Value), expires: now + int64(o.TTL)})
	return struct{}{}, nil
}

func (sh *shard) get(o *state.GetOp, h uint64, now int64, x *scratch) ([]byte, error) {
	_, e, err := sh.live(&o.Key, h, kindValue, now)
	if err != nil || e == nil {
		return nil, err
	}
	return bytesOf(e.value), nil
}

// windowAdd counts the span with two binary searches: window sets are kept
// sorted by time.
func (sh *shard) windowAdd(o *state.WindowAddOp, h uint64, now int64, x *scratch) (int, error) {
	if err := checkTTL(o.Key, o.TTL); err != nil {
		return 0, err
	}
	w, created, err := sh.upsert(&o.Key, h, kindWindow, now, o.TTL, x)
	if err != nil {
		return 0, err
	}
	e := w.e
	changed := e.addWindowed(o.Member, o.At.UnixNano(), o.TTL)
	lo, hi := e.members.span(o.Count.From.UnixNano(), o.Count.To.UnixNano())
	w.doneIf(created || changed)
	return hi - lo, nil
}

// addWindowed records member at event time at in the window set e and
// drops the members older than at−ttl: what every add to a window does.
// It reports whether e changed.
func (e *entry) addWindowed(member string, at int64, ttl time.Duration) (changed bool) {
	added := e.addMember(member, at)
	trimmed := e.trim(at - int64(ttl))
	return added || trimmed
}

func (sh *shard) windowRead(o *state.WindowReadOp, h uint64, now int64, x *scratch) (state.Window, error) {
	_, e, err := sh.live(&o.Key, h, kindWindow, now)
	if err != nil || e == nil {
		return state.Window{}, err
	}
	return e.window(o.Span, o.Limit, x), nil
}

// windowAddRead is windowAdd then windowRead under one lock.
func (sh *shard) windowAddRead(o *state.WindowAddReadOp, h uint64, now int64, x *scratch) (state.Window, error) {
	if err := checkTTL(o.Key, o.TTL); err != nil {
		return state.Window{}, err
	}
	w, created, err := sh.upsert(&o.Key, h, kindWindow, now, o.TTL, x)
	if err != nil {
		return state.Window{}, err
	}
	changed := w.e.addWindowed(o.Member, o.At.UnixNano(), o.TTL)
	win := w.e.window(o.Span, o.Limit, x)
	w.doneIf(created || changed)
	return win, nil
}

// windowPairAddRead is windowAddRead on each half of a pair, under one
// lookup of the pair's entry.
func (sh *shard) windowPairAddRead(o *state.WindowPairAddReadOp, h uint64, now int64, x *scratch) ([2]state.Window, error) {
	var out [2]state.Window
	if err := checkTTL(o.Key, o.TTL); err != nil {
		return out, err
	}
	w, changed, err := sh.upsert(&o.Key, h, kindWindowPair, now, o.TTL, x)
	if err != nil {
		return out, err
	}
	at := o.At.UnixNano()
	for i, e := range [2]*entry{w.e, w.e.aux.twin} {
		if e.addWindowed(o.Members[i], at, o.TTL) {
			changed = true
		}
		out[i] = e.window(o.Spans[i], o.Limit, x)
	}
	w.doneIf(changed)
	return out, nil
}

// window counts the members whose time lies in span and lists up to limit
// of them, earliest first (ties by member): the order the set keeps.
func (e *entry) window(span state.Span, limit int, x *scratch) state.Window {
	lo, hi := e.members.span(span.From.UnixNano(), span.To.UnixNano())
	w := state.Window{Count: hi - lo}
	if limit <= 0 || hi == lo {
		return w
	}
	src := e.members.few[lo:hi]
	src = src[:min(limit, len(src))]
	dst := x.strings(len(src))
	dst = dst[:len(src)] // one bounds check for the loop, not two a member
	i := 0
	for ; i+4 <= len(src); i += 4 { // four at a time: a sample is up to 45
		d, t := dst[i:i+4:i+4], src[i:i+4:i+4]
		d[0], d[1], d[2], d[3] = t[0].member, t[1].member, t[2].member, t[3].member
	}
	for ; i < len(src); i++ {
		dst[i] = src[i].member
	}
	w.Members = dst
	return w
}

func (sh *shard) noveltyAdd(o *state.NoveltyAddOp, h uint64, now int64, x *scratch) (state.Novelty, error) {
	if err := checkTTL(o.Key, o.TTL); err != nil {
		return state.Novelty{}, err
	}
	w, created, err := sh.upsert(&o.Key, h, kindNovelty, now, o.TTL, x)
	if err != nil {
		return state.Novelty{}, err
	}
	e := w.e
	at := o.At.UnixNano()
	// Forget first: a member last seen before At−TTL counts as new.
	trimmed := e.trim(at - int64(o.TTL))
	// The add finds the member as a look-up would: one search of the set,
	// not two. The size is the set's before the add.
	added := e.addMember(o.Member, at)
	n := state.Novelty{New: added, Size: e.members.len()}
	if added {
		n.Size--
	}
	// Only a new member, a trim or an introduction made or forgotten
	// changes what e costs: most adds are of a member seen before (a
	// principal's known networks), and costing e after each was 1 % of a
	// scan's instructions.
	changed := created || added || trimmed
	if o.Owner != "" {
		if e.forgetIntros(now - int64(state.NoveltyRetryWindow)) {
			changed = true
		}
		if added {
			e.introduce(o.Member, o.Owner, now)
		} else if in := e.introduction(o.Member); in != nil && in.owner == o.Owner {
			n = state.Novelty{New: true, Size: e.members.len() - 1}
		}
	}
	w.doneIf(changed)
	return n, nil
}

func (sh *shard) mark(o *state.MarkOp, h uint64, now int64, x *scratch) (state.Mark, error) {
	if err := checkTTL(o.Key, o.TTL); err != nil {
		return state.Mark{}, err
	}
	w, created, err := sh.upsert(&o.Key, h, kindMark, now, o.TTL, x)
	if err != nil {
		return state.Mark{}, err
	}
	defer w.doneIf(created) // a mark's cost never changes once made
	e := w.e
	at := o.At.UnixNano()
	if created {
		e.mark = at
		return state.Mark{}, nil
	}
	prev := state.Mark{Set: true, At: unixTime(e.mark)}
	if (o.Keep == state.KeepLatest && at > e.mark) || (o.Keep == state.KeepEarliest && at < e.mark) {
		e.mark = at
	}
	return prev, nil
}

func (sh *shard) readMark(o *state.ReadMarkOp, h uint64, now int64, x *scratch) (state.Mark, error) {
	_, e, err := sh.live(&o.Key, h, kindMark, now)
	if err != nil || e == nil {
		return state.Mark{}, err
	}
	return state.Mark{Set: true, At: unixTime(e.mark)}, nil
}

// checkBuckets rejects bucket shapes that name no bucket.
func checkBuckets(k state.Key, width time.Duration, history int) error {
	if width <= 0 || history < 0 {
		return fmt.Errorf("memory: key %s: bucket width %v, history %d: want width > 0, history ≥ 0", k, width, history)
	}
	return nil
}

func (sh *shard) bucketAdd(o *state.BucketAddOp, h uint64, now int64, x *scratch) ([]int, error) {
	if err := cmp.Or(checkTTL(o.Key, o.TTL), checkBuckets(o.Key, o.Width, o.History)); err != nil {
		return nil, err
	}
	ed, _, err := sh.upsert(&o.Key, h, kindBuckets, now, o.TTL, x)
	if err != nil {
		return nil, err
	}
	defer ed.done()
	e := ed.e
	start, w := state.BucketStart(o.At, o.Width).UnixNano(), int64(o.Width)
	e.addToBucket(start, o.Member)
	e.trimBuckets(o.At.UnixNano()-int64(o.TTL), w)
	return e.history(start, w, o.History, x), nil
}

func (sh *shard) bucketRead(o *state.BucketReadOp, h uint64, now int64, x *scratch) ([]int, error) {
	if err := checkBuckets(o.Key, o.Width, o.History); err != nil {
		return nil, err
	}
	_, e, err := sh.live(&o.Key, h, kindBuckets, now)
	if err != nil {
		return nil, err
	}
	return e.history(state.BucketStart(o.At, o.Width).UnixNano(), int64(o.Width), o.History, x), nil
}

// throttle leaves the TTL alone when the owner comes back: a retry must not
// stretch the period, or one noisy key could be throttled forever.
func (sh *shard) throttle(o *state.ThrottleOp, h uint64, now int64, x *scratch) (bool, error) {
	if err := checkTTL(o.Key, o.TTL); err != nil {
		return false, err
	}
	g, e, err := sh.live(&o.Key, h, kindThrottle, now)
	if err != nil || e != nil {
		return e != nil && e.value == o.Owner, err
	}
	sh.replace(g, &o.Key, h, &entry{name: strings.Clone(o.Key.Name), kind: kindThrottle, value: strings.Clone(o.Owner), expires: now + int64(o.TTL)})
	return true, nil
}
