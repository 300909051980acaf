package builtin

// nameFilter rules out, in a few instructions, most strings that are not
// in a fixed set: a bit per length (mod 64) and pair of first and last
// byte (mod 64). A detector that judges a few dozen event names looked
// every record's name up in a map to find out it judges none of them;
// the filter answers that for most records before the lookup, which still
// decides for those it lets through.
type nameFilter [64]uint64

// newNameFilter returns the filter of names.
func newNameFilter(names ...string) *nameFilter {
	var f nameFilter
	for _, n := range names {
		i, bit := nameFilterBit(n)
		f[i] |= bit
	}
	return &f
}

// mayHold reports false only when s is none of the filter's names.
func (f *nameFilter) mayHold(s string) bool {
	i, bit := nameFilterBit(s)
	return f[i]&bit != 0
}

func nameFilterBit(s string) (int, uint64) {
	if s == "" {
		return 0, 1
	}
	return len(s) & 63, 1 << ((s[0] ^ s[len(s)-1]<<3) & 63)
}
