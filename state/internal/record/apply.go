package record

import (
	"cmp"
	"fmt"
	"time"

	"github.com/iamsentry/iamsentry/state"
)

// Result is an operation's answer, computed by Apply and handed to the
// operation's future by Resolve once the record it came from is stored:
// an answer from a write that did not land must never be seen.
type Result struct {
	claimed state.Claimed
	bytes   []byte
	n       int
	window  state.Window
	novelty state.Novelty
	mark    state.Mark
	ints    []int
	ok      bool
	err     error
}

// Err returns the error the operation met, if any.
func (r *Result) Err() error { return r.err }

// Resolve resolves op's future with r. op must be the operation r was
// computed for.
func (r *Result) Resolve(op state.Op) {
	switch o := op.(type) {
	case *state.ClaimOp:
		o.Result.Resolve(r.claimed, r.err)
	case *state.PutOp:
		o.Result.Resolve(struct{}{}, r.err)
	case *state.GetOp:
		o.Result.Resolve(r.bytes, r.err)
	case *state.WindowAddOp:
		o.Result.Resolve(r.n, r.err)
	case *state.WindowAddReadOp:
		o.Result.Resolve(r.window, r.err)
	case *state.WindowReadOp:
		o.Result.Resolve(r.window, r.err)
	case *state.NoveltyAddOp:
		o.Result.Resolve(r.novelty, r.err)
	case *state.MarkOp:
		o.Result.Resolve(r.mark, r.err)
	case *state.ReadMarkOp:
		o.Result.Resolve(r.mark, r.err)
	case *state.BucketAddOp:
		o.Result.Resolve(r.ints, r.err)
	case *state.BucketReadOp:
		o.Result.Resolve(r.ints, r.err)
	case *state.ThrottleOp:
		o.Result.Resolve(r.ok, r.err)
	default:
		op.Fail(fmt.Errorf("redis: unsupported operation %T", op))
	}
}

// Apply runs op on r at wall-clock time now (Unix ns) and returns its
// answer, and whether r changed (a write that must be stored). An error
// specific to the operation (a bad TTL, a name holding another kind) is in
// the answer and changes nothing.
func (r *Record) Apply(op state.Op, now int64) (res Result, changed bool) {
	changed = r.ApplyNamed(op, nameDigest(op), now, &res)
	return res, changed
}

// ApplyNamed is Apply for a caller that holds the digest of op's key name
// (Digest), as Names returns it: the name is digested once per operation
// and batch, not at every step. It sets the answer in *res, which must be
// zero: a store keeps a batch's answers in one slice, and an answer is
// too large to copy out of every call.
func (r *Record) ApplyNamed(op state.Op, name uint64, now int64, res *Result) (changed bool) {
	r.op, r.sized = named{s: op.Target().Name, d: name}, false
	changed = r.apply(op, now, res)
	r.op = named{} // pin no caller's string
	return changed
}

func (r *Record) apply(op state.Op, now int64, res *Result) (changed bool) {
	if _, err := r.ready(op.Target()); err != nil {
		res.err = err
		return false
	}
	var err error
	switch o := op.(type) {
	case *state.ClaimOp:
		res.claimed, changed, err = r.claim(o, now)
	case *state.PutOp:
		if err = checkTTL(o.Key, o.TTL); err == nil {
			e := r.put(r.digest(o.Key.Name), kindValue)
			e.value, e.expires, changed = append([]byte{}, o.Value...), now+int64(o.TTL), true
		}
	case *state.GetOp:
		var e *entry
		if e, err = r.live(o.Key, r.digest(o.Key.Name), kindValue, now); e != nil {
			res.bytes = append([]byte{}, e.value...)
		}
	case *state.WindowAddOp:
		var w state.Window
		w, changed, err = r.windowAdd(o.Key, o.Member, o.At, o.Count, 0, o.TTL, now)
		res.n = w.Count
	case *state.WindowAddReadOp:
		res.window, changed, err = r.windowAdd(o.Key, o.Member, o.At, o.Span, o.Limit, o.TTL, now)
	case *state.WindowReadOp:
		var e *entry
		if e, err = r.live(o.Key, r.digest(o.Key.Name), kindWindow, now); err == nil {
			res.window = e.windowOf(o.Span, o.Limit)
		}
	case *state.NoveltyAddOp:
		res.novelty, changed, err = r.noveltyAdd(o, now)
	case *state.MarkOp:
		res.mark, changed, err = r.markAt(o, now)
	case *state.ReadMarkOp:
		var e *entry
		if e, err = r.live(o.Key, r.digest(o.Key.Name), kindMark, now); e != nil {
			res.mark = state.Mark{Set: true, At: time.Unix(0, e.mark).UTC()}
		}
	default:
		return r.applyMore(op, now, res)
	}
	res.err = err
	return changed
}

