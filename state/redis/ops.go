package redis

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/iamsentry/iamsentry/state"
)

// call is one operation on its way to Redis: the command arguments are
// built once, the command itself once per pass.
type call struct {
	op     state.Op
	key    string
	script *script       // nil: a plain command
	args   []any         // the whole command line
	cmd    goredis.Cmder // the last pass's command; nil before the first
	valid  bool          // validation passed: the call is to be sent
}

// maxExactIndex bounds bucket indexes: beyond 2^53 they are no longer exact
// as sorted-set scores and Lua numbers.
const maxExactIndex = 1 << 53

// plan validates every operation and builds its call. An operation that
// fails validation is resolved at once and gets no command.
func (s *Store) plan(ops []state.Op) []call {
	calls := make([]call, len(ops))
	for i, op := range ops {
		c := &calls[i]
		c.op = op
		if err := s.build(c); err != nil {
			op.Fail(err)
			continue
		}
		c.valid = true
	}
	return calls
}

// build fills c's key and arguments from its operation. Reads and writes
// have builders of their own: a write names the TTL it sets and is refused
// without one, a read sets none.
func (s *Store) build(c *call) error {
	switch o := c.op.(type) {
	case *state.GetOp:
		c.read(s, o.Key, "get")
	case *state.ReadMarkOp:
		c.read(s, o.Key, "get")
	case *state.WindowReadOp:
		c.readScript(s, windowReadScript, o.Key, micros(o.Span.From), micros(o.Span.To), max(o.Limit, 0))
	case *state.BucketReadOp:
		if err := checkBuckets(o.Key, o.At, o.Width, o.History); err != nil {
			return err
		}
		c.readScript(s, bucketReadScript, o.Key, floorDiv(o.At.UnixNano(), int64(o.Width)), o.History)
	default:
		return s.buildWrite(c)
	}
	return nil
}

// buildWrite is build for the operations that write.
func (s *Store) buildWrite(c *call) error {
	switch o := c.op.(type) {
	case *state.ClaimOp:
		return c.write(s, o.Key, o.TTL, "set", o.Value, "px", ms(o.TTL), "nx", "get")
	case *state.PutOp:
		return c.write(s, o.Key, o.TTL, "set", o.Value, "px", ms(o.TTL))
	case *state.ThrottleOp:
		return c.write(s, o.Key, o.TTL, "set", ownerDigest(o.Owner), "px", ms(o.TTL), "nx", "get")
	case *state.WindowAddOp:
		return c.writeScript(s, windowAddScript, o.Key, o.TTL, o.Member, micros(o.At), micros(o.At.Add(-o.TTL)),
			micros(o.Count.From), micros(o.Count.To), ms(o.TTL))
	case *state.WindowAddReadOp:
		return c.writeScript(s, windowAddReadScript, o.Key, o.TTL, o.Member, micros(o.At), micros(o.At.Add(-o.TTL)),
			micros(o.Span.From), micros(o.Span.To), ms(o.TTL), max(o.Limit, 0))
	case *state.NoveltyAddOp:
		owner := ""
		if o.Owner != "" {
			owner = ownerDigest(o.Owner)
		}
		return c.writeScript(s, noveltyAddScript, o.Key, o.TTL, o.Member, micros(o.At), micros(o.At.Add(-o.TTL)), ms(o.TTL),
			owner, ms(state.NoveltyRetryWindow))
	case *state.MarkOp:
		keep := "L"
		if o.Keep == state.KeepEarliest {
			keep = "E"
		}
		return c.writeScript(s, markScript, o.Key, o.TTL, encodeMark(o.At.UnixNano()), keep, ms(o.TTL))
	case *state.BucketAddOp:
		if err := checkBuckets(o.Key, o.At, o.Width, o.History); err != nil {
			return err
		}
		w := int64(o.Width)
		idx := floorDiv(o.At.UnixNano(), w)
		drop := floorDiv(o.At.UnixNano()-int64(o.TTL), w) - 1
		return c.writeScript(s, bucketAddScript, o.Key, o.TTL, idx, bucketEntry(idx, o.Member), drop, ms(o.TTL), o.History)
	default:
		return fmt.Errorf("redis: unsupported operation %T", c.op)
	}
}

// read builds a plain command on k: name, k's Redis key, then args.
func (c *call) read(s *Store, k state.Key, name string, args ...any) {
	c.key, c.script = redisKey(s.prefix, k), nil
	c.args = make([]any, 0, 2+len(args))
	c.args = append(c.args, name, c.key)
	c.args = append(c.args, args...)
}

