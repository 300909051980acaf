package detectors

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/internal/wildcard"
)

// Suppression is one allow-list entry of the configuration (the suppress
// list). A finding it matches is not alerted on but stays in the verdict,
// marked with the entry, and is counted: suppression is tuning, never
// silent loss. Every field that is set must match; unset fields match
// anything.
type Suppression struct {
	// Entry is the position of the entry in the suppress list, from 0.
	Entry int
	// Detector is a detector id, or "*" for every detector.
	Detector string
	// Principal is a wildcard pattern on the caller's ARN. It is matched
	// against the caller's ARN (for a session, the assumed-role session ARN)
	// and against the stable principal (for a session, the role that issued
	// it), so "arn:aws:iam::*:role/terraform-*" covers every session of
	// those roles.
	Principal string
	// SourceCIDR is the network the call came from; a call from a service
	// name or "AWS Internal" never matches a CIDR.
	SourceCIDR netip.Prefix
	// Account is the account the event was recorded in.
	Account string
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
func (s *Suppression) Matches(f *Finding, r *cloudtrail.Record) bool {
	if s.Detector != "*" && s.Detector != f.DetectorID {
		return false
	}
	if s.Account != "" && s.Account != f.AccountID && s.Account != r.AccountID() {
		return false
	}
	if s.SourceCIDR.IsValid() && !(r.SourceIsIP() && s.SourceCIDR.Contains(r.SourceIP.Unmap())) {
		return false
	}
	if s.Principal != "" && !s.matchesPrincipal(r) {
		return false
	}
	return true
}

func (s *Suppression) matchesPrincipal(r *cloudtrail.Record) bool {
	for _, arn := range [...]string{r.UserIdentity.ARN, r.StablePrincipal()} {
		if arn != "" && wildcard.Match(s.Principal, arn) {
			return true
		}
	}
	return false
}

// String describes the entry for logs: its position, what it matches and
// its reason.
func (s *Suppression) String() string {
	var parts []string
	parts = append(parts, "detector="+s.Detector)
	if s.Principal != "" {
		parts = append(parts, "principal="+s.Principal)
	}
	if s.SourceCIDR.IsValid() {
		parts = append(parts, "source_cidr="+s.SourceCIDR.String())
	}
	if s.Account != "" {
		parts = append(parts, "account="+s.Account)
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
