package server

import (
	"bytes"
	"context"
	"os"
	"testing"

	"go.opentelemetry.io/otel/metric/noop"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/state/memory"
)

// TestScoreKeepsRequestOrder: the verdicts of several requests scored in
// one group (built in one slab) go back to the request, and the position
// in it, of the event they are for, with events the server rejects before
// the engine (no record) in between and an empty request among them.
func TestScoreKeepsRequestOrder(t *testing.T) {
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		t.Fatal(err)
	}
	store := memory.New()
	defer store.Close()
	b := newBatcher(engine.New(reg, store, engine.Options{}), 1, 512, 0, 0)
	defer b.stop()
	s := &service{batcher: b, metrics: newServerMetrics(noop.NewMeterProvider(), false)}
	tmpl, err := os.ReadFile("testdata/get_caller_identity.json")
	if err != nil {
		t.Fatal(err)
	}
	event := func(id string) *iamsentryv1.Event {
		rec := bytes.Replace(tmpl, []byte(`"eventID": "`), []byte(`"eventID": "`+id), 1)
		return &iamsentryv1.Event{Record: &iamsentryv1.Event_Json{Json: rec}}
	}
	empty := &iamsentryv1.Event{}
	requests := [][]*iamsentryv1.Event{
		{empty, event("a-"), event("b-")},
		{},
		{event("c-"), empty, empty, event("d-")},
	}
	want := [][]string{{"", "a-", "b-"}, {}, {"c-", "", "", "d-"}} // "" is INVALID
	got, err := s.score(context.Background(), pathScore, false, requests)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d verdict lists for %d requests", len(got), len(want))
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("request %d: %d verdicts for %d events", i, len(got[i]), len(want[i]))
		}
		for j, prefix := range want[i] {
			v := got[i][j]
			switch {
			case prefix == "" && v.GetOutcome() != iamsentryv1.Outcome_OUTCOME_INVALID:
				t.Errorf("request %d event %d (no record): %v; want INVALID", i, j, v)
			case prefix != "" && (v.GetOutcome() == iamsentryv1.Outcome_OUTCOME_INVALID || !bytes.HasPrefix([]byte(v.GetEventId()), []byte(prefix))):
				t.Errorf("request %d event %d: verdict %v; want the scored verdict of event %s…", i, j, v, prefix)
			}
		}
	}
}
