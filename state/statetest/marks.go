package statetest

import (
	"slices"
	"time"

	"github.com/iamsentry/iamsentry/state"
)

func mark(c *check, k state.Key, at time.Time, keep state.Keep) state.Mark {
	c.t.Helper()
	return one(c, "Mark", func(b *state.Batch) *state.Future[state.Mark] { return b.Mark(k, at, keep, hour) })
}

func readMark(c *check, k state.Key) state.Mark {
	c.t.Helper()
	return one(c, "ReadMark", func(b *state.Batch) *state.Future[state.Mark] { return b.ReadMark(k) })
}

// sameMark compares marks by instant: backends need not keep the location.
func sameMark(a, b state.Mark) bool { return a.Set == b.Set && a.At.Equal(b.At) }

func markRules() group {
	return group{name: "Mark", rules: []rule{
		{"Unset", "a mark never written reads as Set=false, and Mark returns it as the previous mark", markUnset},
		{"KeepLatest", "KeepLatest moves the mark forward only and returns the mark as it was", markKeepLatest},
		{"KeepEarliest", "KeepEarliest moves the mark backward only and returns the mark as it was", markKeepEarliest},
	}}
}

func markUnset(c *check) {
	k := c.key("seq")
	if got := readMark(c, k); got.Set {
		c.errorf("ReadMark of an absent key = %+v, want Set=false", got)
	}
	if got := mark(c, k, base, state.KeepLatest); got.Set {
		c.errorf("first Mark returned %+v, want Set=false", got)
	}
}

// markSequence marks three times in order and checks what each Mark returns
// and where the mark ends up.
func markSequence(c *check, keep state.Keep, times [3]time.Time, wantPrev [3]state.Mark, wantEnd time.Time) {
	c.t.Helper()
	k := c.key("seq")
	for i, at := range times {
		if got := mark(c, k, at, keep); !sameMark(got, wantPrev[i]) {
			c.errorf("Mark %d (%v) returned %+v, want %+v", i, at, got, wantPrev[i])
		}
	}
	if got := readMark(c, k); !sameMark(got, state.Mark{Set: true, At: wantEnd}) {
		c.errorf("ReadMark = %+v, want Set at %v", got, wantEnd)
	}
}

func markKeepLatest(c *check) {
	t1, t2, t3 := base, base.Add(time.Minute), base.Add(2*time.Minute)
	set := func(t time.Time) state.Mark { return state.Mark{Set: true, At: t} }
	markSequence(c, state.KeepLatest, [3]time.Time{t2, t1, t3}, [3]state.Mark{{}, set(t2), set(t2)}, t3)
}

func markKeepEarliest(c *check) {
	t1, t2, t3 := base, base.Add(time.Minute), base.Add(2*time.Minute)
	set := func(t time.Time) state.Mark { return state.Mark{Set: true, At: t} }
	markSequence(c, state.KeepEarliest, [3]time.Time{t2, t3, t1}, [3]state.Mark{{}, set(t2), set(t2)}, t1)
}

func bucketAdd(c *check, k state.Key, m string, at time.Time, w time.Duration, hist int, ttl time.Duration) []int {
	c.t.Helper()
	return one(c, "BucketAdd", func(b *state.Batch) *state.Future[[]int] { return b.BucketAdd(k, m, at, w, hist, ttl) })
}

func bucketRead(c *check, k state.Key, at time.Time, w time.Duration, hist int) []int {
	c.t.Helper()
	return one(c, "BucketRead", func(b *state.Batch) *state.Future[[]int] { return b.BucketRead(k, at, w, hist) })
}

func bucketRules() group {
	return group{name: "Bucket", rules: []rule{
		{"Distinct", "a bucket counts distinct members: the same member twice counts once", bucketDistinct},
		{"History", "History buckets come oldest first and end with the bucket holding At", bucketHistory},
		{"Alignment", "buckets are aligned to multiples of Width since the Unix epoch", bucketAlignment},
		{"OldDropped", "buckets that ended before At-TTL are dropped", bucketOldDropped},
		{"ReadOnly", "BucketRead sees what BucketAdd wrote, and on an absent key sees zeros and creates nothing", bucketReadOnly},
	}}
}

