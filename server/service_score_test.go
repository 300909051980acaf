package server

import (
	"bytes"
	"context"
	"testing"

	"go.opentelemetry.io/otel/metric/noop"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// TestScoreKeepsRequestOrder: the verdicts of several requests scored in
// one group (built in one slab) go back to the request, and the position
// in it, of the event they are for, with events the server rejects before
// the engine (no record) in between and an empty request among them.
func TestScoreKeepsRequestOrder(t *testing.T) {
	b, record := testBatcher(t, 1)
	defer b.stop()
	s := &service{batcher: b, metrics: newServerMetrics(noop.NewMeterProvider(), false)}
	event := func(id string) *iamsentryv1.Event {
		return &iamsentryv1.Event{Record: &iamsentryv1.Event_Json{Json: record(id)}}
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
