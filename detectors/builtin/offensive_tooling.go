package builtin

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/internal/wildcard"
	"github.com/iamsentry/iamsentry/state"
)

// OffensiveToolingID is the stable id of the offensive-tooling detector.
const OffensiveToolingID = "offensive-tooling"

// OffensiveToolingOptions are the keys under detectors.offensive-tooling.
type OffensiveToolingOptions struct {
	// ScannerPrincipals are wildcard patterns ('*', '?') on the caller ARN
	// or, for sessions, the issuing role ARN, of the organisation's own
	// security scanners: their calls with a scanner's user agent
	// (ScoutSuite, Prowler, CloudMapper, Cloudsplaining, PMapper) raise
	// nothing. Attack frameworks and penetration-testing distributions
	// are raised whoever uses them. Default none.
	ScannerPrincipals []string `yaml:"scanner_principals"`
	// IgnoreTools are tool names (as in the finding's evidence "tool",
	// e.g. "stratus-red-team") never raised, for an organisation that runs
	// them on purpose everywhere. Default none.
	IgnoreTools []string `yaml:"ignore_tools"`
}

// DefaultOffensiveToolingOptions returns the defaults.
func DefaultOffensiveToolingOptions() OffensiveToolingOptions { return OffensiveToolingOptions{} }

// toolKind is what a user agent reveals about the caller's tooling.
type toolKind int

const (
	toolFramework    toolKind = iota // an attack framework
	toolDistribution                 // a penetration-testing Linux distribution
	toolScanner                      // a security scanner (attackers use them too)
)

var toolKindNames = [...]string{"attack framework", "penetration-testing distribution", "security scanner"}

// offensiveTool is one tool recognised by a user agent.
type offensiveTool struct {
	name   string
	needle string // lower case
	match  matchMode
	kind   toolKind
}

// matchMode says how a needle must sit in a user agent.
type matchMode int

const (
	anywhere matchMode = iota // any occurrence
	word                      // no letter right before or after ("pacu", not "pacuare")
	platform                  // in a version or platform string: right after a digit, '-', '.' or '#' ("6.5.0-kali3", "12parrot1", "distrib#kali"), no letter after
)

// offensiveTools are the tools recognised by default. Distributions show
// in the AWS CLI's and SDKs' platform part ("Linux/6.3.0-kali1-amd64",
// "distrib#kali.2023", "md/distrib#parrot"), which is what GuardDuty's
// PenTest findings read too.
var offensiveTools = []offensiveTool{
	{"pacu", "pacu", word, toolFramework},
	{"stratus-red-team", "stratus-red-team", anywhere, toolFramework},
	{"grimoire", "exec-env/grimoire", anywhere, toolFramework}, // DataDog's Stratus Red Team driver
	{"enumerate-iam", "enumerate-iam", anywhere, toolFramework},
	{"enumerate-iam", "enumerate_iam", anywhere, toolFramework},
	{"cloudfox", "cloudfox", anywhere, toolFramework},
	{"weirdaal", "weirdaal", anywhere, toolFramework},
	{"trufflehog", "trufflehog", anywhere, toolFramework},
	{"kali", "kali", platform, toolDistribution},
	{"parrot", "parrot", platform, toolDistribution},
	{"pentoo", "pentoo", platform, toolDistribution},
	{"blackarch", "blackarch", platform, toolDistribution},
	{"scoutsuite", "scoutsuite", anywhere, toolScanner},
	{"scoutsuite", "scout suite", anywhere, toolScanner},
	{"prowler", "prowler", anywhere, toolScanner},
	{"cloudmapper", "cloudmapper", anywhere, toolScanner},
	{"cloudsplaining", "cloudsplaining", anywhere, toolScanner},
	{"pmapper", "pmapper", word, toolScanner},
}

// OffensiveTooling raises LOW when a call's user agent names an attack
// framework (Pacu, Stratus Red Team and its driver Grimoire, enumerate-iam,
// CloudFox, WeirdAAL, TruffleHog), a build of the AWS CLI or an SDK on a penetration-testing
// distribution (Kali, Parrot, Pentoo, BlackArch), or a security scanner
// (ScoutSuite, Prowler, CloudMapper, Cloudsplaining, PMapper) run by a
// principal that is not a declared scanner. On its own it is a stage
// signal: the user agent is the caller's to choose, so its absence proves
// nothing and its presence is worth a look, and a story rises with it.
// One finding per principal, tool and UTC day.
type OffensiveTooling struct {
	info     detectors.Info
	opts     OffensiveToolingOptions
	disabled map[string]bool
}