func bucketDistinct(c *check) {
	k, w := c.key("calls"), time.Hour
	bucketAdd(c, k, "evt-1", base, w, 1, 2*hour)
	bucketAdd(c, k, "evt-1", base, w, 1, 2*hour)
	if got := bucketAdd(c, k, "evt-2", base.Add(time.Minute), w, 1, 2*hour); !slices.Equal(got, []int{2}) {
		c.errorf("counts after evt-1 twice and evt-2 = %v, want [2]", got)
	}
}

func bucketHistory(c *check) {
	k, w, ttl := c.key("calls"), time.Hour, 24*hour
	bucketAdd(c, k, "a", base, w, 4, ttl)
	bucketAdd(c, k, "b", base.Add(time.Hour), w, 4, ttl)
	bucketAdd(c, k, "c", base.Add(150*time.Minute), w, 4, ttl)
	got := bucketAdd(c, k, "d", base.Add(170*time.Minute), w, 4, ttl)
	if want := []int{0, 1, 1, 2}; !slices.Equal(got, want) {
		c.errorf("history of 4 hourly buckets = %v, want %v", got, want)
	}
}

func bucketAlignment(c *check) {
	k, w, ttl := c.key("calls"), 7*time.Minute, 24*hour
	start := state.BucketStart(base, w) // base is not a multiple of 7m
	bucketAdd(c, k, "first", start, w, 2, ttl)
	bucketAdd(c, k, "prev", start.Add(-time.Nanosecond), w, 2, ttl)
	got := bucketAdd(c, k, "last", start.Add(w-time.Nanosecond), w, 2, ttl)
	if want := []int{1, 2}; !slices.Equal(got, want) {
		c.errorf("counts of buckets [%v-7m, %v] = %v, want %v", start, start, got, want)
	}
	if got := bucketRead(c, k, start.Add(w), w, 3); !slices.Equal(got, []int{1, 2, 0}) {
		c.errorf("BucketRead one bucket later = %v, want [1 2 0]", got)
	}
}

func bucketOldDropped(c *check) {
	k, w, ttl := c.key("calls"), time.Hour, 2*hour
	bucketAdd(c, k, "old", base, w, 6, ttl)
	late := base.Add(5 * time.Hour)
	if got := bucketAdd(c, k, "new", late, w, 6, ttl); !slices.Equal(got, []int{0, 0, 0, 0, 0, 1}) {
		c.errorf("history after a bucket aged out = %v, want [0 0 0 0 0 1]", got)
	}
	if got := bucketRead(c, k, late, w, 6); !slices.Equal(got, []int{0, 0, 0, 0, 0, 1}) {
		c.errorf("BucketRead after a bucket aged out = %v, want [0 0 0 0 0 1]", got)
	}
}

func bucketReadOnly(c *check) {
	k, w := c.key("calls"), time.Hour
	if got := bucketRead(c, k, base, w, 3); !slices.Equal(got, []int{0, 0, 0}) {
		c.errorf("BucketRead of an absent key = %v, want [0 0 0]", got)
	}
	if got := claim(c, k, "x"); !got.First {
		c.errorf("Claim after BucketRead of an absent key is not First: the read created the key")
	}
	k = c.key("calls2")
	added := bucketAdd(c, k, "a", base, w, 3, 24*hour)
	if got := bucketRead(c, k, base, w, 3); !slices.Equal(got, added) {
		c.errorf("BucketRead = %v, want what BucketAdd returned, %v", got, added)
	}
}

func throttle(c *check, k state.Key, owner string, ttl time.Duration) bool {
	c.t.Helper()
	return one(c, "Throttle", func(b *state.Batch) *state.Future[bool] { return b.Throttle(k, owner, ttl) })
}

func throttleRules() group {
	return group{name: "Throttle", rules: []rule{
		{"OneOwner", "the first owner takes the throttle, others are refused, the owner is let in again", throttleOwner},
	}}
}

func throttleOwner(c *check) {
	k := c.key("alert")
	steps := []struct {
		owner string
		want  bool
	}{{"evt-a", true}, {"evt-b", false}, {"evt-a", true}, {"evt-b", false}}
	for i, s := range steps {
		if got := throttle(c, k, s.owner, hour); got != s.want {
			c.errorf("Throttle %d by %s = %v, want %v", i, s.owner, got, s.want)
		}
	}
}
