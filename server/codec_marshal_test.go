package server

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// TestScoreResponseMarshal: the server's codec marshals a Score response,
// empty, small or over a kilobyte, into exactly proto.Marshal's bytes,
// and a small one into a pooled buffer: one allocation (the slice that
// holds the buffer), not three.
func TestScoreResponseMarshal(t *testing.T) {
	c := newLimitCodec(&Server{})
	verdict := &iamsentryv1.Verdict{EventId: "e-1", Outcome: iamsentryv1.Outcome_OUTCOME_CLEAN, Reason: "ok"}
	long := &iamsentryv1.Verdict{EventId: "e-2", Reason: strings.Repeat("r", 2<<10)}
	for _, m := range []*iamsentryv1.ScoreResponse{
		{},
		{Sequence: 4, Verdicts: []*iamsentryv1.Verdict{verdict, verdict}},
		{Sequence: 5, Verdicts: []*iamsentryv1.Verdict{verdict, long}},
	} {
		want, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		data, err := c.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if got := data.Materialize(); !bytes.Equal(got, want) {
			t.Errorf("codec marshalled %v as %x, proto.Marshal as %x", m, got, want)
		}
		data.Free()
	}
	small := &iamsentryv1.ScoreResponse{Sequence: 4, Verdicts: []*iamsentryv1.Verdict{verdict}}
	allocs := testing.AllocsPerRun(50, func() {
		data, err := c.Marshal(small)
		if err != nil {
			t.Fatal(err)
		}
		data.Free()
	})
	if allocs > 1 {
		t.Errorf("%v allocations to marshal a small response, want at most 1", allocs)
	}
}
