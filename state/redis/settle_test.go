package redis

import (
	"slices"
	"testing"
)

// TestSettles holds the group script's skipped settles to the rule that
// makes skipping safe: a call settles its key when an earlier call of the
// group on that key was of another kind (or ever was), or when the key is
// another call's introductions hash; calls of one kind on a key never do.
func TestSettles(t *testing.T) {
	mk := func(code, key string, more ...string) *call {
		return &call{code: code, key: key, keys: append([]string{key}, more...)}
	}
	tests := []struct {
		name  string
		calls []*call
		want  []bool
	}{
		{"one kind per key", []*call{mk(opWindowAdd, "w"), mk(opWindowRead, "w"), mk(opNovelty, "w", "w:intro"), mk(opGet, "g"), mk(opMark, "g")},
			[]bool{false, false, false, false, false}},
		{"window then bucket", []*call{mk(opWindowAdd, "k"), mk(opBucketAdd, "k")}, []bool{false, true}},
		{"mixed stays mixed", []*call{mk(opPut, "k"), mk(opGet, "k"), mk(opGet, "k"), mk(opPut, "k")}, []bool{false, true, true, true}},
		{"other keys apart", []*call{mk(opPut, "a"), mk(opGet, "b"), mk(opPut, "a")}, []bool{false, false, false}},
		{"introductions hash", []*call{mk(opNovelty, "n", "x"), mk(opGet, "x"), mk(opGet, "x")}, []bool{false, true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (&group{calls: tt.calls}).settles(); !slices.Equal(got, tt.want) {
				t.Errorf("settles = %v, want %v", got, tt.want)
			}
		})
	}
}
