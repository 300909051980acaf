package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// Writing records on the record layout: one version-checked script call
// for every identity a batch changed or read (one call per identity on
// Cluster, where identities sit on different slots).

// casScript writes records, each when its first 8 bytes, its version, are
// still the ones the replica computed on. ARGV[1] is how many records the
// call writes; then, per record, seven ARGV: the number of its KEYS, the
// number of them that are old side records, the number that are side
// records to append to, the expected version ("" for a record that does
// not exist), the new bytes ("" leaves the record: a record that did not
// change is only checked), the expiry (Unix ms), and the new version, ""
// unless the new bytes are a segment to APPEND to a record in the log
// format (record.EncodeWrite), whose version SETRANGE then overwrites (with
// the format byte after it, when the segment changes the format: 9 bytes);
// an append leaves the key's expiry when it is "0". Then, per side record to
// append to, two ARGV: the segment and the side record's new expiry, "0"
// to leave it (record.Write's expiry rule: set with headroom, so most
// appends need none).
//
// A record's KEYS are the record itself, the keys of the side records'
// versions its write replaces, deleted on success, the new versions, then
// the side records to append to. Side records (pages, large entries) are
// not passed through the script whole: each version is a key of its own,
// SET in the same pipeline just before the call (a 13 KB value costs Redis
// about 4 µs as a plain SET and 20 µs as a script argument). The script
// refuses to store a record naming one that is missing (a SET that
// failed), and deletes them on a version mismatch, which leaves nothing
// behind but what a crash between the SETs and the call would (orphans
// that expire with their PXAT). Side records need no check of their own:
// only a record whose version check passed names them. What a write did
// to a large entry whose side record is in the side log format is APPENDed
// to it here, after the record's check (record.Side.Append): a few bytes,
// not the entry. A side record to append to that is gone (expired with its
// entry between the replica's read and this call) is answered as a version
// mismatch: the replica reads the record again and finds it gone. A side
// record to append to is checked by its own APPEND, not an EXISTS before
// it (one command less per appended side record, most of the EXISTS at
// one-event batches): APPEND answers the new length, and a length of just
// the segment means the key was missing and APPEND created it. The script
// then UNLINKs it, truncates the side records it appended to before it
// back to their lengths before (SET of their GETRANGE, KEEPTTL: rare, a
// side record vanishes only by eviction or expiry) and refuses, which
// leaves what refusing before any APPEND did; expiries move only once
// every APPEND landed. A side record is never empty, so an empty one read
// as missing is no loss; an empty segment (none is sent) would tell
// nothing and is checked by EXISTS.
//
// It returns per record 1 on success (a number, not a table: the reply of
// every record written, which the client would read into an array of its
// own), {0, the record's current bytes} on a version mismatch, and {2,
// message} when a new side record is missing: records are independent, so
// one's failure does not stop the others'.
//
// The script is written for what Redis spends per call, which at the open
// loop's small batches is most of Redis's CPU (EVALSHA about 127 µs of
// Redis time a call at 5k events/s, the commands inside it a quarter of
// that): a record's work makes no Lua closure (refuse takes its bounds as
// arguments) and no table unless it appends to side records, both garbage
// Lua's collector pays for after every call, and the numbers it passes to
// commands are string constants, which Redis 7.0 would otherwise format
// with snprintf on every call. Written so, a call of 8 records costs Redis
// about a fifth less (see docs/performance.md).
var casScript = newScript("cas", `
local KEYS, ARGV, call = KEYS, ARGV, redis.call
local function refuse(key, from, to)
  for i = from, to do
    call('UNLINK', KEYS[i])
  end
  return {0, call('GET', key)}
end
local function cas(k, last, old, app, expect, send, pxat, nxt, a)
  local key = KEYS[k]
  local new = last - app
  if call('GETRANGE', key, '0', '7') ~= expect then
    return refuse(key, k + 1 + old, new)
  end
  for i = new + 1, last do
    if #ARGV[a + 2 * (i - new - 1)] == 0 and call('EXISTS', KEYS[i]) == 0 then
      return refuse(key, k + 1 + old, new)
    end
  end
  for i = k + 1 + old, new do
    if call('EXISTS', KEYS[i]) == 0 then
      for j = new + 1, last do
        if call('EXISTS', KEYS[j]) == 0 then
          return refuse(key, k + 1 + old, new)
        end
      end
      return {2, 'side record ' .. KEYS[i] .. ' was not stored'}
    end
  end
  if app > 0 then
    local was = {}
    for i = new + 1, last do
      local seg = ARGV[a + 2 * (i - new - 1)]
      local n = call('APPEND', KEYS[i], seg)
      if #seg > 0 and n == #seg then
        call('UNLINK', KEYS[i])
        for j = new + 1, i - 1 do
          if was[j] then
            call('SET', KEYS[j], call('GETRANGE', KEYS[j], '0', tostring(was[j] - 1)), 'KEEPTTL')
          end
        end
        return refuse(key, k + 1 + old, new)
      end
      if #seg > 0 then
        was[i] = n - #seg
      end
    end
    for i = new + 1, last do
      if ARGV[a + 1] ~= '0' then
        call('PEXPIREAT', KEYS[i], ARGV[a + 1])
      end
      a = a + 2
    end
  end
  if nxt ~= '' then
    call('SETRANGE', key, '0', nxt)
    call('APPEND', key, send)
    if pxat ~= '0' then
      call('PEXPIREAT', key, pxat)
    end
  elseif send ~= '' then
    call('SET', key, send, 'PXAT', pxat)
  end
  for i = k + 1, k + old do
    call('UNLINK', KEYS[i])
  end
  return 1
end
local out, k, a = {}, 1, 2
for j = 1, tonumber(ARGV[1]) do
  local n, app = tonumber(ARGV[a]), tonumber(ARGV[a + 2])
  out[j] = cas(k, k + n - 1, tonumber(ARGV[a + 1]), app, ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6], a + 7)
  k, a = k + n, a + 7 + 2 * app
end
return out
`)