// readScript builds EVALSHA of sc on the keys it declares for k, with
// argv as its ARGV.
func (c *call) readScript(s *Store, sc *script, k state.Key, argv ...any) {
	c.key, c.script = redisKey(s.prefix, k), sc
	c.args = make([]any, 0, 3+len(sc.keys)+len(argv))
	c.args = append(c.args, "evalsha", sc.sha, len(sc.keys))
	for _, suffix := range sc.keys {
		c.args = append(c.args, c.key+suffix)
	}
	c.args = append(c.args, argv...)
}

// write is read for a command that writes k and sets ttl on it: it is
// refused unless ttl is positive, as every key the store writes expires.
func (c *call) write(s *Store, k state.Key, ttl time.Duration, name string, args ...any) error {
	if err := checkTTL(k, ttl); err != nil {
		return err
	}
	c.read(s, k, name, args...)
	return nil
}

// writeScript is readScript for a script that writes k and sets ttl on
// it, refused as write refuses.
func (c *call) writeScript(s *Store, sc *script, k state.Key, ttl time.Duration, argv ...any) error {
	if err := checkTTL(k, ttl); err != nil {
		return err
	}
	c.readScript(s, sc, k, argv...)
	return nil
}

func (c *call) newCmd(ctx context.Context) goredis.Cmder {
	if c.script != nil {
		cmd := goredis.NewCmd(ctx, c.args...)
		cmd.SetFirstKeyPos(3)
		return cmd
	}
	return goredis.NewStringCmd(ctx, c.args...)
}

// replaySafe reports whether running the operation a second time, after it
// already ran, yields the answer a single run in queue order would have.
func (c *call) replaySafe() bool {
	switch c.op.(type) {
	case *state.ClaimOp, *state.NoveltyAddOp, *state.MarkOp:
		return false
	}
	return true
}

// resolve decodes the command's reply into the operation's future.
func (c *call) resolve() {
	switch o := c.op.(type) {
	case *state.ClaimOp:
		v, err := str(c.cmd)
		o.Result.Resolve(state.Claimed{First: v == nil && err == nil, Prior: v}, err)
	case *state.PutOp:
		_, err := str(c.cmd)
		o.Result.Resolve(struct{}{}, err)
	case *state.GetOp:
		o.Result.Resolve(str(c.cmd))
	case *state.ReadMarkOp:
		v, err := str(c.cmd)
		o.Result.Resolve(decodeMark(v, err))
	case *state.ThrottleOp:
		v, err := str(c.cmd)
		o.Result.Resolve(err == nil && (v == nil || string(v) == ownerDigest(o.Owner)), err)
	case *state.WindowAddOp:
		o.Result.Resolve(integer(c.cmd))
	case *state.WindowReadOp:
		o.Result.Resolve(window(c.cmd))
	case *state.WindowAddReadOp:
		o.Result.Resolve(window(c.cmd))
	case *state.NoveltyAddOp:
		o.Result.Resolve(novelty(c.cmd))
	case *state.MarkOp:
		v, err := scriptBytes(c.cmd)
		o.Result.Resolve(decodeMark(v, err))
	case *state.BucketAddOp, *state.BucketReadOp:
		counts, err := ints(c.cmd)
		if a, ok := o.(*state.BucketAddOp); ok {
			a.Result.Resolve(counts, err)
		} else {
			o.(*state.BucketReadOp).Result.Resolve(counts, err)
		}
	}
}

// str reads a bulk-string reply: nil for a nil reply.
func str(cmd goredis.Cmder) ([]byte, error) {
	v, err := cmd.(*goredis.StringCmd).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, keyError(cmd, err)
	}
	return []byte(v), nil
}

func keyError(cmd goredis.Cmder, err error) error {
	var key any = "?"
	if args := cmd.Args(); len(args) > 1 {
		key = args[1]
		if len(args) > 3 && args[0] == "evalsha" {
			key = args[3]
		}
	}
	return fmt.Errorf("redis: key %v: %w", key, err)
}

func scriptBytes(cmd goredis.Cmder) ([]byte, error) {
	v, err := cmd.(*goredis.Cmd).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, keyError(cmd, err)
	}
	s, ok := v.(string)
	if !ok {
		return nil, keyError(cmd, fmt.Errorf("unexpected reply %T", v))
	}
	return []byte(s), nil
}

