package builtin

import "net/netip"

// placesSomeone reports whether ip, a source address, can place the caller:
// a global unicast address (package netip's sense) that is neither private
// (RFC 1918, ULA) nor behind carrier NAT (cgnat). It is
//
//	ip.IsGlobalUnicast() && !ip.IsPrivate() && !cgnat.Contains(ip)
//
// with IPv4 decided on its first two bytes in one switch: the location
// detectors ask it of every event, and the calls it stands for (each
// unmapping and testing the address family again) were a tenth of
// access-key-new-location's instructions in a scan.
// TestPlacesSomeoneMatchesNetip holds the two equal.
func placesSomeone(ip netip.Addr) bool {
	if !ip.Is4() {
		return ip.IsGlobalUnicast() && !ip.IsPrivate() && !cgnat.Contains(ip)
	}
	a := ip.As4()
	switch a[0] {
	case 0:
		return a != [4]byte{}
	case 10, 127: // private, loopback
		return false
	case 100:
		return a[1]&0xc0 != 64 // 100.64.0.0/10
	case 169:
		return a[1] != 254 // link-local
	case 172:
		return a[1]&0xf0 != 16 // 172.16.0.0/12
	case 192:
		return a[1] != 168
	case 255:
		return a != [4]byte{255, 255, 255, 255}
	}
	return a[0]&0xf0 != 0xe0 // multicast
}