// casArgs is how many ARGV casScript takes per record, besides those of
// its side records to append to.
const casArgs = 7

// argBytes is bytes passed to go-redis as a command argument through a
// pointer: go-redis writes an encoding.BinaryMarshaler's bytes (as it does
// a *string or *int64's value), and a pointer boxes without allocating,
// where a []byte's header takes an allocation per argument, a handful per
// record written.
type argBytes []byte

// MarshalBinary returns the bytes, nil as empty.
func (b *argBytes) MarshalBinary() ([]byte, error) { return *b, nil }

// errNoReply is an identity's reply until its call's is handed to it.
var errNoReply = errors.New("no reply to its write")

// maxCASRecords bounds the records of one script call, so that a large
// batch does not hold Redis in one script for long.
const maxCASRecords = 128

// casCall is one call of casScript and the identities it writes.
type casCall struct {
	cmd  *goredis.Cmd
	keys []any
	argv []any
	ids  []*identity
	args []any // the command: evalsha, the SHA, the KEYS and the ARGV
}

// casCalls keeps calls for later batches: four slices a call, made for
// every batch, were a tenth of the store's allocations at one-event
// batches.
var casCalls = sync.Pool{New: func() any { return new(casCall) }}

// newCASCall returns a call with room for n records' KEYS and ARGV
// without side records, which most writes have none of.
func newCASCall(n int) *casCall {
	c := casCalls.Get().(*casCall)
	c.keys = slices.Grow(c.keys[:0], n)
	c.argv = append(slices.Grow(c.argv[:0], 1+casArgs*n), nil)
	c.ids = slices.Grow(c.ids[:0], n)
	return c
}

