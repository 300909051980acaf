package benign_test

import (
	"net/netip"

	"github.com/iamsentry/iamsentry/internal/benign"
)

func prefixContains(prefix, addr string) bool {
	a, err := netip.ParseAddr(addr)
	return err == nil && netip.MustParsePrefix(prefix).Contains(a)
}

func networkOf(addr string) string {
	for _, n := range benign.Networks {
		if prefixContains(n.Prefix, addr) {
			return n.Name
		}
	}
	return ""
}
