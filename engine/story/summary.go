package story

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// summary is one paragraph for the analyst: who, from where, what, in what
// order, and why the story is as severe as it is.
func summary(s *Story, es []Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s story: %s", s.Severity, strings.Join(s.Identities, ", "))
	if ips := sourceIPs(es); len(ips) > 0 {
		fmt.Fprintf(&b, " from %s", strings.Join(ips, ", "))
	}
	fmt.Fprintf(&b, ", %s to %s (%s): ", s.FirstEventTime.Format(time.RFC3339), s.LastEventTime.Format(time.RFC3339),
		s.LastEventTime.Sub(s.FirstEventTime).Round(time.Second))
	const most = 8 // a longer story is summarised by its first steps
	for i, e := range es {
		if i == most {
			fmt.Fprintf(&b, "; and %d more", len(es)-most)
			break
		}
		if i > 0 {
			b.WriteString(", then ")
		}
		stage := string(e.Stage)
		if stage == "" {
			stage = "other"
		}
		fmt.Fprintf(&b, "%s %s (%s on %s by %s at %s)", strings.ToLower(e.Severity.String()), stage, e.Detector,
			orDash(e.EventName), shortARN(e.Principal), e.Time.Format("15:04:05"))
	}
	fmt.Fprintf(&b, ". %d finding(s) over %d stage(s)", len(es), len(s.Stages))
	if len(s.Stages) > 0 {
		names := make([]string, len(s.Stages))
		for i, st := range s.Stages {
			names[i] = string(st)
		}
		fmt.Fprintf(&b, ": %s", strings.Join(names, " → "))
	}
	b.WriteString(".")
	return b.String()
}

func sourceIPs(es []Entry) []string {
	var out []string
	for _, e := range es {
		if e.SourceIP != "" && !slices.Contains(out, e.SourceIP) {
			out = append(out, e.SourceIP)
		}
	}
	return out
}

// shortARN keeps the resource part of an ARN (user/alice,
// assumed-role/Admin/bob), which is what a person reads.
func shortARN(arn string) string {
	if arn == "" {
		return "-"
	}
	if i := strings.LastIndexByte(arn, ':'); i >= 0 && i+1 < len(arn) {
		return arn[i+1:]
	}
	return arn
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
