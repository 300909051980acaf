package detectors_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/internal/detectortest"
)

// TestSettingsTrustedIsTrustedSource: Trusted answers TrustedSource's
// yes or no, for every way a record can be trusted or not.
func TestSettingsTrustedIsTrustedSource(t *testing.T) {
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	base := detectortest.Base("sts.amazonaws.com", "AssumeRole", at)
	recs := []detectortest.Rec{
		base.With("sourceIPAddress", "198.51.100.7"),
		base.With("sourceIPAddress", "::ffff:198.51.100.7"),
		base.With("sourceIPAddress", "2001:db8::1"),
		base.With("sourceIPAddress", "203.0.113.9"),
		base.With("sourceIPAddress", "10.1.2.3").With("vpcEndpointId", "vpce-0a1b2c3d4e5f67890"),
		base.With("sourceIPAddress", "10.1.2.3").With("vpcEndpointId", "vpce-ffff"),
		base.With("sourceIPAddress", "ec2.amazonaws.com"),
	}
	for _, s := range []detectors.Settings{
		{},
		{TrustedCIDRs: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8::/32")}},
		{TrustedVPCEndpoints: []string{"vpce-0a1b2c3d4e5f67890"}},
	} {
		for _, rec := range recs {
			r := parse(t, rec)
			_, want := s.TrustedSource(r)
			if got := s.Trusted(r); got != want {
				t.Errorf("Trusted(%s via %q) = %v under %v/%v, TrustedSource says %v",
					r.SourceIPAddress, r.VPCEndpointID, got, s.TrustedCIDRs, s.TrustedVPCEndpoints, want)
			}
		}
	}
}

// TestSourceTrustedIsTrustedPerSettings: an event's SourceTrusted,
// remembered, is Trusted of its record under the Settings asked, also
// when one event is judged under two Settings in turn (a reload, tests).
func TestSourceTrustedIsTrustedPerSettings(t *testing.T) {
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	base := detectortest.Base("sts.amazonaws.com", "AssumeRole", at)
	settings := []*detectors.Settings{
		{},
		{TrustedCIDRs: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}},
		{TrustedVPCEndpoints: []string{"vpce-0a1b2c3d4e5f67890"}},
	}
	for _, rec := range []detectortest.Rec{
		base.With("sourceIPAddress", "198.51.100.7"),
		base.With("sourceIPAddress", "203.0.113.9"),
		base.With("sourceIPAddress", "10.1.2.3").With("vpcEndpointId", "vpce-0a1b2c3d4e5f67890"),
		base.With("sourceIPAddress", "ec2.amazonaws.com"),
	} {
		r := parse(t, rec)
		ev := &detectors.Event{Record: r}
		for _, order := range [][]int{{0, 1, 2}, {1, 1, 0, 2, 2, 1}} {
			for _, i := range order {
				s := settings[i]
				if got, want := s.SourceTrusted(ev), s.Trusted(r); got != want {
					t.Errorf("SourceTrusted(%s via %q) under settings %d = %v, Trusted says %v",
						r.SourceIPAddress, r.VPCEndpointID, i, got, want)
				}
			}
		}
	}
}