// release clears what the call refers to, once its reply was handed
// out, and keeps it for a later batch unless a large batch grew it.
func (c *casCall) release() {
	if cap(c.argv) > 1+casArgs*maxCASRecords*2 {
		return
	}
	clear(c.keys)
	clear(c.argv)
	clear(c.ids)
	clear(c.args)
	c.cmd = nil
	casCalls.Put(c)
}

// cas sends the identities' version-checked writes as one pipeline, again
// for those that met NOSCRIPT after loading the script. On standalone and
// Sentinel one call writes up to maxCASRecords identities; on Cluster each
// has its own, on its slot.
func (s *Store) cas(ctx context.Context, ids []*identity) error {
	pending := ids
	for pass := 1; len(pending) > 0; pass++ {
		pipe := s.client.Pipeline()
		var sets []goredis.Cmder
		var calls []*casCall
		var call *casCall
		for i, id := range pending {
			if call == nil || s.opts.Cluster || len(call.ids) == maxCASRecords {
				n := 1
				if !s.opts.Cluster {
					n = min(len(pending)-i, maxCASRecords)
				}
				call = newCASCall(n)
				calls = append(calls, call)
			}
			sets = id.queueCAS(ctx, pipe, sets, call)
		}
		for _, c := range calls {
			c.argv[0] = len(c.ids)
			c.args = append(slices.Grow(c.args[:0], 3+len(c.keys)+len(c.argv)), "evalsha", &casScript.sha, len(c.keys))
			c.args = append(append(c.args, c.keys...), c.argv...)
			c.cmd = goredis.NewCmd(ctx, c.args...)
			c.cmd.SetFirstKeyPos(3)
			_ = pipe.Process(ctx, c.cmd)
		}
		_, execErr := pipe.Exec(ctx)
		var again []*identity
		carried := false
		for _, c := range sets {
			err := c.Err()
			if unavailable(err) {
				return err
			}
			carried = carried || (err != nil && err == execErr)
		}
		for _, c := range calls {
			v, err := c.cmd.Result()
			if unavailable(err) {
				return err
			}
			carried = carried || (err != nil && err == execErr)
			if isNoScript(err) {
				again = append(again, c.ids...)
				continue
			}
			c.hand(v, err)
		}
		for _, c := range calls {
			c.release()
		}
		if execErr != nil && !carried {
			return execErr // the pipeline failed before any command ran
		}
		if len(again) == 0 || pass == maxPasses {
			return nil
		}
		if err := s.loadScripts(ctx, []*script{casScript}); err != nil {
			if unavailable(err) {
				return err
			}
			return nil // the NOSCRIPT errors stay on those identities
		}
		pending = again
	}
	return nil
}

// hand gives each identity of the call its reply, or the call's error.
func (c *casCall) hand(v any, err error) {
	replies, ok := v.([]any)
	if err == nil && (!ok || len(replies) != len(c.ids)) {
		err = fmt.Errorf("unexpected reply %T of %d records", v, len(c.ids))
	}
	for j, id := range c.ids {
		id.reply, id.replyErr = nil, err
		if err == nil {
			id.reply = replies[j]
		}
	}
}

