package e2e_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/internal/consistency"
	"github.com/iamsentry/iamsentry/internal/corpus"
	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/state/memory"
)

// timedRecord is one record of the mixed corpus with its event time.
type timedRecord struct {
	at  time.Time
	raw []byte
}

// mixedCorpus is every parseable record of ../shared/data (when present)
// plus generated multi-identity traffic with stateful patterns, sorted by
// event time.
func mixedCorpus(t *testing.T) []timedRecord {
	t.Helper()
	var out []timedRecord
	for _, r := range corpus.Generate(corpus.Options{Seed: 21, Users: 45, Incidents: 6}) {
		out = append(out, timedRecord{r.Time, r.JSON})
	}
	shared := 0
	seen := map[string][]byte{}
	data := filepath.Join(repoRoot, "..", "shared", "data")
	if _, err := os.Stat(data); err == nil {
		err := filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasSuffix(path, ".md") || d.Name() == "ground_truth.json" {
				return err
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			items, err := cloudtrail.ReadAll(f, cloudtrail.Options{})
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			for _, it := range items {
				if it.Err != nil {
					continue
				}
				rec, err := cloudtrail.Parse(it.Raw, cloudtrail.Options{})
				if err != nil {
					continue // the invalid ones prove nothing here
				}
				raw := it.Raw
				id := detectors.EventIdentity(rec)
				if prev, ok := seen[id]; ok && !bytes.Equal(prev, raw) {
					// Rule-test fixtures and scenario variants reuse ids
					// ("1", or one scenario's ids in two files with other
					// IPs) for different records. Real CloudTrail ids are
					// unique; with reused ones, which record is "the
					// original" depends on arrival order. Give the later
					// distinct record an id of its own, from its content.
					raw = withEventID(t, raw, fmt.Sprintf("%s-%x", rec.EventID, sha256.Sum256(raw))[:48])
				}
				seen[id] = it.Raw
				out = append(out, timedRecord{rec.EventTime, raw})
				shared++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.SortStableFunc(out, func(a, b timedRecord) int { return a.at.Compare(b.at) })
	t.Logf("mixed corpus: %d records (%d from ../shared/data)", len(out), shared)
	return out
}

// withEventID returns the record with its eventID replaced (in the wrapper's
// event when it is a rule-test fixture).
func withEventID(t *testing.T, raw []byte, id string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	target := m
	if inner, ok := m["event"].(map[string]any); ok && m["eventName"] == nil {
		target = inner
	}
	target["eventID"] = id
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// deliver reorders records as CloudTrail and an at-least-once shipper do:
// each record late by up to lateness, and about one in twelve delivered
// twice.
func deliver(recs []timedRecord, lateness time.Duration) []timedRecord {
	in := make([]corpus.Record, len(recs))
	for i, r := range recs {
		in[i] = corpus.Record{Time: r.at, JSON: r.raw}
	}
	var out []timedRecord
	for i, r := range corpus.Shuffle(in, lateness, 77) {
		out = append(out, timedRecord{r.Time, r.JSON})
		if i%12 == 5 {
			out = append(out, timedRecord{r.Time, r.JSON})
		}
	}
	return out
}

// replica is one iamsentry serve process.
type replica struct {
	cmd  *exec.Cmd
	addr string
	log  *lockedBuffer
}

func startReplica(t *testing.T, bin, redisURL, cfg string) *replica {
	t.Helper()
	r := &replica{addr: freeAddr(t), log: &lockedBuffer{}}
	r.cmd = exec.Command(bin, "serve", "--listen", r.addr, "--admin-listen", "127.0.0.1:0", "--redis", redisURL, "--config", cfg, "--log-format", "json")
	r.cmd.Stderr = r.log
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.cmd.Process.Kill(); r.cmd.Wait() })
	waitDial(t, r.addr)
	return r
}

// stop ends the replica and returns how many records it scored.
func (r *replica) stop(t *testing.T) int64 {
	t.Helper()
	r.cmd.Process.Signal(syscall.SIGTERM)
	r.cmd.Wait()
	for _, line := range strings.Split(r.log.String(), "\n") {
		var m struct {
			Msg     string `json:"msg"`
			Records int64  `json:"records"`
		}
		if json.Unmarshal([]byte(line), &m) == nil && m.Msg == "stopped" {
			return m.Records
		}
	}
	t.Fatalf("replica %s logged no stop statistics:\n%s", r.addr, r.log.String())
	return 0
}

// TestThreeReplicasEqualOne is the scaling proof: three serve processes
// sharing one real Redis, behind grpc-go's round_robin balancer, fed a
// mixed corpus of at least 5,000 records delivered shuffled within the
// lateness and with duplicates, raise the same incidents as one process on
// the embedded store fed the corpus in order, and none twice.
func TestThreeReplicasEqualOne(t *testing.T) {
	skipShort(t)
	recs := mixedCorpus(t)
	if len(recs) < 5000 {
		t.Fatalf("mixed corpus has %d records, want at least 5,000", len(recs))
	}

	// One process on the embedded store, in order.
	mem := memory.New()
	defer mem.Close()
	ref, err := consistency.NewEngine(mem)
	if err != nil {
		t.Fatal(err)
	}
	raws := make([][]byte, len(recs))
	for i, r := range recs {
		raws[i] = r.raw
	}
	vs, err := consistency.Score(context.Background(), ref, raws, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := consistency.Incidents(vs)

	// Three replicas on one Redis.
	bin := iamsentryBin
	cfg := filepath.Join(t.TempDir(), "iamsentry.yaml")
	if err := os.WriteFile(cfg, []byte(consistency.Config), 0o600); err != nil {
		t.Fatal(err)
	}
	redis := redistest.StartServer(t)
	var replicas []*replica
	var addrs []resolver.Address
	for range 3 {
		r := startReplica(t, bin, redis.URL(), cfg)
		replicas = append(replicas, r)
		addrs = append(addrs, resolver.Address{Addr: r.addr})
	}
	res := manual.NewBuilderWithScheme("replicas")
	res.InitialState(resolver.State{Addresses: addrs})
	conn, err := grpc.NewClient("replicas:///iamsentry",
		grpc.WithResolvers(res),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := iamsentryv1.NewDetectionServiceClient(conn)

	// Delivery: shuffled within half the lateness, then up to six requests
	// in flight as long as that reorders by no more than the other half.
	const lateness = consistency.Lateness
	delivered := deliver(recs, lateness/2)
	got := sendAll(t, client, delivered, 10, 6, lateness/2)
	if d := consistency.Diff(want, got); d != "" {
		t.Errorf("three replicas raised different incidents than one process:\n%s", d)
	}
	if r := consistency.RepeatedBeyond(want, got); len(r) > 0 {
		t.Errorf("incidents raised more than once: %v", r)
	}
	if len(want) == 0 {
		t.Fatal("no incidents: the proof would prove nothing")
	}
	for i, r := range replicas {
		if n := r.stop(t); n == 0 {
			t.Errorf("replica %d scored nothing: round_robin did not spread the load", i)
		} else {
			t.Logf("replica %d scored %d records", i, n)
		}
	}
	t.Logf("%d records delivered; incidents by detector %v", len(delivered), consistency.ByDetector(want))
}

// sendAll scores recs with ScoreBatch calls of n records (each call goes to
// the next replica), up to inFlight at once, never letting a call start
// while an earlier unfinished call holds a record more than maxSkew older
// than the new call's newest. It returns the incidents of the first
// acknowledged verdict of every delivery.
func sendAll(t *testing.T, client iamsentryv1.DetectionServiceClient, recs []timedRecord, n, inFlight int, maxSkew time.Duration) map[string]int {
	t.Helper()
	type call struct {
		oldest time.Time
		done   chan struct{}
	}
	var (
		mu       sync.Mutex
		pending  []*call
		incident = map[string]int{}
		firstErr error
		wg       sync.WaitGroup
	)
	for i := 0; i < len(recs); i += n {
		batch := recs[i:min(i+n, len(recs))]
		oldest, newest := batch[0].at, batch[0].at
		for _, r := range batch {
			oldest, newest = minTime(oldest, r.at), maxTime(newest, r.at)
		}
		// Wait for room, and for earlier calls too far behind in time.
		for {
			mu.Lock()
			var wait *call
			live := 0
			for _, c := range pending {
				select {
				case <-c.done:
					continue
				default:
				}
				live++
				if wait == nil && newest.Sub(c.oldest) > maxSkew {
					wait = c
				}
			}
			mu.Unlock()
			if wait == nil && live < inFlight {
				break
			}
			if wait == nil {
				wait = pending[len(pending)-live]
			}
			<-wait.done
		}
		c := &call{oldest: oldest, done: make(chan struct{})}
		mu.Lock()
		pending = append(pending, c)
		mu.Unlock()
		req := &iamsentryv1.ScoreBatchRequest{}
		for _, r := range batch {
			req.Events = append(req.Events, &iamsentryv1.Event{Record: &iamsentryv1.Event_Json{Json: r.raw}})
		}
		wg.Go(func() {
			defer close(c.done)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			resp, err := client.ScoreBatch(ctx, req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			consistency.AddVerdictIncidents(incident, resp.GetVerdicts(), false)
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("ScoreBatch: %v", firstErr)
	}
	return incident
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