// NewOffensiveTooling builds the detector from cfg, rejecting bad options
// with *OptionError values, joined.
func NewOffensiveTooling(cfg detectors.Config) (detectors.Detector, error) {
	opts := DefaultOffensiveToolingOptions()
	if err := cfg.Decode(&opts); err != nil {
		return nil, err
	}
	d := &OffensiveTooling{
		info: detectors.Info{
			ID:    OffensiveToolingID,
			Title: "Offensive tooling in the user agent",
			Description: "A call's user agent names an attack framework (Pacu, Stratus Red Team, enumerate-iam, " +
				"CloudFox), a penetration-testing distribution's build of the AWS CLI or an SDK (Kali, Parrot, " +
				"Pentoo), or a security scanner (ScoutSuite, Prowler, CloudMapper) outside the declared scanner " +
				"principals: LOW on its own, a stage of an attack story; one per principal, tool and day.",
			Severity:   detectors.SeverityLow,
			Techniques: []string{"T1588.002", "T1059"},
		},
		opts:     opts,
		disabled: map[string]bool{},
	}
	var errs []error
	for i, p := range opts.ScannerPrincipals {
		if strings.TrimSpace(p) == "" {
			errs = append(errs, &detectors.OptionError{Key: fmt.Sprintf("scanner_principals[%d]", i), Reason: "empty pattern"})
		}
	}
	for i, name := range opts.IgnoreTools {
		if !slices.ContainsFunc(offensiveTools, func(t offensiveTool) bool { return t.name == name }) {
			errs = append(errs, &detectors.OptionError{Key: fmt.Sprintf("ignore_tools[%d]", i), Reason: fmt.Sprintf("unknown tool %q", name)})
		}
		d.disabled[name] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return d, nil
}

// Info implements Detector.
func (d *OffensiveTooling) Info() detectors.Info { return d.info }

// Observe implements Detector.
func (d *OffensiveTooling) Observe(ev *detectors.Event, _ *state.Batch) detectors.Evaluation {
	r := ev.Record
	if r.UserAgent == "" || r.UserIdentity.Type == "AWSService" {
		return nil
	}
	tool, ok := recogniseTool(r.UserAgent)
	if !ok || d.disabled[tool.name] {
		return nil
	}
	principal := r.StablePrincipal()
	if principal == "" {
		return nil
	}
	if tool.kind == toolScanner && d.scanner(r) {
		return nil
	}
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) {
		return []detectors.Finding{d.finding(ev, r, tool, principal)}, nil
	})
}

// recogniseTool returns the first tool whose needle the user agent holds.
func recogniseTool(ua string) (offensiveTool, bool) {
	t := recognisedTools.get(ua)
	return t, t.needle != ""
}

// recognisedTools remembers scanTools per distinct user agent: a fleet
// sends a few hundred, and scanning each for every needle cost more than
// the rest of the detector.
var recognisedTools = newStringMemo(scanTools)

// scanTools returns the first tool whose needle ua holds, the zero tool
// when none does.
func scanTools(ua string) offensiveTool {
	lower := strings.ToLower(ua)
	for _, t := range offensiveTools {
		if containsToken(lower, t.needle, t.match) {
			return t
		}
	}
	return offensiveTool{}
}

// containsToken reports whether s holds needle as mode asks.
func containsToken(s, needle string, mode matchMode) bool {
	for from := 0; ; {
		i := strings.Index(s[from:], needle)
		if i < 0 {
			return false
		}
		i += from
		end := i + len(needle)
		after := end == len(s) || !isLetter(s[end])
		switch mode {
		case anywhere:
			return true
		case word:
			if after && (i == 0 || !isLetter(s[i-1])) {
				return true
			}
		case platform:
			if after && i > 0 && strings.IndexByte("0123456789-.#", s[i-1]) >= 0 {
				return true
			}
		}
		from = i + 1
	}
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// scanner reports whether the caller is a declared scanner principal.
func (d *OffensiveTooling) scanner(r *cloudtrail.Record) bool {
	for _, p := range d.opts.ScannerPrincipals {
		if wildcard.Match(p, r.StablePrincipal()) || wildcard.Match(p, r.UserIdentity.ARN) {
			return true
		}
	}
	return false
}

func (d *OffensiveTooling) finding(ev *detectors.Event, r *cloudtrail.Record, tool offensiveTool, principal string) detectors.Finding {
	score := map[toolKind]int{toolFramework: 40, toolDistribution: 35, toolScanner: 25}[tool.kind]
	f := detectors.NewFinding(d.info, r, d.info.Severity, score)
	day := state.BucketStart(r.EventTime, 24*time.Hour)
	f.Once = detectors.OncePer(ev.Key("principal:"+principal, "tool:raised:"+tool.name+":"+day.Format("20060102")), 24*time.Hour)
	f.Evidence["tool"] = tool.name
	f.Evidence["tool_kind"] = toolKindNames[tool.kind]
	f.Evidence["user_agent"] = r.UserAgent
	f.Evidence["principal"] = principal
	why := ""
	if tool.kind == toolScanner {
		why = " and the caller is not a declared scanner principal"
	}
	f.Explanation = fmt.Sprintf("%s called %s:%s from %s with user agent %q, which names the %s %s%s; first use of it by this principal on %s",
		detectors.Actor(r), serviceOf(r.EventSource), r.EventName, r.SourceIPAddress, r.UserAgent,
		toolKindNames[tool.kind], tool.name, why, day.Format(time.DateOnly))
	return f
}
