package policy

import (
	"net/netip"
	"strings"
	"time"
)

// Conditions that hold for every request. An attacker adds one to make a
// grant of "*" look scoped; the analyzer reads such a condition as absent,
// so the grant keeps its full severity. Only conditions that hold for every
// signed API request are listed: a condition that merely holds for most is
// still a condition.

// presentKeys are global condition keys present in every signed request
// (IAM User Guide, "AWS global condition context keys": available in "all
// requests").
var presentKeys = map[string]bool{
	"aws:securetransport":       true,
	"aws:currenttime":           true,
	"aws:epochtime":             true,
	"aws:principalarn":          true,
	"aws:principalaccount":      true,
	"aws:principaltype":         true,
	"aws:userid":                true,
	"aws:requestedregion":       true,
	"aws:viaawsservice":         true,
	"aws:principalisawsservice": true,
}

// alwaysTrue reports whether one condition (operator, key, values) holds
// for every request.
func alwaysTrue(op, key string, vals []string) bool {
	op, key = strings.ToLower(op), strings.ToLower(key)
	ifExists := strings.HasSuffix(op, "ifexists")
	base := strings.TrimSuffix(op, "ifexists")
	present := presentKeys[key] || ifExists
	has := func(want ...string) bool {
		for _, v := range vals {
			for _, w := range want {
				if strings.EqualFold(v, w) {
					return true
				}
			}
		}
		return false
	}
	switch base {
	case "null":
		// Null false: "the key is present".
		return presentKeys[key] && has("false")
	case "bool":
		// Every API request is made over TLS; a plain-HTTP request never
		// reaches IAM's authorization.
		return key == "aws:securetransport" && has("true")
	case "stringlike", "arnlike":
		return present && has("*")
	case "ipaddress":
		return key == "aws:sourceip" && allIPs(vals)
	case "dategreaterthan", "dategreaterthanequals":
		return key == "aws:currenttime" && allBefore(vals, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
	case "numericgreaterthanequals":
		return key == "aws:epochtime" && has("0")
	}
	return false
}

// allIPs reports whether a prefix covers a whole address family
// (0.0.0.0/0, ::/0): every caller on the internet.
func allIPs(vals []string) bool {
	for _, v := range vals {
		if p, err := netip.ParsePrefix(v); err == nil && p.Bits() == 0 {
			return true
		}
	}
	return false
}

// allBefore reports whether every value is a date before t: "after 1970"
// holds for every request.
func allBefore(vals []string, t time.Time) bool {
	for _, v := range vals {
		d, err := time.Parse(time.RFC3339, v)
		if err != nil {
			d, err = time.Parse("2006-01-02", v)
		}
		if err != nil || !d.Before(t) {
			return false
		}
	}
	return len(vals) > 0
}
