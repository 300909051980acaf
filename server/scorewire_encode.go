package server

import (
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// Score responses are encoded by hand when they have the shape nearly
// every one has: verdicts without findings or stories (an event id, an
// outcome, for an INVALID one its reason). proto.Size and MarshalAppend
// walked each response twice through the message's reflection tables,
// about two microseconds a response of one verdict, paid once a request.
// A response with findings or stories, or a string that is not UTF-8 (which
// proto.Marshal refuses), goes to proto as before.

// scoreResponseSize returns the encoded size of r, and false when r is
// not of the shape appendScoreResponse encodes.
func scoreResponseSize(r *iamsentryv1.ScoreResponse) (int, bool) {
	n := 0
	for _, v := range r.Verdicts {
		if !byHand(v) {
			return 0, false
		}
		s := verdictSize(v)
		n += 1 + protowire.SizeVarint(uint64(s)) + s
	}
	if r.Sequence != 0 {
		n += 1 + protowire.SizeVarint(r.Sequence)
	}
	return n, true
}

// appendScoreResponse appends r, which scoreResponseSize accepted, to b,
// in field order as proto.Marshal writes it.
func appendScoreResponse(b []byte, r *iamsentryv1.ScoreResponse) []byte {
	for _, v := range r.Verdicts {
		s := verdictSize(v)
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(s))
		b = appendVerdict(b, v)
	}
	if r.Sequence != 0 {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, r.Sequence)
	}
	return b
}

// byHand reports whether appendVerdict encodes v as proto would: false
// for a verdict with findings, stories, unknown fields or a string that
// is not UTF-8.
func byHand(v *iamsentryv1.Verdict) bool {
	if v == nil {
		return true
	}
	return len(v.Findings) == 0 && len(v.Stories) == 0 && len(v.ProtoReflect().GetUnknown()) == 0 &&
		utf8.ValidString(v.EventId) && utf8.ValidString(v.Reason) &&
		utf8.ValidString(v.ReasonCode) && utf8.ValidString(v.ReasonField)
}

// verdictSize returns the encoded size of v, which byHand accepted.
func verdictSize(v *iamsentryv1.Verdict) int {
	if v == nil {
		return 0
	}
	return stringSize(v.EventId) + varintSize(enumWire(int32(v.Outcome))) + stringSize(v.Reason) +
		varintSize(uint64(v.Score)) + varintSize(enumWire(int32(v.Severity))) +
		stringSize(v.ReasonCode) + stringSize(v.ReasonField)
}

// stringSize and varintSize are the sizes of a field of a proto3
// message numbered under 16 (a one-byte tag): nothing when it is empty.
func stringSize(s string) int {
	if s == "" {
		return 0
	}
	return 1 + protowire.SizeBytes(len(s))
}

func varintSize(x uint64) int {
	if x == 0 {
		return 0
	}
	return 1 + protowire.SizeVarint(x)
}

// appendVerdict appends v's fields in field order.
func appendVerdict(b []byte, v *iamsentryv1.Verdict) []byte {
	if v == nil {
		return b
	}
	b = appendString(b, 1, v.EventId)
	b = appendVarint(b, 2, enumWire(int32(v.Outcome)))
	b = appendString(b, 4, v.Reason)
	b = appendVarint(b, 5, uint64(v.Score))
	b = appendVarint(b, 6, enumWire(int32(v.Severity)))
	b = appendString(b, 7, v.ReasonCode)
	return appendString(b, 8, v.ReasonField)
}

// appendString and appendVarint append a proto3 field unless it is empty.
func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	return protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), s)
}

func appendVarint(b []byte, num protowire.Number, x uint64) []byte {
	if x == 0 {
		return b
	}
	return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), x)
}

// enumWire is an enum's value as a varint on the wire: a negative one
// sign-extended to ten bytes, as proto writes int32 fields.
func enumWire(x int32) uint64 { return uint64(int64(x)) }
