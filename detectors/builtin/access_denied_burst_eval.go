package builtin

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// How access-denied-burst judges a denial once the batch executed.

func (db *deniedBurst) findings() ([]detectors.Finding, error) {
	past, err := db.past.Get()
	if err != nil {
		return nil, err
	}
	known, days := pastDenials(past.Members)
	chronic := len(days) >= db.d.opts.ChronicDays
	var best *burst
	for _, g := range db.grids {
		b, err := db.judge(g, known, chronic)
		if err != nil {
			return nil, err
		}
		if b != nil && (best == nil || b.sev > best.sev) {
			best = b
		}
	}
	if best == nil {
		return nil, nil
	}
	return []detectors.Finding{db.finding(best, chronic, len(days))}, nil
}

// pastDenials reads the history members ("service@day") into the services
// denied on earlier days and those days.
func pastDenials(members []string) (services, days map[string]bool) {
	services, days = map[string]bool{}, map[string]bool{}
	for _, m := range members {
		svc, day, ok := strings.Cut(m, "@")
		if !ok {
			continue
		}
		services[svc], days[day] = true, true
	}
	return services, days
}

// judge returns the burst a window shows, or nil when it is below the
// thresholds or, for a chronically denied principal, reaches no new service.
func (db *deniedBurst) judge(g deniedGrid, known map[string]bool, chronic bool) (*burst, error) {
	b := &burst{win: g.win}
	var err error
	if b.actions, err = g.actions.Get(); err != nil {
		return nil, err
	}
	if b.services, err = g.services.Get(); err != nil {
		return nil, err
	}
	if b.sensitive, err = g.sensitive.Get(); err != nil {
		return nil, err
	}
	o := db.d.opts
	if b.actions.Count < g.minActions || b.services.Count < o.MinServices {
		return nil, nil
	}
	newSensitive := false
	for _, s := range b.services.Members {
		if !known[s] {
			b.newServices = append(b.newServices, s)
			newSensitive = newSensitive || db.d.sensitive[s]
		}
	}
	if chronic && len(b.newServices) == 0 {
		return nil, nil
	}
	b.sev = detectors.SeverityMedium
	if b.sensitive.Count >= o.MinSensitive && (!chronic || newSensitive) {
		b.sev = detectors.SeverityHigh
	}
	return b, nil
}

func (db *deniedBurst) finding(b *burst, chronic bool, days int) detectors.Finding {
	r := db.r
	score := 55 + min(15, b.actions.Count-db.d.opts.MinActions)
	if b.win.Width > db.d.opts.Window {
		score -= 5 // paced over the slow scale
	}
	if b.sev == detectors.SeverityHigh {
		score = 75 + min(15, b.sensitive.Count)
	}
	f := detectors.NewFinding(db.d.info, r, b.sev, score)
	// One incident per principal, severity and UTC day of the window: an
	// attacker's bursts of one day are one incident, and an application
	// that is denied all day raises at most once a day until it is known.
	day := state.BucketStart(b.win.Start, 24*time.Hour).Format("20060102")
	f.Once = detectors.OncePer(db.ev.Key("principal:"+db.who, "denied:raised:"+b.sev.String()+":"+day), 24*time.Hour)
	services := sorted(b.services.Members)
	f.Evidence["principal"] = db.who
	f.Evidence["denied_actions"] = strconv.Itoa(b.actions.Count)
	f.Evidence["denied_services"] = strconv.Itoa(b.services.Count)
	f.Evidence["services"] = strings.Join(services, ",")
	f.Evidence["sample_actions"] = strings.Join(b.actions.Members, ",")
	f.Evidence["sensitive_actions"] = strconv.Itoa(b.sensitive.Count)
	f.Evidence["window_start"] = b.win.Start.Format(time.RFC3339)
	f.Evidence["window_end"] = b.win.End().Format(time.RFC3339)
	f.Evidence["earlier_denied_days"] = strconv.Itoa(days)
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s was denied %d distinct actions across %d services (%s) between %s and %s",
		db.who, b.actions.Count, b.services.Count, strings.Join(services, ", "),
		b.win.Start.Format(time.RFC3339), b.win.End().Format(time.RFC3339))
	if b.sensitive.Count > 0 {
		fmt.Fprintf(&sb, ", %d of them on identity, key, secret or organisation services", b.sensitive.Count)
	}
	fmt.Fprintf(&sb, "; e.g. %s", strings.Join(b.actions.Members, ", "))
	if chronic {
		fmt.Fprintf(&sb, "; it is denied on %d of the last %d days, but never before on %s",
			days, db.d.opts.BaselineDays, strings.Join(sorted(b.newServices), ", "))
	} else {
		sb.WriteString("; a caller trying what its credentials allow")
	}
	f.Explanation = sb.String()
	return f
}
