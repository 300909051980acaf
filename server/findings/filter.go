package findings

import (
	"slices"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// Filter selects findings, for a Watch call or a sink. The zero Filter
// keeps every finding that is not suppressed (and, for a Watch call, no
// story updates).
type Filter struct {
	// MinSeverity drops findings less severe; SEVERITY_UNSPECIFIED keeps all.
	MinSeverity iamsentryv1.Severity
	// Detectors keeps only findings of these detector ids; empty keeps all.
	Detectors []string
	// IncludeSuppressed keeps findings a suppress entry matched.
	IncludeSuppressed bool

	// Stories, for a Watch subscription, also delivers story updates of
	// MinSeverity or more (Detectors does not narrow them). Sinks choose
	// stories by implementing StorySink instead.
	Stories bool
	// NoFindings, for a Watch subscription, delivers no findings: with
	// Stories, story updates only.
	NoFindings bool
}

// MatchStory reports whether a Watch subscription with this filter takes
// story update st.
func (fl *Filter) MatchStory(st *iamsentryv1.Story) bool {
	return fl.Stories && st.GetSeverity() >= fl.MinSeverity
}

// Match reports whether f passes the filter.
func (fl *Filter) Match(f *iamsentryv1.Finding) bool {
	if f.GetSuppression() != nil && !fl.IncludeSuppressed {
		return false
	}
	if f.GetSeverity() < fl.MinSeverity {
		return false
	}
	return len(fl.Detectors) == 0 || slices.Contains(fl.Detectors, f.GetDetectorId())
}
