package findings

import (
	"strings"

	"github.com/iamsentry/iamsentry/engine/story"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// storyRisk is a story's risk_score by severity: a story has no detector
// score of its own.
var storyRisk = map[iamsentryv1.Severity]uint32{
	iamsentryv1.Severity_SEVERITY_INFO: 10, iamsentryv1.Severity_SEVERITY_LOW: 25, iamsentryv1.Severity_SEVERITY_MEDIUM: 50,
	iamsentryv1.Severity_SEVERITY_HIGH: 75, iamsentryv1.Severity_SEVERITY_CRITICAL: 95,
}

// ocsfStory renders an attack story as a Detection Finding whose related
// events are its findings (by incident, as their own OCSF documents carry
// it in metadata.correlation_uid), so a SIEM can fold them under it.
func ocsfStory(st *story.Story) ocsfDoc {
	sev := iamsentryv1.Severity(st.Severity)
	stages := make([]string, len(st.Stages))
	for i, g := range st.Stages {
		stages[i] = string(g)
	}
	d := ocsfDoc{
		ActivityID: ocsfActivityNew, ActivityName: "Create",
		CategoryUID: ocsfCategoryUID, CategoryName: "Findings",
		ClassUID: ocsfClassUID, ClassName: "Detection Finding",
		TypeUID: ocsfTypeUID, TypeName: "Detection Finding: Create",
		SeverityID: int(sev), Severity: ocsfSeverities[sev],
		StatusID: ocsfStatusNew, Status: "New",
		Time:      st.LastEventTime.UnixMilli(),
		Message:   st.Summary,
		RiskScore: storyRisk[sev],
		FindingInfo: ocsfFindingInfo{
			UID:         st.ID,
			Title:       "Attack story: " + strings.Join(stages, ", "),
			Desc:        st.Summary,
			Types:       []string{"attack-story"},
			Analytic:    ocsfAnalytic{UID: "attack-story", Name: "attack-story", TypeID: ocsfAnalyticRule, Type: "Rule"},
			FirstSeen:   st.FirstEventTime.UnixMilli(),
			LastSeen:    st.LastEventTime.UnixMilli(),
			DataSources: []string{"AWS CloudTrail"},
		},
		Cloud:    ocsfCloud{Provider: "AWS"},
		Metadata: ocsfMetadata{Version: ocsfVersion, Product: ocsfProduct{Name: "iamsentry", VendorName: "iamsentry"}, CorrelationUID: st.ID},
		Unmapped: map[string]any{"stages": stages, "identities": st.Identities},
	}
	if d.Severity == "" {
		d.SeverityID, d.Severity = 0, "Unknown"
	}
	if len(st.Supersedes) > 0 {
		d.Unmapped["supersedes"] = st.Supersedes
	}
	for _, inc := range st.Incidents {
		d.FindingInfo.RelatedEvent = append(d.FindingInfo.RelatedEvent, ocsfRelated{UID: inc, Product: &ocsfProduct{Name: "iamsentry", VendorName: "iamsentry"}})
	}
	for _, id := range st.Identities {
		if strings.HasPrefix(id, "arn:") {
			account := ""
			if parts := strings.SplitN(id, ":", 6); len(parts) == 6 {
				account = parts[4]
			}
			d.Actor = &ocsfActor{User: ocsfUser{UID: id, Name: arnName(id), Account: ocsfAWSAccount(account)}}
			d.Cloud.Account = ocsfAWSAccount(account)
			break
		}
	}
	return d
}
