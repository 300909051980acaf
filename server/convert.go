package server

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/engine"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/server/findings"
)

// This file is the edge between the public API and the engine: detectors
// and the engine never see a protobuf type.

// errNoRecord is the reason given for an event that carries no record.
var errNoRecord = errors.New("event carries no record: set either json (raw CloudTrail JSON bytes) or object (a JSON object)")

// eventJSON returns the CloudTrail JSON an event carries. An event whose
// object cannot be rendered, or that carries nothing, yields an error that
// becomes the event's INVALID reason.
func eventJSON(ev *iamsentryv1.Event) ([]byte, error) {
	if err := brokenRecord(ev); err != nil {
		return nil, err
	}
	switch rec := ev.GetRecord().(type) {
	case *iamsentryv1.Event_Json:
		if len(rec.Json) == 0 {
			return nil, errNoRecord
		}
		return rec.Json, nil
	case *iamsentryv1.Event_Object:
		if rec.Object == nil {
			return nil, errNoRecord
		}
		b, err := protojson.Marshal(rec.Object)
		if err != nil {
			return nil, fmt.Errorf("event object cannot be rendered as JSON: %w", err)
		}
		return b, nil
	default:
		return nil, errNoRecord
	}
}

var outcomes = map[engine.Outcome]iamsentryv1.Outcome{
	engine.OutcomeClean:      iamsentryv1.Outcome_OUTCOME_CLEAN,
	engine.OutcomeAlert:      iamsentryv1.Outcome_OUTCOME_ALERT,
	engine.OutcomeDuplicate:  iamsentryv1.Outcome_OUTCOME_DUPLICATE,
	engine.OutcomeInvalid:    iamsentryv1.Outcome_OUTCOME_INVALID,
	engine.OutcomeSuppressed: iamsentryv1.Outcome_OUTCOME_SUPPRESSED,
}

// Severities are numbered alike in both worlds (INFO=1 … CRITICAL=5).
func severity(s detectors.Severity) iamsentryv1.Severity { return iamsentryv1.Severity(s) }

// fillVerdict sets out, a zero Verdict, to v. Callers allocate verdicts
// in slabs, one per scored group, not one by one.
func fillVerdict(out *iamsentryv1.Verdict, v *engine.Verdict) {
	out.EventId = v.EventID
	out.Outcome = outcomes[v.Outcome]
	out.Reason = v.Reason
	out.Score = uint32(v.Score())
	out.Severity = severity(v.Severity())
	if v.Invalid != nil {
		out.ReasonCode, out.ReasonField = string(v.Invalid.Reason), v.Invalid.Field
	}
	for i := range v.Findings {
		out.Findings = append(out.Findings, findingProto(&v.Findings[i]))
	}
	for i := range v.Stories {
		out.Stories = append(out.Stories, findings.StoryProto(&v.Stories[i]))
	}
}

func invalidVerdict(err error) *iamsentryv1.Verdict {
	return &iamsentryv1.Verdict{Outcome: iamsentryv1.Outcome_OUTCOME_INVALID, Reason: err.Error()}
}

func findingProto(f *detectors.Finding) *iamsentryv1.Finding {
	out := &iamsentryv1.Finding{
		DetectorId:   f.DetectorID,
		Severity:     severity(f.Severity),
		Score:        uint32(f.Score),
		Title:        f.Title,
		Explanation:  f.Explanation,
		Techniques:   f.Techniques,
		AccountId:    f.AccountID,
		PrincipalArn: f.PrincipalARN,
		AccessKeyId:  f.AccessKeyID,
		SourceIp:     f.SourceIP,
		EventName:    f.EventName,
		EventTime:    timestamppb.New(f.EventTime),
		EventId:      f.EventID,
		Evidence:     f.Evidence,
		Incident:     f.Incident,
		Story:        f.Story,
	}
	if f.Suppressed != nil {
		out.Suppression = &iamsentryv1.Suppression{Entry: uint32(f.Suppressed.Entry), Reason: f.Suppressed.Reason}
	}
	return out
}

func detectorProto(l detectors.Listing) *iamsentryv1.DetectorInfo {
	return &iamsentryv1.DetectorInfo{
		Id:          l.ID,
		Title:       l.Title,
		Description: l.Description,
		Severity:    severity(l.Severity),
		Techniques:  l.Techniques,
		Enabled:     l.Enabled,
	}
}
