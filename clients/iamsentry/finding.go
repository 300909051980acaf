package iamsentry

import (
	"encoding/json"

	"github.com/iamsentry/iamsentry/detectors"
)

// DetectorFinding returns f as the detectors package models it, the type
// whose JSON `iamsentry scan` prints: severities as names ("CRITICAL"),
// event time in RFC 3339, snake_case keys.
func DetectorFinding(f *Finding) detectors.Finding {
	out := detectors.Finding{
		DetectorID: f.GetDetectorId(), Severity: detectors.Severity(f.GetSeverity()), Score: int(f.GetScore()),
		Title: f.GetTitle(), Explanation: f.GetExplanation(), Techniques: f.GetTechniques(),
		AccountID: f.GetAccountId(), PrincipalARN: f.GetPrincipalArn(), AccessKeyID: f.GetAccessKeyId(),
		SourceIP: f.GetSourceIp(), EventName: f.GetEventName(), EventTime: f.GetEventTime().AsTime(),
		EventID: f.GetEventId(), Evidence: f.GetEvidence(), Incident: f.GetIncident(),
	}
	if s := f.GetSuppression(); s != nil {
		out.Suppressed = &detectors.Suppressed{Entry: int(s.GetEntry()), Reason: s.GetReason()}
	}
	return out
}

// MarshalFinding renders f as one JSON object, the line `iamsentry scan`
// and `iamsentry replay` print for it, so every tool's findings parse alike.
func MarshalFinding(f *Finding) ([]byte, error) { return json.Marshal(DetectorFinding(f)) }
