package config

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/iamsentry/iamsentry/detectors"
)

var (
	accountPattern = regexp.MustCompile(`^\d{12}$`)
	vpcePattern    = regexp.MustCompile(`^vpce-[0-9a-f]{8,17}$`)
)

// settings checks and compiles the organisation-wide keys.
func (c *Config) settings() (*detectors.Settings, error) {
	s := &detectors.Settings{}
	var errs []error
	for i, a := range c.Accounts {
		if !accountPattern.MatchString(a) {
			errs = append(errs, c.errorf(fmt.Sprintf("accounts[%d]", i), "%q is not a 12-digit AWS account id", a))
			continue
		}
		s.Accounts = append(s.Accounts, a)
	}
	for i, v := range c.TrustedNetworks.CIDRs {
		p, err := parseCIDR(v)
		if err != nil {
			errs = append(errs, c.At(fmt.Sprintf("trusted_networks.cidrs[%d]", i), err))
			continue
		}
		s.TrustedCIDRs = append(s.TrustedCIDRs, p)
	}
	for i, v := range c.TrustedNetworks.VPCEndpoints {
		if !vpcePattern.MatchString(v) {
			errs = append(errs, c.errorf(fmt.Sprintf("trusted_networks.vpc_endpoints[%d]", i), "%q is not a VPC endpoint id (vpce- followed by 8 or 17 hex digits)", v))
			continue
		}
		s.TrustedVPCEndpoints = append(s.TrustedVPCEndpoints, v)
	}
	for i, v := range c.PrivilegedRoles {
		if err := checkARNPattern(v, ":role/"); err != nil {
			errs = append(errs, c.At(fmt.Sprintf("privileged_roles[%d]", i), err))
			continue
		}
		s.PrivilegedRoles = append(s.PrivilegedRoles, v)
	}
	for i, v := range c.SessionNames.Patterns {
		re, err := regexp.Compile(v)
		if err != nil {
			errs = append(errs, c.errorf(fmt.Sprintf("session_names.patterns[%d]", i), "%q is not an RE2 regular expression: %w", v, err))
			continue
		}
		s.SessionNamePatterns = append(s.SessionNamePatterns, re)
	}
	s.AWSASNs = append(detectors.DefaultAWSASNs(), c.Networks.AWSASNs...)
	s.HostingASNs = slices.DeleteFunc(append(detectors.DefaultHostingASNs(), c.Networks.HostingASNs...),
		func(asn uint32) bool { return slices.Contains(c.Networks.NotHostingASNs, asn) })
	for i, asn := range append(append(slices.Clone(c.Networks.AWSASNs), c.Networks.HostingASNs...), c.Networks.NotHostingASNs...) {
		if asn == 0 {
			errs = append(errs, c.errorf("networks", "entry %d: 0 is not an autonomous system number", i))
		}
	}
	return s, errors.Join(errs...)
}

// parseCIDR accepts a CIDR or a single address (a /32 or /128), and rejects
// a CIDR with host bits set, which is almost always a typo.
func parseCIDR(v string) (netip.Prefix, error) {
	if !strings.Contains(v, "/") {
		a, err := netip.ParseAddr(v)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is neither a CIDR nor an IP address", v)
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(v)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR: %s", v, netipReason(err))
	}
	if p != p.Masked() {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set; did you mean %s?", v, p.Masked())
	}
	return p, nil
}

// netipReason is the reason in a net/netip parse error, without the
// function name and input it starts with ("netip.ParsePrefix(\"…\"): ").
func netipReason(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "): "); i >= 0 {
		return msg[i+3:]
	}
	return msg
}

// checkARNPattern checks a wildcard pattern on ARNs: it must be an ARN
// pattern ("arn:" first) or start with a wildcard, and, when want is given
// and the resource part is literal, name that kind of resource.
func checkARNPattern(v, want string) error {
	switch {
	case v == "":
		return errors.New("empty pattern")
	case !strings.HasPrefix(v, "arn:") && !strings.HasPrefix(v, "*"):
		return fmt.Errorf("%q is not an ARN pattern (want e.g. \"arn:aws:iam::*:role/AdminRole\")", v)
	case want != "" && strings.HasPrefix(v, "arn:") && !strings.Contains(v, want) && !strings.Contains(v, "*"):
		return fmt.Errorf("%q names no %s ARN", v, strings.Trim(want, ":/"))
	}
	return nil
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