// applyMore is apply for buckets and throttles.
func (r *Record) applyMore(op state.Op, now int64, res *Result) (changed bool) {
	var err error
	switch o := op.(type) {
	case *state.BucketAddOp:
		res.ints, changed, err = r.bucketAdd(o, now)
	case *state.BucketReadOp:
		if err = checkBuckets(o.Key, o.Width, o.History); err == nil {
			var e *entry
			if e, err = r.live(o.Key, r.digest(o.Key.Name), kindBuckets, now); err == nil {
				res.ints = e.history(state.BucketStart(o.At, o.Width).UnixNano(), int64(o.Width), o.History)
			}
		}
	case *state.ThrottleOp:
		res.ok, changed, err = r.throttle(o, now)
	default:
		err = fmt.Errorf("redis: unsupported operation %T", op)
	}
	res.err = err
	return changed
}

// checkTTL rejects a write without a positive TTL: it would never expire.
func checkTTL(k state.Key, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("redis: key %s: TTL %v is not positive", k, ttl)
	}
	return nil
}

// checkBuckets rejects bucket shapes that name no bucket.
func checkBuckets(k state.Key, width time.Duration, history int) error {
	if width <= 0 || history < 0 {
		return fmt.Errorf("redis: key %s: bucket width %v, history %d: want width > 0, history ≥ 0", k, width, history)
	}
	return nil
}

func (r *Record) claim(o *state.ClaimOp, now int64) (state.Claimed, bool, error) {
	if err := checkTTL(o.Key, o.TTL); err != nil {
		return state.Claimed{}, false, err
	}
	name := r.digest(o.Key.Name)
	e, err := r.live(o.Key, name, kindValue, now)
	if err != nil {
		return state.Claimed{}, false, err
	}
	if e != nil {
		return state.Claimed{Prior: append([]byte{}, e.value...)}, false, nil
	}
	e = r.put(name, kindValue)
	e.value, e.expires = append([]byte{}, o.Value...), now+int64(o.TTL)
	return state.Claimed{First: true}, true, nil
}

func (r *Record) windowAdd(k state.Key, member string, at time.Time, sp state.Span, limit int, ttl time.Duration, now int64) (state.Window, bool, error) {
	if err := checkTTL(k, ttl); err != nil {
		return state.Window{}, false, err
	}
	e, _, err := r.upsert(k, kindWindow, now, ttl)
	if err != nil {
		return state.Window{}, false, err
	}
	ns := at.UnixNano()
	changed := e.addWindow(member, ns)
	if changed {
		e.noteWindowAdd(member, ns)
	}
	if cutoff := ns - int64(ttl); e.trimWindow(cutoff) {
		e.noteCutoff(opWindowTrim, cutoff)
		changed = true
	}
	return e.windowOf(sp, limit), r.refresh(e, changed, now, ttl), nil
}

