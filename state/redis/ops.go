package redis

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/iamsentry/iamsentry/state"
)

// call is one operation on its way to Redis: its code, keys and arguments
// are built once; its reply arrives with its group's.
type call struct {
	op    state.Op
	key   string        // the operation's Redis key
	keys  []string      // every key it touches: key first
	code  string        // one of the op codes of the group script
	args  []any         // its arguments after its keys
	ttl   time.Duration // the TTL a write sets; 0 for a read
	valid bool          // validation passed: the call is to be sent
	reply any           // its reply; nil for a nil reply
	err   error         // its error, naming its key
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

// build fills c's code, keys and arguments from its operation. Reads and
// writes have builders of their own: a write names the TTL it sets and is
// refused without one, a read sets none.
func (s *Store) build(c *call) error {
	switch o := c.op.(type) {
	case *state.GetOp:
		c.set(s, o.Key, opGet)
	case *state.ReadMarkOp:
		c.set(s, o.Key, opGet)
	case *state.WindowReadOp:
		c.set(s, o.Key, opWindowRead, micros(o.Span.From), micros(o.Span.To), max(o.Limit, 0))
	case *state.BucketReadOp:
		if err := checkBuckets(o.Key, o.At, o.Width, o.History); err != nil {
			return err
		}
		c.set(s, o.Key, opBucketRead, floorDiv(o.At.UnixNano(), int64(o.Width)), o.History)
	default:
		return s.buildWrite(c)
	}
	return nil
}

// buildWrite is build for the operations that write.
func (s *Store) buildWrite(c *call) error {
	switch o := c.op.(type) {
	case *state.ClaimOp:
		return c.write(s, o.Key, o.TTL, opClaim, o.Value, ms(o.TTL))
	case *state.PutOp:
		return c.write(s, o.Key, o.TTL, opPut, o.Value, ms(o.TTL))
	case *state.ThrottleOp:
		return c.write(s, o.Key, o.TTL, opClaim, ownerDigest(o.Owner), ms(o.TTL))
	case *state.WindowAddOp:
		return c.write(s, o.Key, o.TTL, opWindowAdd, o.Member, micros(o.At), micros(o.At.Add(-o.TTL)),
			micros(o.Count.From), micros(o.Count.To), ms(o.TTL))
	case *state.WindowAddReadOp:
		return c.write(s, o.Key, o.TTL, opWindowAddRead, o.Member, micros(o.At), micros(o.At.Add(-o.TTL)),
			micros(o.Span.From), micros(o.Span.To), ms(o.TTL), max(o.Limit, 0))
	case *state.NoveltyAddOp:
		owner := ""
		if o.Owner != "" {
			owner = ownerDigest(o.Owner)
		}
		err := c.write(s, o.Key, o.TTL, opNovelty, o.Member, micros(o.At), micros(o.At.Add(-o.TTL)), ms(o.TTL),
			owner, ms(state.NoveltyRetryWindow))
		c.keys = append(c.keys, c.key+introSuffix)
		return err
	case *state.MarkOp:
		keep := "L"
		if o.Keep == state.KeepEarliest {
			keep = "E"
		}
		return c.write(s, o.Key, o.TTL, opMark, encodeMark(o.At.UnixNano()), keep, ms(o.TTL))
	case *state.BucketAddOp:
		if err := checkBuckets(o.Key, o.At, o.Width, o.History); err != nil {
			return err
		}
		w := int64(o.Width)
		idx := floorDiv(o.At.UnixNano(), w)
		drop := floorDiv(o.At.UnixNano()-int64(o.TTL), w) - 1
		return c.write(s, o.Key, o.TTL, opBucketAdd, idx, bucketEntry(idx, o.Member), drop, ms(o.TTL), o.History)
	}
	return fmt.Errorf("redis: unsupported operation %T", c.op)
}

// introSuffix names the hash beside a novelty set that remembers which
// owner introduced each recent member.
const introSuffix = ":intro"

// write is set for an operation that writes k and sets ttl on it: it is
// refused unless ttl is positive, as every key the store writes expires.
func (c *call) write(s *Store, k state.Key, ttl time.Duration, code string, args ...any) error {
	if err := checkTTL(k, ttl); err != nil {
		return err
	}
	c.set(s, k, code, args...)
	c.ttl = ttl
	return nil
}

// set fills c for operation code on k with args.
func (c *call) set(s *Store, k state.Key, code string, args ...any) {
	c.key = redisKey(s.prefix, k)
	c.keys = []string{c.key}
	c.code = code
	c.args = args
}

// plain returns the command line that runs c alone without a script, or
// nil when c needs one.
func (c *call) plain() []any {
	switch c.code {
	case opGet:
		return []any{"get", c.key}
	case opPut:
		return []any{"set", c.key, c.args[0], "px", c.args[1]}
	case opClaim:
		return []any{"set", c.key, c.args[0], "px", c.args[1], "nx", "get"}
	}
	return nil
}

// setReply records what the server answered for c.
func (c *call) setReply(v any, err error) {
	if errors.Is(err, goredis.Nil) {
		v, err = nil, nil
	}
	if err != nil {
		err = fmt.Errorf("redis: key %s: %w", c.key, err)
	}
	c.reply, c.err = v, err
}

// resolve decodes the reply into the operation's future.
func (c *call) resolve() {
	switch o := c.op.(type) {
	case *state.ClaimOp:
		v, err := c.bytes()
		o.Result.Resolve(state.Claimed{First: v == nil && err == nil, Prior: v}, err)
	case *state.PutOp:
		_, err := c.bytes()
		o.Result.Resolve(struct{}{}, err)
	case *state.GetOp:
		o.Result.Resolve(c.bytes())
	case *state.ReadMarkOp:
		o.Result.Resolve(decodeMark(c.bytes()))
	case *state.ThrottleOp:
		v, err := c.bytes()
		o.Result.Resolve(err == nil && (v == nil || string(v) == ownerDigest(o.Owner)), err)
	case *state.WindowAddOp:
		o.Result.Resolve(c.integer())
	case *state.WindowReadOp:
		o.Result.Resolve(c.window())
	case *state.WindowAddReadOp:
		o.Result.Resolve(c.window())
	case *state.NoveltyAddOp:
		o.Result.Resolve(c.novelty())
	case *state.MarkOp:
		o.Result.Resolve(decodeMark(c.bytes()))
	case *state.BucketAddOp:
		o.Result.Resolve(c.ints())
	case *state.BucketReadOp:
		o.Result.Resolve(c.ints())
	}
}

func (c *call) fail(err error) error { return fmt.Errorf("redis: key %s: %w", c.key, err) }

// bytes reads a string reply: nil for a nil reply.
func (c *call) bytes() ([]byte, error) {
	if c.err != nil || c.reply == nil {
		return nil, c.err
	}
	s, ok := c.reply.(string)
	if !ok {
		return nil, c.fail(fmt.Errorf("unexpected reply %T", c.reply))
	}
	return []byte(s), nil
}

func (c *call) integer() (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, ok := c.reply.(int64)
	if !ok {
		return 0, c.fail(fmt.Errorf("unexpected reply %T", c.reply))
	}
	return int(n), nil
}

func (c *call) slice() ([]any, error) {
	if c.err != nil {
		return nil, c.err
	}
	v, ok := c.reply.([]any)
	if !ok || len(v) == 0 {
		return nil, c.fail(fmt.Errorf("unexpected reply %T", c.reply))
	}
	return v, nil
}

func (c *call) ints() ([]int, error) {
	if c.err != nil {
		return nil, c.err
	}
	v, ok := c.reply.([]any)
	if !ok {
		return nil, c.fail(fmt.Errorf("unexpected reply %T", c.reply))
	}
	out := make([]int, len(v))
	for i, x := range v {
		n, ok := x.(int64)
		if !ok {
			return nil, c.fail(fmt.Errorf("unexpected reply element %T", x))
		}
		out[i] = int(n)
	}
	return out, nil
}

func (c *call) window() (state.Window, error) {
	v, err := c.slice()
	if err != nil {
		return state.Window{}, err
	}
	n, ok := v[0].(int64)
	if !ok {
		return state.Window{}, c.fail(fmt.Errorf("unexpected reply element %T", v[0]))
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

func (c *call) novelty() (state.Novelty, error) {
	counts, err := c.ints()
	if err != nil {
		return state.Novelty{}, err
	}
	if len(counts) != 2 {
		return state.Novelty{}, c.fail(fmt.Errorf("unexpected reply of %d elements", len(counts)))
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
