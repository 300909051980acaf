package builtin

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestPlacesSomeoneMatchesNetip holds placesSomeone equal to the netip
// calls it stands for: on every IPv4 /16 (with random and edge low bytes),
// on IPv4-mapped IPv6 and on IPv6 addresses of every leading byte.
func TestPlacesSomeoneMatchesNetip(t *testing.T) {
	want := func(ip netip.Addr) bool {
		return ip.IsGlobalUnicast() && !ip.IsPrivate() && !cgnat.Contains(ip)
	}
	check := func(ip netip.Addr) {
		if got, w := placesSomeone(ip), want(ip); got != w {
			t.Errorf("placesSomeone(%v) = %v, netip says %v", ip, got, w)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for hi := range 1 << 16 {
		a, b := byte(hi>>8), byte(hi)
		for _, low := range [][2]byte{{0, 0}, {255, 255}, {0, 1}, {byte(rng.Uint32()), byte(rng.Uint32())}} {
			ip := netip.AddrFrom4([4]byte{a, b, low[0], low[1]})
			check(ip)
			check(netip.AddrFrom16(ip.As16())) // mapped: not Is4
		}
	}
	for first := range 256 {
		var b [16]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		b[0] = byte(first)
		check(netip.AddrFrom16(b))
		b[1] = 0x80 // fe80::/10 and the like
		check(netip.AddrFrom16(b))
	}
	for _, s := range []string{"::", "::1", "fe80::1", "fc00::1", "fd12::1", "ff02::1", "2001:db8::1"} {
		check(netip.MustParseAddr(s))
	}
	check(netip.Addr{})
}
