package redis

import "github.com/iamsentry/iamsentry/state/internal/record"

// SideKeysNamed returns the keys of the side records that the record or
// page b, read from key main's record, names itself (see record.Named).
func SideKeysNamed(main string, b []byte, now int64) ([]string, error) {
	suffixes, err := record.Named(b, now)
	keys := make([]string, len(suffixes))
	for i, s := range suffixes {
		keys[i] = sideKey(main, s)
	}
	return keys, err
}
