package builtin

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
)

// sessionFinding reports a person's session key seen in two places within
// its life. Which of the two was scored first is arrival order, so the
// explanation names this record's place and how many others the session
// held, never "new country" for a place that may be the person's home.
func (s *sighting) sessionFinding(h history) detectors.Finding {
	f := detectors.NewFinding(s.d.info, s.r, detectors.SeverityHigh, 75)
	var here []string
	for _, dim := range s.dims {
		f.Evidence[dim.name] = dim.member
		f.Evidence[dim.name+"s_known"] = strconv.Itoa(h.sizes.get(dim.name))
		here = append(here, dim.label())
	}
	switch {
	case s.hosting:
		here = append(here, "a hosting, VPN or Tor network")
		f.Evidence["network_kind"] = "hosting"
	case s.trusted:
		here = append(here, "a trusted network")
		f.Evidence["network_kind"] = "trusted"
	}
	others := h.sizes.get("country")
	label := s.label()
	f.Evidence["identity"] = label
	f.Evidence["moved"] = "session"
	f.Evidence["places_known"] = strconv.Itoa(others)
	if !h.since.IsZero() {
		f.Evidence["history_since"] = h.since.Format(time.RFC3339)
	}
	f.Explanation = fmt.Sprintf("%s moved within its life: it was used from %s (%s) and, in the same session, from %d other %s "+
		"(a place is a country, with its hosting, VPN and Tor networks counted apart); a person's session key that moves to "+
		"another country or to or from a hosting network is a session replayed elsewhere",
		label, s.ip, strings.Join(here, ", "), others, plural("place", others))
	f.Once = &detectors.Once{Key: s.onceKey(s.dims[0]), TTL: 2 * time.Hour}
	return f
}
