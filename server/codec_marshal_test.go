package server

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/internal/allocstest"
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
	allocs := allocstest.Floor(50, func() {
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

// TestScoreResponseMarshalEveryField sets each field of a verdict, and of
// the response, one at a time, through the messages' descriptors, and
// wants the codec's bytes to be proto.Marshal's. The hand encoder names
// the fields it writes; a field added to the proto later is set here too,
// so the test fails until the encoder writes it or hands such responses
// to proto, rather than the server dropping it from every verdict.
func TestScoreResponseMarshalEveryField(t *testing.T) {
	c := newLimitCodec(&Server{})
	check := func(what string, m *iamsentryv1.ScoreResponse) {
		t.Helper()
		want, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		data, err := c.Marshal(m)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := data.Materialize(); !bytes.Equal(got, want) {
			t.Errorf("%s set: codec marshalled %x, proto.Marshal %x", what, got, want)
		}
		data.Free()
	}
	fields := (&iamsentryv1.Verdict{}).ProtoReflect().Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		v := &iamsentryv1.Verdict{EventId: "e-1"}
		setField(t, v.ProtoReflect(), fd)
		check("verdict field "+string(fd.Name()), &iamsentryv1.ScoreResponse{Sequence: 3, Verdicts: []*iamsentryv1.Verdict{v}})
	}
	fields = (&iamsentryv1.ScoreResponse{}).ProtoReflect().Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		r := &iamsentryv1.ScoreResponse{}
		setField(t, r.ProtoReflect(), fd)
		check("response field "+string(fd.Name()), r)
	}
}

// setField gives fd of m a value that is not its zero: one element for a
// list, an empty message for a message.
func setField(t *testing.T, m protoreflect.Message, fd protoreflect.FieldDescriptor) {
	t.Helper()
	if fd.IsMap() {
		t.Fatalf("field %s is a map: setField does not fill maps yet", fd.FullName())
	}
	if fd.IsList() {
		l := m.Mutable(fd).List()
		if fd.Message() != nil {
			l.Append(l.NewElement())
		} else {
			l.Append(scalar(t, fd))
		}
		return
	}
	if fd.Message() != nil {
		m.Mutable(fd)
		return
	}
	m.Set(fd, scalar(t, fd))
}

// scalar is a value of fd's kind other than its zero.
func scalar(t *testing.T, fd protoreflect.FieldDescriptor) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString("s")
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte{1})
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true)
	case protoreflect.EnumKind:
		return protoreflect.ValueOfEnum(2)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(7)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(7)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(7)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(7)
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(1.5)
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(1.5)
	}
	t.Fatalf("field %s: kind %v not covered", fd.FullName(), fd.Kind())
	return protoreflect.Value{}
}
