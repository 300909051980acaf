package findings

import (
	"slices"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// Filter selects findings, for a Watch call or a sink. The zero Filter
// keeps every finding that is not suppressed.
type Filter struct {
	// MinSeverity drops findings less severe; SEVERITY_UNSPECIFIED keeps all.
	MinSeverity iamsentryv1.Severity
	// Detectors keeps only findings of these detector ids; empty keeps all.
	Detectors []string
	// IncludeSuppressed keeps findings a suppress entry matched.
	IncludeSuppressed bool
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