func (r *Record) noveltyAdd(o *state.NoveltyAddOp, now int64) (state.Novelty, bool, error) {
	if err := checkTTL(o.Key, o.TTL); err != nil {
		return state.Novelty{}, false, err
	}
	e, _, err := r.upsert(o.Key, kindNovelty, now, o.TTL)
	if err != nil {
		return state.Novelty{}, false, err
	}
	at := o.At.UnixNano()
	// Forget first: a member last seen before At−TTL counts as new.
	cutoff := at - int64(o.TTL)
	changed := e.trimNovelty(cutoff)
	if changed {
		e.noteCutoff(opNoveltyTrim, cutoff)
	}
	member := memoDigest(o.Member)
	i := e.novel(member)
	n := state.Novelty{New: i < 0, Size: len(e.novelty)}
	switch {
	case i < 0:
		e.novelty = append(e.novelty, seen{member: member, at: at})
		e.noteSeen(member, at)
		changed = true
	case at > e.novelty[i].at:
		e.novelty[i].at, changed = at, true
		e.noteSeen(member, at)
	}
	if o.Owner != "" {
		if cutoff := now - int64(state.NoveltyRetryWindow); e.forgetIntros(cutoff) {
			e.noteCutoff(opIntrosTrim, cutoff)
			changed = true
		}
		owner := Digest(o.Owner)
		if i < 0 {
			in := intro{member: member, owner: owner, when: now}
			e.setIntro(in)
			e.noteIntro(in)
		} else if in := e.introduction(member); in != nil && in.owner == owner {
			n = state.Novelty{New: true, Size: len(e.novelty) - 1}
		}
	}
	return n, r.refresh(e, changed, now, o.TTL), nil
}

func (r *Record) markAt(o *state.MarkOp, now int64) (state.Mark, bool, error) {
	if err := checkTTL(o.Key, o.TTL); err != nil {
		return state.Mark{}, false, err
	}
	e, created, err := r.upsert(o.Key, kindMark, now, o.TTL)
	if err != nil {
		return state.Mark{}, false, err
	}
	at := o.At.UnixNano()
	if created {
		e.mark = at
		return state.Mark{}, r.refresh(e, true, now, o.TTL), nil
	}
	prev := state.Mark{Set: true, At: time.Unix(0, e.mark).UTC()}
	changed := false
	if (o.Keep == state.KeepLatest && at > e.mark) || (o.Keep == state.KeepEarliest && at < e.mark) {
		e.mark, changed = at, true
	}
	return prev, r.refresh(e, changed, now, o.TTL), nil
}

func (r *Record) bucketAdd(o *state.BucketAddOp, now int64) ([]int, bool, error) {
	if err := cmp.Or(checkTTL(o.Key, o.TTL), checkBuckets(o.Key, o.Width, o.History)); err != nil {
		return nil, false, err
	}
	e, _, err := r.upsert(o.Key, kindBuckets, now, o.TTL)
	if err != nil {
		return nil, false, err
	}
	start, w := state.BucketStart(o.At, o.Width).UnixNano(), int64(o.Width)
	d := bucketKey(o.Member)
	changed := e.addDigest(start, d)
	if changed {
		e.noteBucketAdd(start, d)
	}
	if cutoff := o.At.UnixNano() - int64(o.TTL); e.trimBuckets(cutoff, w) {
		e.noteBucketTrim(cutoff, w)
		changed = true
	}
	return e.history(start, w, o.History), r.refresh(e, changed, now, o.TTL), nil
}

// throttle leaves the TTL alone when the owner comes back: a retry must
// not stretch the period.
func (r *Record) throttle(o *state.ThrottleOp, now int64) (ok, changed bool, err error) {
	if err := checkTTL(o.Key, o.TTL); err != nil {
		return false, false, err
	}
	name := r.digest(o.Key.Name)
	e, err := r.live(o.Key, name, kindThrottle, now)
	if err != nil {
		return false, false, err
	}
	owner := digestBytes(o.Owner)
	if e != nil {
		return string(e.value) == string(owner), false, nil
	}
	e = r.put(name, kindThrottle)
	e.value, e.expires = owner, now+int64(o.TTL)
	return true, true, nil
}

func digestBytes(s string) []byte {
	var b [8]byte
	d := Digest(s)
	for i := range b {
		b[i] = byte(d >> (56 - 8*i))
	}
	return b[:]
}
