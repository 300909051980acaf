package detectors

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAppendUnixNanoIsAppendInt: the event identity's time is the decimal
// of UnixNano for whole seconds, fractions, the epoch, times before it and
// the edges of what UnixNano can hold.
func TestAppendUnixNanoIsAppendInt(t *testing.T) {
	times := []time.Time{
		time.Unix(0, 0), time.Unix(1, 0), time.Unix(-1, 0), time.Unix(9, 0), time.Unix(10, 0),
		time.Unix(1767225600, 0), time.Unix(1767225600, 1), time.Unix(1767225600, 999999999),
		time.Unix(1e9-1, 0), time.Unix(1e9, 0), time.Unix(1e10-1, 0), time.Unix(1e10, 0), time.Unix(maxUnixNanoSecond, 0), time.Unix(maxUnixNanoSecond, 854775807), time.Unix(maxUnixNanoSecond+1, 0),
		time.Unix(0, math.MinInt64), time.Date(2026, 12, 6, 9, 0, 0, 0, time.FixedZone("x", 3600)),
	}
	for sec := int64(1); sec < 1e11; sec = sec*7 + 3 {
		times = append(times, time.Unix(sec, 0), time.Unix(-sec, 0))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 { // ten digits, each digit pair at each place
		times = append(times, time.Unix(1e9+rng.Int64N(maxUnixNanoSecond-1e9+1), 0))
	}
	for _, tm := range times {
		if got, want := string(appendUnixNano([]byte("p:"), tm)), "p:"+strconv.FormatInt(tm.UnixNano(), 10); got != want {
			t.Errorf("appendUnixNano(%v) = %q, want %q", tm, got, want)
		}
	}
}

// TestIdentityCenterRoleIsRoleNamePrefix: IdentityCenterRole is the
// prefix test on RoleNameFromARN, for role ARNs with and without paths and
// for ARNs and strings that are not a role's.
func TestIdentityCenterRoleIsRoleNamePrefix(t *testing.T) {
	for _, arn := range []string{
		"arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123abcd",
		"arn:aws:iam::111122223333:role/AWSReservedSSO_ReadOnly_99",
		"arn:aws:iam::111122223333:role/AWSReservedSSO_", "arn:aws:iam::111122223333:role/AWSReservedSSO",
		"arn:aws:iam::111122223333:role/deploy", "arn:aws:iam::111122223333:role/AWSReservedSSO_x/deploy",
		"arn:aws:iam::111122223333:user/AWSReservedSSO_Admin", "AWSReservedSSO_Admin", "/AWSReservedSSO_Admin",
		"arn:aws:iam::111122223333:role/", ":role/AWSReservedSSO_", "", "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_A/alice",
	} {
		if got, want := IdentityCenterRole(arn), strings.HasPrefix(RoleNameFromARN(arn), "AWSReservedSSO_"); got != want {
			t.Errorf("IdentityCenterRole(%q) = %v, want %v", arn, got, want)
		}
	}
}

// TestTrustedCIDRIsContains: trustedCIDR is the first prefix whose
// Contains holds the address, for IPv4, IPv6 and mapped addresses and
// prefixes of every length, unmasked and zero ones included.
func TestTrustedCIDRIsContains(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	addr4 := func() netip.Addr {
		// Few distinct high bytes, so prefixes often hold the address.
		return netip.AddrFrom4([4]byte{byte(rng.IntN(3)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
	}
	prefix := func() netip.Prefix {
		switch rng.IntN(6) {
		case 0:
			return netip.PrefixFrom(netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: byte(rng.IntN(3))}), 96+rng.IntN(33))
		case 1:
			return netip.PrefixFrom(netip.MustParseAddr("2001:db8::1"), rng.IntN(129))
		case 2:
			return netip.Prefix{}
		}
		return netip.PrefixFrom(addr4(), rng.IntN(33))
	}
	for range 20000 {
		cidrs := make([]netip.Prefix, rng.IntN(4))
		for i := range cidrs {
			cidrs[i] = prefix()
		}
		ip := addr4()
		switch rng.IntN(4) {
		case 0:
			ip = netip.AddrFrom16(ip.As16())
		case 1:
			ip = netip.MustParseAddr("2001:db8::7")
		}
		want := -1
		for i, p := range cidrs {
			if p.Contains(ip) {
				want = i
				break
			}
		}
		if got := trustedCIDR(cidrs, ip); got != want {
			t.Fatalf("trustedCIDR(%v, %v) = %d, Contains says %d", cidrs, ip, got, want)
		}
	}
}
