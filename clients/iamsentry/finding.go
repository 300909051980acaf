package iamsentry

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// Severity ranks a finding; greater is more severe. It is the generated
// enum, named here so a caller needs no import of the generated package.
type Severity = iamsentryv1.Severity

// severityPrefix is what the generated enum names carry and the names
// `iamsentry scan` prints do not.
const severityPrefix = "SEVERITY_"

// SeverityName returns the name `iamsentry scan` prints for s: "CRITICAL"
// for SEVERITY_CRITICAL, "UNKNOWN" for SEVERITY_UNSPECIFIED and
// "Severity(N)" for a number the enum does not define.
func SeverityName(s Severity) string {
	if s == iamsentryv1.Severity_SEVERITY_UNSPECIFIED {
		return "UNKNOWN"
	}
	if name, ok := iamsentryv1.Severity_name[int32(s)]; ok {
		return strings.TrimPrefix(name, severityPrefix)
	}
	return fmt.Sprintf("Severity(%d)", int32(s))
}

// ParseSeverity parses a severity name as SeverityName prints it ("high")
// or as the enum spells it ("SEVERITY_HIGH"), in any case. It refuses
// names of no severity, UNKNOWN and SEVERITY_UNSPECIFIED included.
func ParseSeverity(name string) (Severity, error) {
	key := strings.ToUpper(name)
	if !strings.HasPrefix(key, severityPrefix) {
		key = severityPrefix + key
	}
	if v, ok := iamsentryv1.Severity_value[key]; ok && v != int32(iamsentryv1.Severity_SEVERITY_UNSPECIFIED) {
		return Severity(v), nil
	}
	return iamsentryv1.Severity_SEVERITY_UNSPECIFIED,
		fmt.Errorf("unknown severity %q (want INFO, LOW, MEDIUM, HIGH or CRITICAL)", name)
}

// findingLine is the JSON object `iamsentry scan` prints for a finding:
// severity by name, event time in RFC 3339, snake_case keys. A test holds
// it to the server's own finding type, key for key.
type findingLine struct {
	DetectorID  string   `json:"detector_id"`
	Severity    string   `json:"severity"`
	Score       int      `json:"score"`
	Title       string   `json:"title"`
	Explanation string   `json:"explanation"`
	Techniques  []string `json:"techniques"`

	AccountID    string    `json:"account_id,omitempty"`
	PrincipalARN string    `json:"principal_arn,omitempty"`
	AccessKeyID  string    `json:"access_key_id,omitempty"`
	SourceIP     string    `json:"source_ip,omitempty"`
	EventName    string    `json:"event_name"`
	EventTime    time.Time `json:"event_time"`
	EventID      string    `json:"event_id"`

	Evidence   map[string]string `json:"evidence,omitempty"`
	Incident   string            `json:"incident,omitempty"`
	Suppressed *suppressedLine   `json:"suppressed,omitempty"`
}

// suppressedLine says which suppress entry of the server's configuration
// matched a finding, and why.
type suppressedLine struct {
	Entry  int    `json:"entry"`
	Reason string `json:"reason"`
}

// MarshalFinding renders f as one JSON object, the line `iamsentry scan`
// and `iamsentry replay` print for it, so every tool's findings parse alike.
func MarshalFinding(f *Finding) ([]byte, error) {
	line := findingLine{
		DetectorID: f.GetDetectorId(), Severity: SeverityName(f.GetSeverity()), Score: int(f.GetScore()),
		Title: f.GetTitle(), Explanation: f.GetExplanation(), Techniques: f.GetTechniques(),
		AccountID: f.GetAccountId(), PrincipalARN: f.GetPrincipalArn(), AccessKeyID: f.GetAccessKeyId(),
		SourceIP: f.GetSourceIp(), EventName: f.GetEventName(), EventTime: f.GetEventTime().AsTime(),
		EventID: f.GetEventId(), Evidence: f.GetEvidence(), Incident: f.GetIncident(),
	}
	if s := f.GetSuppression(); s != nil {
		line.Suppressed = &suppressedLine{Entry: int(s.GetEntry()), Reason: s.GetReason()}
	}
	b, err := json.Marshal(line)
	if err != nil {
		return nil, fmt.Errorf("marshaling finding %s/%s: %w", f.GetDetectorId(), f.GetEventId(), err)
	}
	return b, nil
}
