package policy_test

import (
	"reflect"
	"testing"

	"github.com/iamsentry/iamsentry/detectors/policy"
)

func TestEncodingRoundTrip(t *testing.T) {
	for _, doc := range []string{
		`{"Statement":[]}`,
		`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}}`,
		`{"Statement":[{"Effect":"Allow","Principal":{"AWS":["999988887777","444455556666"],"Federated":"accounts.google.com","Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole*"}]}`,
	} {
		s := analyze(t, doc)
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got policy.Summary
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("%s: UnmarshalBinary: %v", doc, err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("round trip of %s:\n got %+v\nwant %+v", doc, got, s)
		}
	}
	admin := analyze(t, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`)
	if b, _ := admin.MarshalBinary(); len(b) > 100 {
		t.Errorf("an admin summary encodes to %d bytes; state values must stay small", len(b))
	}
}

func TestUnmarshalRejects(t *testing.T) {
	good, _ := analyze(t, `{"Statement":[{"Effect":"Allow","Principal":{"AWS":["999988887777","444455556666"]},"Action":"sts:AssumeRole"}]}`).MarshalBinary()
	swapped := append([]byte(nil), good...)
	// Grants are (kind, flags, len, 12 bytes, len 0, len, via): swap the two account ids.
	copy(swapped[7:19], "999988887777")
	tests := map[string][]byte{
		"empty":          nil,
		"other version":  {2, 0, 0, 0},
		"truncated":      good[:len(good)-3],
		"trailing bytes": append(append([]byte(nil), good...), 0),
		"unknown kind":   {1, 0, 1, 1, 99, 0, 0, 0, 0},
		"too many":       {1, 0, 1, 65},
		"out of order":   swapped,
	}
	for name, b := range tests {
		var s policy.Summary
		if err := s.UnmarshalBinary(b); err == nil {
			t.Errorf("%s: UnmarshalBinary accepted %x as %+v", name, b, s)
		}
	}
}
