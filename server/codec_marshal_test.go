package server

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// TestScoreResponseMarshal: the server's codec marshals a Score response,
// empty, small or over a kilobyte, every field of a verdict set, with
// findings or without, into exactly proto.Marshal's bytes,
// and a small one into a pooled buffer: one allocation (the slice that
// holds the buffer), not three.
func TestScoreResponseMarshal(t *testing.T) {
	c := newLimitCodec(&Server{})
	verdict := &iamsentryv1.Verdict{EventId: "e-1", Outcome: iamsentryv1.Outcome_OUTCOME_CLEAN, Reason: "ok"}
	long := &iamsentryv1.Verdict{EventId: "e-2", Reason: strings.Repeat("r", 2<<10)}
	invalid := &iamsentryv1.Verdict{Outcome: iamsentryv1.Outcome_OUTCOME_INVALID, Reason: "eventTime missing", ReasonCode: "missing_field", ReasonField: "eventTime"}
	every := &iamsentryv1.Verdict{EventId: "e-3", Outcome: iamsentryv1.Outcome(-1), Score: 1 << 31, Severity: iamsentryv1.Severity_SEVERITY_CRITICAL,
		Reason: "r", ReasonCode: "c", ReasonField: "f"}
	alert := &iamsentryv1.Verdict{EventId: "e-4", Outcome: iamsentryv1.Outcome_OUTCOME_ALERT, Score: 80,
		Findings: []*iamsentryv1.Finding{{DetectorId: "d", Title: "t"}}, Stories: []*iamsentryv1.Story{{}}}
	for _, m := range []*iamsentryv1.ScoreResponse{
		{},
		{Sequence: 4, Verdicts: []*iamsentryv1.Verdict{verdict, verdict}},
		{Sequence: 5, Verdicts: []*iamsentryv1.Verdict{verdict, long}},
		{Sequence: 1 << 62, Verdicts: []*iamsentryv1.Verdict{invalid, every, {}}},
		{Sequence: 6, Verdicts: []*iamsentryv1.Verdict{verdict, alert}}, // proto's, for the findings
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

// TestScoreResponseMarshalRefusesWhatProtoRefuses: a string that is not
// UTF-8 fails the response, by hand or not, as proto.Marshal fails it.
func TestScoreResponseMarshalRefusesWhatProtoRefuses(t *testing.T) {
	c := newLimitCodec(&Server{})
	m := &iamsentryv1.ScoreResponse{Sequence: 1, Verdicts: []*iamsentryv1.Verdict{{EventId: "e-\xff"}}}
	if _, err := proto.Marshal(m); err == nil {
		t.Skip("proto.Marshal accepts strings that are not UTF-8 here")
	}
	if _, err := c.Marshal(m); err == nil {
		t.Error("the codec marshalled an event id that is not UTF-8, which proto.Marshal refuses")
	}
}
