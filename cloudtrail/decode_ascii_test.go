package cloudtrail

import (
	"strings"
	"testing"
)

// asciiField must find exactly the field fieldOf finds after foldName,
// for every field key, its case variants and names that only look alike,
// and say whether the name is the key exactly.
func TestASCIIFieldMatchesFold(t *testing.T) {
	names := []string{"", "x", "eventVersion", "requestID", "eventCategory", "tlsDetails", "detail_type",
		"eventNam", "eventNamee", "EVENT@NAME", "event`name", strings.Repeat("a", 70)}
	for f := field(0); f < numFields; f++ {
		key := fieldKeys[f]
		names = append(names, key, strings.ToUpper(key), strings.ToLower(key), key[:len(key)-1]+"\x7f")
	}
	var buf [maxFolded + 4]byte
	for k := objKind(0); k < numKinds; k++ {
		for _, name := range names {
			want := fieldOf(k, foldName(buf[:0], []byte(`"`+name+`"`)))
			got, exact := asciiField(k, []byte(name))
			if got != want {
				t.Errorf("kind %d, name %q: asciiField says field %d, folding says %d", k, name, got, want)
			}
			if wantExact := want != noField && name == fieldKeys[want]; exact != wantExact {
				t.Errorf("kind %d, name %q: asciiField says exact %v, want %v", k, name, exact, wantExact)
			}
		}
	}
}