// queueCAS queues on pipe the SETs of the identity's new side records,
// adds its write to call (see casScript), and returns sets with the SETs
// appended.
func (id *identity) queueCAS(ctx context.Context, pipe goredis.Pipeliner, sets []goredis.Cmder, call *casCall) []goredis.Cmder {
	id.reply, id.replyErr = nil, errNoReply // until the call's
	id.expectArg = nil
	if id.cur.exists {
		id.expectArg = id.cur.version[:]
	}
	first := len(call.keys)
	call.keys = append(call.keys, &id.key)
	for _, sd := range id.sides {
		if sd.Old != "" {
			call.keys = append(call.keys, sideKey(id.key, sd.Old))
		}
	}
	old := len(call.keys) - first - 1
	for _, sd := range id.sides {
		if sd.Data == nil || sd.Append {
			continue
		}
		var k any = sideKey(id.key, sd.Suffix) // boxed once for both commands
		set := goredis.NewStatusCmd(ctx, "set", k, sd.Data, "pxat", (sd.Expires+999_999)/1_000_000)
		_ = pipe.Process(ctx, set)
		sets = append(sets, set)
		call.keys = append(call.keys, k)
	}
	app := 0
	for _, sd := range id.sides {
		if sd.Append {
			call.keys = append(call.keys, sideKey(id.key, sd.Suffix))
			app++
		}
	}
	id.sendArg, id.nextArg = id.send, nil
	if id.send != nil && id.append {
		n := copy(id.nextBuf[:], id.next[:])
		if id.format != 0 {
			id.nextBuf[n] = id.format
			n++
		}
		id.nextArg = id.nextBuf[:n]
	}
	// Pointers into the identity, which box without allocating (casArgs).
	call.argv = append(call.argv, len(call.keys)-first, old, app, &id.expectArg, &id.sendArg, &id.pxat, &id.nextArg)
	for _, sd := range id.sides {
		if sd.Append {
			call.argv = append(call.argv, sd.Data, (sd.Expires+999_999)/1_000_000)
		}
	}
	call.ids = append(call.ids, id)
	return sets
}

// settle reads an identity's CAS reply: on success it resolves the
// answers and caches the record; on a conflict it takes the current
// record for the next pass.
func (s *Store) settle(id *identity, now int64) error {
	if id.replyErr != nil {
		return fmt.Errorf("redis: record %s: %w", id.key, id.replyErr)
	}
	if n, ok := id.reply.(int64); ok && n == 1 {
		s.stored(id)
		return nil
	}
	reply, ok := id.reply.([]any)
	if !ok || len(reply) == 0 {
		return fmt.Errorf("redis: record %s: unexpected reply %T", id.key, id.reply)
	}
	switch n, _ := reply[0].(int64); n {
	case 0:
	default:
		msg := "?"
		if len(reply) > 1 {
			msg = fmt.Sprint(reply[1])
		}
		return fmt.Errorf("redis: record %s: %s", id.key, msg)
	}
	if id.guessed {
		id.guessRefused = true
		s.recs.missesFound.Add(1)
	} else {
		s.recs.conflicts.Add(1)
	}
	id.guessed = false
	var cur []byte
	if len(reply) > 1 {
		if str, ok := reply[1].(string); ok {
			cur = []byte(str)
		}
	}
	var err error
	if id.cur, err = decodeRecord(cur, now); err != nil {
		return fmt.Errorf("redis: record %s: %w", id.key, err)
	}
	id.applied = false
	return nil
}

// stored resolves the answers of an identity whose write landed, or whose
// record was found current, and caches its record.
func (s *Store) stored(id *identity) {
	if id.send != nil {
		s.recs.writes.Add(1)
		largest := len(id.send)
		for _, sd := range id.sides {
			if sd.Data == nil {
				continue
			}
			largest = max(largest, len(sd.Data))
			switch {
			case sd.Suffix[0] == 'p' && sd.Append:
				s.recs.pageAppends.Add(1)
				s.recs.pageWrites.Add(1)
			case sd.Suffix[0] == 'p':
				s.recs.pageWrites.Add(1)
			case sd.Append:
				s.recs.sideAppends.Add(1)
				s.recs.sideWrites.Add(1)
			default:
				s.recs.sideWrites.Add(1)
			}
		}
		// The cached record was taken out of the cache for this batch:
		// it is the identity's alone to update.
		id.cur.exists, id.cur.version, id.cur.size = true, id.next, id.cur.rec.Size()
		if int64(largest) > s.recs.largest.Load() {
			s.recs.largest.Store(int64(largest)) // a figure: a lost race is harmless
		}
	} else {
		s.recs.checks.Add(1)
	}
	for i, op := range id.ops {
		id.results[i].Resolve(op)
	}
	id.done = true
	s.recs.keep(id.key, id.cur)
}
