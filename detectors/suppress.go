package detectors

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/internal/wildcard"
)

// Suppression is one allow-list entry of the configuration (the suppress
// list). A finding it matches is not alerted on but stays in the verdict,
// marked with the entry, and is counted: suppression is tuning, never
// silent loss. Every field that is set must match; unset fields match
// anything. Fields are matched against the record that raised the finding.
type Suppression struct {
	// Entry is the position of the entry in the suppress list, from 0.
	Entry int
	// Detector is a detector id, or "*" for every detector.
	Detector string
	// Principal is a wildcard pattern on the caller's ARN. It is matched
	// against the caller's ARN (for a session, the assumed-role session ARN)
	// and against the stable principal (for a session, the role that issued
	// it), so "arn:aws:iam::*:role/terraform-*" covers every session of
	// those roles. Case-sensitive, as ARNs are.
	Principal string
	// EventNames are wildcard patterns on eventName ("AttachRolePolicy",
	// "List*"); any one must match. Case-insensitive, as IAM actions are.
	EventNames []string
	// Targets are wildcard patterns on what the event acts on (see
	// Targets); any one must match any target of the record, and a record
	// without a target never matches. Case-sensitive.
	Targets []string
	// UserAgent is a wildcard pattern on userAgent, case-insensitive.
	UserAgent string
	// InvokedBy is a wildcard pattern on userIdentity.invokedBy (the AWS
	// service that made the call on the caller's behalf, e.g.
	// "cloudformation.amazonaws.com"), case-insensitive. A record without
	// invokedBy never matches it.
	InvokedBy string
	// SourceCIDR is the network the call came from; a call from a service
	// name or "AWS Internal" never matches a CIDR.
	SourceCIDR netip.Prefix
	// SourceASN is the autonomous system the call came from, resolved
	// through Geo; 0 means any. A call from a service name, or from an
	// address Geo does not know, never matches it.
	SourceASN uint32
	// Geo resolves source addresses for SourceASN; without it an entry
	// with SourceASN matches nothing (the configuration refuses source_asn
	// without an ASN database).
	Geo GeoLookup
	// Account is the account the event was recorded in.
	Account string
	// Expires, when set, is the first event time the entry no longer
	// matches. It is judged on event time, like everything else, so a
	// backtest of last month is tuned as live traffic was.
	Expires time.Time
	// Reason says why the entry exists; it is shown with every finding it
	// suppresses.
	Reason string
}

// Suppressed marks a finding a Suppression matched.
type Suppressed struct {
	Entry  int    `json:"entry"`
	Reason string `json:"reason"`
}

// Matches reports whether the entry covers finding f raised on record r.
// The cheap fields are checked first; the target, which decodes
// requestParameters, last.
func (s *Suppression) Matches(f *Finding, r *cloudtrail.Record) bool {
	if s.Detector != "*" && s.Detector != f.DetectorID {
		return false
	}
	if !s.Expires.IsZero() && !r.EventTime.Before(s.Expires) {
		return false
	}
	if s.Account != "" && s.Account != f.AccountID && s.Account != r.AccountID() {
		return false
	}
	if len(s.EventNames) > 0 && !matchAny(s.EventNames, r.EventName, wildcard.MatchFold) {
		return false
	}
	if s.Principal != "" && !s.matchesPrincipal(r) {
		return false
	}
	if s.InvokedBy != "" && (r.UserIdentity.InvokedBy == "" || !wildcard.MatchFold(s.InvokedBy, r.UserIdentity.InvokedBy)) {
		return false
	}
	if s.UserAgent != "" && !wildcard.MatchFold(s.UserAgent, r.UserAgent) {
		return false
	}
	if s.SourceCIDR.IsValid() && !(r.SourceIsIP() && s.SourceCIDR.Contains(r.SourceIP.Unmap())) {
		return false
	}
	if s.SourceASN != 0 && !s.matchesASN(r) {
		return false
	}
	if len(s.Targets) > 0 && !s.matchesTarget(r) {
		return false
	}
	return true
}

func matchAny(patterns []string, s string, match func(pattern, s string) bool) bool {
	for _, p := range patterns {
		if match(p, s) {
			return true
		}
	}
	return false
}

func (s *Suppression) matchesPrincipal(r *cloudtrail.Record) bool {
	for _, arn := range [...]string{r.UserIdentity.ARN, r.StablePrincipal()} {
		if arn != "" && wildcard.Match(s.Principal, arn) {
			return true
		}
	}
	return false
}

func (s *Suppression) matchesASN(r *cloudtrail.Record) bool {
	if s.Geo == nil || !r.SourceIsIP() {
		return false
	}
	loc, ok := s.Geo.Lookup(r.SourceIP.Unmap())
	return ok && loc.ASN == s.SourceASN
}

func (s *Suppression) matchesTarget(r *cloudtrail.Record) bool {
	for _, t := range Targets(r) {
		if matchAny(s.Targets, t, wildcard.Match) {
			return true
		}
	}
	return false
}

// TargetKeys are the requestParameters keys that name what an event acts
// on, in the order Targets returns their values.
var TargetKeys = []string{
	"userName", "roleName", "groupName", "policyArn", "policyName", "instanceProfileName",
	"roleArn", "permissionSetArn", "sAMLProviderArn", "openIDConnectProviderArn",
}

// Targets returns what record r acts on: the string values of the
// top-level requestParameters keys listed in TargetKeys, as given (a name
// for userName/roleName/groupName/policyName/instanceProfileName, an ARN
// for the *Arn keys). AttachRolePolicy has two targets, the role name and
// the policy ARN. A record whose requestParameters hold none of these
// keys (ListUsers, GetCallerIdentity, a CreateAccessKey for the caller
// itself) or are not a JSON object has no target.
func Targets(r *cloudtrail.Record) []string {
	if len(r.RequestParameters) == 0 {
		return nil
	}
	var params map[string]json.RawMessage
	if json.Unmarshal(r.RequestParameters, &params) != nil {
		return nil
	}
	var out []string
	for _, k := range TargetKeys {
		var v string
		if raw, ok := params[k]; ok && json.Unmarshal(raw, &v) == nil && v != "" {
			out = append(out, v)
		}
	}
	return out
}

// String describes the entry for logs: its position, what it matches and
// its reason.
func (s *Suppression) String() string {
	var parts []string
	add := func(key, v string) {
		if v != "" {
			parts = append(parts, key+"="+v)
		}
	}
	add("detector", s.Detector)
	add("principal", s.Principal)
	add("event_name", strings.Join(s.EventNames, ","))
	add("target", strings.Join(s.Targets, ","))
	add("user_agent", s.UserAgent)
	add("invoked_by", s.InvokedBy)
	if s.SourceCIDR.IsValid() {
		add("source_cidr", s.SourceCIDR.String())
	}
	if s.SourceASN != 0 {
		add("source_asn", strconv.FormatUint(uint64(s.SourceASN), 10))
	}
	add("account", s.Account)
	if !s.Expires.IsZero() {
		add("expires", s.Expires.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("suppress[%d] %s (%s)", s.Entry, strings.Join(parts, " "), s.Reason)
}

// Suppress returns the first entry of list that matches f on r, or nil.
func Suppress(list []Suppression, f *Finding, r *cloudtrail.Record) *Suppression {
	for i := range list {
		if list[i].Matches(f, r) {
			return &list[i]
		}
	}
	return nil
}