func integer(cmd goredis.Cmder) (int, error) {
	v, err := cmd.(*goredis.Cmd).Int64()
	if err != nil {
		return 0, keyError(cmd, err)
	}
	return int(v), nil
}

func ints(cmd goredis.Cmder) ([]int, error) {
	v, err := cmd.(*goredis.Cmd).Slice()
	if err != nil {
		return nil, keyError(cmd, err)
	}
	out := make([]int, len(v))
	for i, x := range v {
		n, ok := x.(int64)
		if !ok {
			return nil, keyError(cmd, fmt.Errorf("unexpected reply element %T", x))
		}
		out[i] = int(n)
	}
	return out, nil
}

func window(cmd goredis.Cmder) (state.Window, error) {
	v, err := cmd.(*goredis.Cmd).Slice()
	if err != nil {
		return state.Window{}, keyError(cmd, err)
	}
	n, ok := v[0].(int64)
	if !ok {
		return state.Window{}, keyError(cmd, fmt.Errorf("unexpected reply element %T", v[0]))
	}
	w := state.Window{Count: int(n)}
	if len(v) > 1 {
		w.Members = make([]string, 0, len(v)-1)
		for _, m := range v[1:] {
			s, _ := m.(string)
			w.Members = append(w.Members, s)
		}
	}
	return w, nil
}

func novelty(cmd goredis.Cmder) (state.Novelty, error) {
	counts, err := ints(cmd)
	if err != nil {
		return state.Novelty{}, err
	}
	if len(counts) != 2 {
		return state.Novelty{}, keyError(cmd, fmt.Errorf("unexpected reply of %d elements", len(counts)))
	}
	return state.Novelty{New: counts[0] == 1, Size: counts[1]}, nil
}

// checkTTL rejects a write without a positive TTL: its key would never
// expire.
func checkTTL(k state.Key, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("redis: key %s: TTL %v is not positive", k, ttl)
	}
	return nil
}

// checkBuckets rejects bucket shapes that name no bucket, and widths so
// narrow that bucket indexes would not be exact.
func checkBuckets(k state.Key, at time.Time, width time.Duration, history int) error {
	if width <= 0 || history < 0 {
		return fmt.Errorf("redis: key %s: bucket width %v, history %d: want width > 0, history ≥ 0", k, width, history)
	}
	if idx := floorDiv(at.UnixNano(), int64(width)); idx >= maxExactIndex || idx <= -maxExactIndex {
		return fmt.Errorf("redis: key %s: bucket width %v is too narrow for time %v: the bucket index exceeds 2^53", k, width, at)
	}
	return nil
}

// ms converts a TTL to whole milliseconds, rounding up: a key never
// expires before its TTL.
func ms(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// micros is event time as sorted-set score: integer microseconds.
func micros(t time.Time) int64 { return t.UnixMicro() }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// encodeMark renders a time as decimal nanoseconds: Redis keeps such a
// string as a plain integer, the smallest string it stores. The mark script
// compares them without converting to Lua numbers, which would round.
func encodeMark(ns int64) string { return strconv.FormatInt(ns, 10) }

func decodeMark(v []byte, err error) (state.Mark, error) {
	if err != nil || v == nil {
		return state.Mark{}, err
	}
	ns, perr := strconv.ParseInt(string(v), 10, 64)
	if perr != nil {
		return state.Mark{}, fmt.Errorf("redis: mark value %q is not a mark", v)
	}
	return state.Mark{Set: true, At: time.Unix(0, ns).UTC()}, nil
}

// bucketEntry is the sorted-set entry of member in bucket idx: the first
// 6 bytes of SHA-256 over both. Bucket members are only ever counted, never
// read back, and are often long (event ids), so a short fixed digest keeps a
// day of buckets small (the memory test holds an identity to 2 KiB); the
// index makes one member in two buckets two entries. Two members of one
// bucket count once only if their digests collide: about n²/2^49 for n
// members, 2·10^-7 in a bucket of 10,000. Counts feed baselines and spikes,
// where that is far below noise.
func bucketEntry(idx int64, member string) string {
	b := make([]byte, 0, binary.MaxVarintLen64+len(member))
	b = append(binary.AppendVarint(b, idx), member...)
	sum := sha256.Sum256(b)
	return string(sum[:6])
}

// ownerDigest is what a throttle key holds: the first 8 bytes of SHA-256 of
// its owner, which is only ever compared, and is often a 36-byte event id.
func ownerDigest(owner string) string {
	sum := sha256.Sum256([]byte(owner))
	return string(sum[:8])
}
