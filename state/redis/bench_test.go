package redis_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/state"
)

// Shape of a realistic micro-batch: 128 CloudTrail events of 32 identities,
// each deduplicated by event id and fed to an enumeration window, a novelty
// set and, in turn, an hourly bucket, a sequence mark or a throttle: 512 ops.
const (
	benchEvents     = 128
	benchIdentities = 32
)

var (
	benchActions   = []string{"iam:ListUsers", "iam:ListRoles", "s3:ListBuckets", "ec2:DescribeInstances", "sts:GetCallerIdentity"}
	benchCountries = []string{"DE", "US", "FR", "NL", "IE", "JP", "BR"}
	benchVerdict   = []byte(`{"verdict":"clean","findings":[]}`)
)

func eventID(e int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", e, e*7919) }

// benchBatch queues the ops of events [first, first+benchEvents).
func benchBatch(first int) *state.Batch {
	b := new(state.Batch)
	for e := first; e < first+benchEvents; e++ {
		at := base.Add(time.Duration(e) * 100 * time.Millisecond)
		id := "AKIA" + strconv.Itoa(1e15+e%benchIdentities)
		k := func(n string) state.Key { return state.Key{Tenant: "acme", Identity: id, Name: n} }
		evt := eventID(e)
		b.Claim(state.Key{Tenant: "acme", Identity: evt, Name: "dedupe"}, benchVerdict, time.Hour)
		b.WindowAdd(k("enum:actions"), benchActions[e%len(benchActions)], at, state.Span{From: at.Add(-10 * time.Minute), To: at}, time.Hour)
		b.NoveltyAdd(k("novel:country"), benchCountries[e%len(benchCountries)], at, 30*24*time.Hour)
		switch e % 3 {
		case 0:
			b.BucketAdd(k("calls:hourly"), evt, at, time.Hour, 24, 25*time.Hour)
		case 1:
			b.Mark(k("seq:gci"), at, state.KeepLatest, time.Hour)
		case 2:
			b.Throttle(k("throttle:enum"), evt, time.Hour)
		}
	}
	return b
}

// BenchmarkExec measures one 512-op micro-batch against a real
// redis-server on loopback: one pipeline round trip plus the server's work.
// It reports the commands an event costs the server, those that scripts
// run included (cmds/event), and those it costs the pipeline (sent/event).
func BenchmarkExec(b *testing.B) {
	srv := redistest.StartServer(b)
	s := newStore(b, srv.URL())
	var h pipelineCounter
	s.Client().AddHook(&h)
	ctx := context.Background()
	b.ReportAllocs()
	before := serverCalls(b, srv.Client())
	n := 0
	for b.Loop() {
		b.StopTimer()
		batch := benchBatch(n * benchEvents)
		b.StartTimer()
		if err := s.Exec(ctx, batch); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.StopTimer()
	events := float64(n * benchEvents)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/(events*4), "ns/state-op")
	b.ReportMetric(float64(serverCalls(b, srv.Client())-before)/events, "cmds/event")
	b.ReportMetric(float64(h.cmdsInPipelines.Load()+h.commands.Load())/events, "sent/event")
}

// serverCalls is how many commands the server has run, those scripts ran
// included, less the INFO commands that ask it.
func serverCalls(t testing.TB, c *goredis.Client) int64 {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for line := range strings.SplitSeq(info, "\r\n") {
		name, stats, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":calls=")
		if !ok || name == "info" {
			continue
		}
		calls, _, _ := strings.Cut(stats, ",")
		n, err := strconv.ParseInt(calls, 10, 64)
		if err != nil {
			t.Fatalf("INFO commandstats line %q: %v", line, err)
		}
		total += n
	}
	return total
}

// The state one active identity holds, as detectors use it: an enumeration
// window of 20 members, a novelty set of 10, two marks (a sequence step and
// a first-seen time), a day of hourly call buckets holding two event ids
// each, and a throttle. Names and identities are as long as real ones.
const (
	memIdentities    = 1000
	memWindowSize    = 20
	memNoveltySize   = 10
	memHours         = 24
	memEventsPerHour = 2
)

// identityState writes the state of identity i.
func identityState(i int) *state.Batch {
	b := new(state.Batch)
	id := "AKIA" + strconv.Itoa(1e15+i)
	k := func(n string) state.Key { return state.Key{Tenant: "acme", Identity: id, Name: n} }
	end := base.Add(memHours * time.Hour)
	win := state.Span{From: end.Add(-time.Hour), To: end}
	for m := range memWindowSize {
		b.WindowAdd(k("enum:actions"), fmt.Sprintf("iam:List%02d", m), end.Add(-time.Duration(m)*time.Minute), win, 2*time.Hour)
	}
	for m := range memNoveltySize {
		// As detectors add: by the event, so a retry stays New.
		b.NoveltyAddBy(k("novel:asn"), fmt.Sprintf("AS%d", 16509+m), eventID(i*1000+m), end, 30*24*time.Hour)
	}
	b.Mark(k("seq:gci"), end, state.KeepLatest, time.Hour)
	b.Mark(k("first-seen"), base, state.KeepEarliest, 90*24*time.Hour)
	for h := range memHours {
		for e := range memEventsPerHour {
			b.BucketAdd(k("calls:hourly"), eventID(i*1000+h*10+e), base.Add(time.Duration(h)*time.Hour), time.Hour, 24, 25*time.Hour)
		}
	}
	b.Throttle(k("throttle:enum"), eventID(i), time.Hour)
	return b
}

// TestMemoryPerIdentity writes the state of 1000 active identities and
// measures what Redis spends on one, two ways: the sum of MEMORY USAGE over
// the keys, which the 2 KiB design target is about, and the growth of
// used_memory, which adds the server's hash tables (keys and expiries).
func TestMemoryPerIdentity(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 1000 identities")
	}
	srv := redistest.StartServer(t)
	s := newStore(t, srv.URL())
	ctx := context.Background()
	c := srv.Client()
	before := srv.UsedMemory(ctx)
	for i := range memIdentities {
		b := identityState(i)
		exec(t, s, b)
	}
	grown := srv.UsedMemory(ctx) - before
	var usage, keys, intro int64
	byName := map[string]int64{}
	iter := c.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		n, err := c.MemoryUsage(ctx, iter.Val()).Result()
		if err != nil {
			t.Fatal(err)
		}
		name := iter.Val()[strings.LastIndex(iter.Val(), "}:")+2:]
		byName[name] += n
		if strings.HasSuffix(name, ":intro") {
			// Which event introduced a first-seen member: kept only
			// state.NoveltyRetryWindow after a member is new, so it is
			// not part of an identity's steady state.
			intro += n
			continue
		}
		usage += n
		keys++
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	perUsage, perGrown := usage/memIdentities, grown/memIdentities
	for name, n := range byName {
		t.Logf("%-14s %5d bytes", name, n/memIdentities)
	}
	t.Logf("per identity: %d bytes by MEMORY USAGE over %d keys, %d bytes by used_memory growth; plus %d bytes for %s after new first-seen members",
		perUsage, keys/memIdentities, perGrown, intro/memIdentities, state.NoveltyRetryWindow)
	if perUsage > 2048 {
		t.Errorf("an active identity costs %d bytes by MEMORY USAGE; the target is at most 2048", perUsage)
	}
}
