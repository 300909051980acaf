// Package consistency checks the product's promise about delivery: the
// findings of a record stream do not depend on the order CloudTrail delivers
// it in (within the allowed lateness), on redeliveries, or on how many
// replicas score it. Findings are compared as incidents (Finding.Incident):
// which record completes a threshold depends on arrival order, the incident
// does not.
package consistency

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/iamsentry/iamsentry/config"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/internal/corpus"
	"github.com/iamsentry/iamsentry/state"
)

// Config is the configuration the checks run with: the generated corpus's
// office network is trusted, its admin role privileged, its session naming
// the convention.
const Config = `
accounts: ["111122223333"]
trusted_networks:
  cidrs: ["192.0.2.0/24"]
privileged_roles: ["arn:aws:iam::*:role/AdminRole"]
session_names:
  patterns: ['^[a-z0-9]+@example\.com$']
`

// Lateness is how late CloudTrail may deliver a record.
const Lateness = detectors.AllowedLateness

// NewEngine returns an engine on store with every built-in detector,
// configured by Config.
func NewEngine(store state.Store) (*engine.Engine, error) {
	b, err := config.ParseAndBuild([]byte(Config), builtin.Specs())
	if err != nil {
		return nil, err
	}
	return engine.New(b.Registry, store, engine.Options{Suppress: b.Suppress}), nil
}

// Raws returns the records' JSON.
func Raws(recs []corpus.Record) [][]byte {
	out := make([][]byte, len(recs))
	for i, r := range recs {
		out[i] = r.JSON
	}
	return out
}

// Score scores raws in batches of size n, in order.
func Score(ctx context.Context, e *engine.Engine, raws [][]byte, n int) ([]engine.Verdict, error) {
	var out []engine.Verdict
	for i := 0; i < len(raws); i += n {
		vs, err := e.Score(ctx, engine.Batch{Records: raws[i:min(i+n, len(raws))]})
		if err != nil {
			return nil, fmt.Errorf("batch at record %d: %w", i, err)
		}
		out = append(out, vs...)
	}
	return out, nil
}

// Incidents counts the incidents alerted in vs (unsuppressed findings of
// ALERT verdicts; duplicates repeat findings already counted).
func Incidents(vs []engine.Verdict) map[string]int {
	out := map[string]int{}
	for _, v := range vs {
		if v.Outcome != engine.OutcomeAlert {
			continue
		}
		for _, f := range v.Findings {
			if f.Suppressed == nil {
				out[incidentKey(f.Incident, f.Severity.String())]++
			}
		}
	}
	return out
}

// AddVerdictIncidents counts into m the incidents in verdicts as the API
// returns them: the unsuppressed findings of ALERT verdicts and, with
// duplicates, of DUPLICATE ones too (a retry after a lost reply brings its
// findings back as a DUPLICATE).
func AddVerdictIncidents(m map[string]int, verdicts []*iamsentryv1.Verdict, duplicates bool) {
	for _, v := range verdicts {
		switch v.GetOutcome() {
		case iamsentryv1.Outcome_OUTCOME_ALERT:
		case iamsentryv1.Outcome_OUTCOME_DUPLICATE:
			if !duplicates {
				continue
			}
		default:
			continue
		}
		for _, f := range v.GetFindings() {
			if f.GetSuppression() == nil {
				m[incidentKey(f.GetIncident(), strings.TrimPrefix(f.GetSeverity().String(), "SEVERITY_"))]++
			}
		}
	}
}

// incidentKey keys the counts by incident and severity: an incident a
// later record escalates (admin-policy-attached's grant, HIGH, then the
// late creation's CRITICAL on the same incident) is raised once at each
// severity, which is not a repeat.
func incidentKey(incident, severity string) string { return incident + " @" + severity }

// incidentName is the incident of a key of Incidents.
func incidentName(k string) string {
	name, _, _ := strings.Cut(k, " @")
	return name
}

// names is the set of incidents of a count map.
func names(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, n := range m {
		out[incidentName(k)] += n
	}
	return out
}

// ByDetector counts incidents per detector.
func ByDetector(incidents map[string]int) map[string]int {
	out := map[string]int{}
	for k := range names(incidents) {
		det, _, _ := strings.Cut(k, "/")
		out[det]++
	}
	return out
}

// Diff describes how two incident sets differ, "" when they hold the same
// incidents. Counts are not compared: see Repeated.
func Diff(want, got map[string]int) string { return diffKeys(names(want), names(got)) }

// DiffSeverities is Diff that also compares the highest severity each
// incident was raised at. An incident a later record escalates is raised
// at the lower severity first when the escalating record is scored before
// the other (see incidentKey): order-free detection promises the same
// incidents reaching the same severity, not the same steps on the way.
func DiffSeverities(want, got map[string]int) string { return diffKeys(highest(want), highest(got)) }

// highest keys each incident of m by the highest severity it was raised
// at.
func highest(m map[string]int) map[string]int {
	top := map[string]detectors.Severity{}
	for k := range m {
		name, sev, _ := strings.Cut(k, " @")
		s, _ := detectors.ParseSeverity(sev) // the keys hold Severity.String
		top[name] = max(top[name], s)
	}
	out := map[string]int{}
	for name, s := range top {
		out[incidentKey(name, s.String())] = 1
	}
	return out
}

// diffKeys lists the keys of want missing from got, then those of got
// that want lacks.
func diffKeys(want, got map[string]int) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] == 0 {
			fmt.Fprintf(&b, "  missing: %s\n", k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if want[k] == 0 {
			fmt.Fprintf(&b, "  extra:   %s\n", k)
		}
	}
	return b.String()
}

// Repeated lists incidents alerted more than once at one severity.
func Repeated(incidents map[string]int) []string { return RepeatedBeyond(nil, incidents) }

// RepeatedBeyond lists incidents got alerted more often, at one severity,
// than want did (and more than once): a corpus may hold one event twice
// under two ids, which one process raises twice too.
func RepeatedBeyond(want, got map[string]int) []string {
	var out []string
	for k, n := range got {
		if n > max(1, want[k]) {
			out = append(out, fmt.Sprintf("%s ×%d", k, n))
		}
	}
	slices.Sort(out)
	return out
}
