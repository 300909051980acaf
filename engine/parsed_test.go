package engine_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/racetest"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpusrules"
	"github.com/iamsentry/iamsentry/state/memory"
)

// TestScoreParsedMatchesScore scores a realistic fortnight, attacks woven
// in, twice: with Score, and with ScoreParsed given most records already
// parsed (some left to the engine, and malformed ones among them). Every
// verdict, findings and stories included, must be the same.
func TestScoreParsedMatchesScore(t *testing.T) {
	racetest.SkipLong(t)
	c := realcorpus.Generate(realcorpus.Options{Seed: 3, Days: 14, People: 20})
	built := realcorpusrules.Build(t)
	newEng := func() *engine.Engine {
		mem := memory.New(memory.WithSweepInterval(0))
		t.Cleanup(func() { mem.Close() })
		return engine.New(built.Registry, mem, engine.Options{Suppress: built.Suppress})
	}
	plain, pre := newEng(), newEng()
	bad := [][]byte{[]byte(`{"eventName":`), []byte(`{"eventName":"X"}`), []byte(`[1]`)}
	alerts := 0
	const batch = 512
	for off := 0; off < len(c.Records); off += batch {
		var raws [][]byte
		var parsed []*cloudtrail.Record
		for i, r := range c.Records[off:min(off+batch, len(c.Records))] {
			if i%97 == 0 {
				raws, parsed = append(raws, bad[i%len(bad)]), append(parsed, nil)
			}
			var rec *cloudtrail.Record
			if i%5 != 0 { // every fifth left to the engine
				var err error
				if rec, err = cloudtrail.Parse(r.JSON, cloudtrail.Options{}); err != nil {
					t.Fatal(err)
				}
			}
			raws, parsed = append(raws, r.JSON), append(parsed, rec)
		}
		want, err := plain.Score(context.Background(), engine.Batch{Records: raws})
		if err != nil {
			t.Fatal(err)
		}
		var before []cloudtrail.Record // the engine reads parsed records in place, never writing them
		for _, rec := range parsed {
			if rec != nil {
				before = append(before, *rec)
			}
		}
		got, err := pre.ScoreParsed(context.Background(), engine.Batch{Records: raws}, parsed)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range parsed {
			if rec != nil {
				if !reflect.DeepEqual(*rec, before[0]) {
					t.Fatalf("ScoreParsed changed a parsed record (event %s)", rec.EventID)
				}
				before = before[1:]
			}
		}
		for i := range want {
			if want[i].Outcome == engine.OutcomeAlert {
				alerts++
			}
			w, _ := json.Marshal(want[i])
			g, _ := json.Marshal(got[i])
			if string(w) != string(g) {
				t.Fatalf("record %d: ScoreParsed must give Score's verdict:\n got  %s\n want %s", off+i, g, w)
			}
		}
	}
	if alerts == 0 {
		t.Fatal("the corpus raised no alert: the comparison covers only the quiet path")
	}
}

// TestScoreParsedChecks checks what ScoreParsed refuses: parsed records
// that do not line up with the batch, and a parsed record over the
// engine's size limit, which is rejected as Score rejects its bytes.
func TestScoreParsedChecks(t *testing.T) {
	raw := []byte(`{"eventName":"ListUsers","eventSource":"iam.amazonaws.com","eventTime":"` +
		time.Date(2024, 8, 1, 13, 0, 0, 0, time.UTC).Format(time.RFC3339) + `","eventID":"e1"}`)
	rec, err := cloudtrail.Parse(raw, cloudtrail.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	built := realcorpusrules.Build(t)
	eng := engine.New(built.Registry, mem, engine.Options{MaxRecordSize: len(raw) - 1})
	if _, err := eng.ScoreParsed(context.Background(), engine.Batch{Records: [][]byte{raw}}, nil); err == nil ||
		!strings.Contains(err.Error(), "0 parsed records for a batch of 1") {
		t.Fatalf("parsed records that do not line up with the batch must be refused, got %v", err)
	}
	vs, err := eng.ScoreParsed(context.Background(), engine.Batch{Records: [][]byte{raw}}, []*cloudtrail.Record{rec})
	if err != nil {
		t.Fatal(err)
	}
	if vs[0].Outcome != engine.OutcomeInvalid || vs[0].Invalid == nil || vs[0].Invalid.Reason != cloudtrail.ReasonTooLarge {
		t.Fatalf("a parsed record over MaxRecordSize must be rejected as too large, got %+v", vs[0])
	}
}
