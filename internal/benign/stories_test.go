package benign_test

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/engine/story"
)

// stories holds the stories a consumer holds after every emission: the
// latest version of each, without those a later one superseded.
type stories map[string]story.Story

func (ss stories) add(emitted []story.Story) {
	for _, st := range emitted {
		for _, old := range st.Supersedes {
			delete(ss, old)
		}
		ss[st.ID] = st
	}
}

// bySeverity counts the stories by severity.
func (ss stories) bySeverity() map[detectors.Severity]int {
	out := map[detectors.Severity]int{}
	for _, st := range ss {
		out[st.Severity]++
	}
	return out
}

// above returns the stories more severe than sev, largest first.
func (ss stories) above(sev detectors.Severity) []story.Story {
	var out []story.Story
	for _, st := range ss {
		if st.Severity > sev {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, largest)
	return out
}

func largest(a, b story.Story) int {
	return cmp.Or(cmp.Compare(len(b.Identities), len(a.Identities)), cmp.Compare(len(b.Incidents), len(a.Incidents)),
		strings.Compare(a.ID, b.ID))
}

// report prints the stories by severity, by the number of stages they
// cover (with the stage pairs of two-stage stories: what benign chains
// look like), and the largest by identities, which is where links would
// over-merge unrelated people.
func (ss stories) report(w io.Writer) {
	bySev := ss.bySeverity()
	fmt.Fprintf(w, "   attack stories: %d (", len(ss))
	for i, sev := range []detectors.Severity{detectors.SeverityCritical, detectors.SeverityHigh, detectors.SeverityMedium, detectors.SeverityLow} {
		if i > 0 {
			fmt.Fprint(w, ", ")
		}
		fmt.Fprintf(w, "%d %v", bySev[sev], sev)
	}
	fmt.Fprintln(w, ")")
	byStages := map[int]int{}
	pairs := map[string]int{}
	for _, st := range ss {
		byStages[len(st.Stages)]++
		if len(st.Stages) == 2 {
			pair := []string{string(st.Stages[0]), string(st.Stages[1])}
			pairs[strings.Join(pair, " → ")+" "+st.Severity.String()]++
		}
	}
	fmt.Fprintf(w, "   stories by stages covered: %v; two-stage chains:", byStages)
	for _, p := range slices.SortedFunc(maps.Keys(pairs), func(a, b string) int { return cmp.Or(cmp.Compare(pairs[b], pairs[a]), strings.Compare(a, b)) }) {
		fmt.Fprintf(w, " %s (%d);", p, pairs[p])
	}
	fmt.Fprintln(w)
	all := slices.SortedFunc(maps.Values(ss), largest)
	for _, st := range all[:min(3, len(all))] {
		fmt.Fprintf(w, "   largest: %d identities, %d findings: %s\n", len(st.Identities), len(st.Incidents), clip(st.Summary, 600))
	}
	for _, st := range all {
		if ps := people(st); len(ps) > 1 {
			fmt.Fprintf(w, "   joins %d people %v: %s\n", len(ps), ps, clip(st.Summary, 400))
		}
	}
	for _, st := range ss.above(detectors.SeverityLow) {
		fmt.Fprintf(w, "   above LOW: %s\n", clip(st.Summary, 400))
	}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// people returns the people a story's identities name: IAM users and the
// e-mail session names of people's federated sessions. Roles, machines and
// keys are not people.
func people(st story.Story) []string {
	var out []string
	for _, id := range st.Identities {
		_, res, ok := strings.Cut(id, ":user/")
		if !ok {
			if _, sess, ok := strings.Cut(id, ":assumed-role/"); ok {
				if _, name, ok := strings.Cut(sess, "/"); ok && strings.Contains(name, "@") {
					res = name
				}
			}
		}
		if res != "" && !slices.Contains(out, res) {
			out = append(out, res)
		}
	}
	return out
}
