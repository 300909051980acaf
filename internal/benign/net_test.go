package benign_test

import (
	"net/netip"

	"github.com/iamsentry/iamsentry/internal/benign"
)

// prefixes are benign.Networks' prefixes, parsed once.
var prefixes = func() []netip.Prefix {
	out := make([]netip.Prefix, len(benign.Networks))
	for i, n := range benign.Networks {
		out[i] = netip.MustParsePrefix(n.Prefix)
	}
	return out
}()

// networkAt is the network addr is in; false outside every one.
func networkAt(addr string) (benign.Network, bool) {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return benign.Network{}, false
	}
	for i, p := range prefixes {
		if p.Contains(a) {
			return benign.Networks[i], true
		}
	}
	return benign.Network{}, false
}

// kindOf is the kind of network addr is in ("" outside every one).
func kindOf(addr string) string { n, _ := networkAt(addr); return n.Kind }

// networkOf is the name of the network addr is in.
func networkOf(addr string) string { n, _ := networkAt(addr); return n.Name }
