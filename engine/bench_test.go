package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/state/memory"
)

// benchCorpus is a realistic mix: the real records of the parser's
// testdata (IAM user, assumed role, AWS service, AWS Internal, console
// login) each copied with fresh event ids, interleaved with generated IAM
// traffic including role creations and AdministratorAccess attachments
// (about 2% of events alert).
func benchCorpus(b *testing.B, n int) [][]byte {
	b.Helper()
	paths, _ := filepath.Glob("../cloudtrail/testdata/*.json")
	var real []map[string]any
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
		real = append(real, m)
	}
	t0 := time.Date(2024, 8, 1, 0, 0, 0, 0, time.UTC)
	out := make([][]byte, 0, n)
	for i := 0; len(out) < n; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		switch {
		case i%50 == 0:
			out = append(out, dt.IAM("CreateRole", at, map[string]any{"roleName": fmt.Sprint("r", i)}).JSON())
		case i%50 == 1:
			out = append(out, dt.IAM("AttachRolePolicy", at, map[string]any{"roleName": fmt.Sprint("r", i-1), "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}).JSON())
		case i%3 == 0:
			out = append(out, dt.IAM("ListRoles", at, nil).JSON())
		default:
			m := real[i%len(real)]
			m["eventID"] = fmt.Sprintf("bench-%d", i)
			raw, _ := json.Marshal(m)
			out = append(out, raw)
		}
	}
	return out
}

// BenchmarkScore scores micro-batches of 512 records through the engine on
// the embedded store, parsing included, and reports events/s and heap
// allocations per event.
func BenchmarkScore(b *testing.B) {
	const batch, passes = 512, 64
	corpus := benchCorpus(b, passes*batch)
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var eng *engine.Engine
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	events := 0
	for i := 0; b.Loop(); i++ {
		if i%passes == 0 { // a fresh store every pass, so events stay first-seen
			b.StopTimer()
			store := memory.New(memory.WithSweepInterval(0))
			b.Cleanup(func() { store.Close() })
			eng = engine.New(reg, store, engine.Options{})
			b.StartTimer()
		}
		off := (i % passes) * batch
		if _, err := eng.Score(ctx, engine.Batch{Records: corpus[off : off+batch]}); err != nil {
			b.Fatal(err)
		}
		events += batch
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(events), "allocs/event")
}
