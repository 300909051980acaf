package findings

import (
	"encoding/json"
	"net/netip"
	"strings"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// OCSF renders a finding as an OCSF Detection Finding (class 2004, schema
// 1.3), the shape SIEMs such as Amazon Security Lake take. Invalid records
// have no OCSF rendering and are skipped.
//
// Mapping: severity_id follows our severities one to one (INFO is
// Informational); time is the CloudTrail eventTime in epoch milliseconds;
// finding_info names the detector (analytic, types) and the finding (uid:
// detector and event id); attacks carry the MITRE ATT&CK technique and
// sub-technique ids; actor.user is the acting principal with its access key
// as credential_uid; src_endpoint is sourceIPAddress (an IP, or an AWS
// service name); metadata.correlation_uid is the incident; evidence that
// OCSF has no place for sits in unmapped.
func OCSF(it Item) ([]byte, bool) {
	var doc ocsfDoc
	switch {
	case it.Finding != nil:
		doc = ocsfFinding(it.Finding)
	case it.Story != nil:
		doc = ocsfStory(it.Story)
	default:
		return nil, false
	}
	b, err := json.Marshal(doc)
	return b, err == nil
}

// OCSF schema constants for a Detection Finding.
const (
	ocsfVersion      = "1.3.0"
	ocsfClassUID     = 2004
	ocsfCategoryUID  = 2 // Findings
	ocsfActivityNew  = 1 // Create
	ocsfStatusNew    = 1
	ocsfStatusSupp   = 3 // Suppressed
	ocsfAccountAWS   = 10
	ocsfAnalyticRule = 1
	ocsfTypeUID      = ocsfClassUID*100 + ocsfActivityNew
)

var ocsfSeverities = map[iamsentryv1.Severity]string{
	iamsentryv1.Severity_SEVERITY_INFO:     "Informational",
	iamsentryv1.Severity_SEVERITY_LOW:      "Low",
	iamsentryv1.Severity_SEVERITY_MEDIUM:   "Medium",
	iamsentryv1.Severity_SEVERITY_HIGH:     "High",
	iamsentryv1.Severity_SEVERITY_CRITICAL: "Critical",
}

type (
	ocsfDoc struct {
		ActivityID   int             `json:"activity_id"`
		ActivityName string          `json:"activity_name"`
		CategoryUID  int             `json:"category_uid"`
		CategoryName string          `json:"category_name"`
		ClassUID     int             `json:"class_uid"`
		ClassName    string          `json:"class_name"`
		TypeUID      int             `json:"type_uid"`
		TypeName     string          `json:"type_name"`
		SeverityID   int             `json:"severity_id"`
		Severity     string          `json:"severity"`
		StatusID     int             `json:"status_id"`
		Status       string          `json:"status"`
		Time         int64           `json:"time"`
		Message      string          `json:"message"`
		RiskScore    uint32          `json:"risk_score"`
		FindingInfo  ocsfFindingInfo `json:"finding_info"`
		Attacks      []ocsfAttack    `json:"attacks,omitempty"`
		Actor        *ocsfActor      `json:"actor,omitempty"`
		SrcEndpoint  *ocsfEndpoint   `json:"src_endpoint,omitempty"`
		Cloud        ocsfCloud       `json:"cloud"`
		Metadata     ocsfMetadata    `json:"metadata"`
		Unmapped     map[string]any  `json:"unmapped,omitempty"`
	}
	ocsfFindingInfo struct {
		UID          string        `json:"uid"`
		Title        string        `json:"title"`
		Desc         string        `json:"desc"`
		Types        []string      `json:"types"`
		Analytic     ocsfAnalytic  `json:"analytic"`
		FirstSeen    int64         `json:"first_seen_time,omitempty"`
		LastSeen     int64         `json:"last_seen_time,omitempty"`
		DataSources  []string      `json:"data_sources"`
		RelatedEvent []ocsfRelated `json:"related_events,omitempty"`
	}
	ocsfAnalytic struct {
		UID    string `json:"uid"`
		Name   string `json:"name"`
		TypeID int    `json:"type_id"`
		Type   string `json:"type"`
	}
	ocsfRelated struct {
		UID     string       `json:"uid"`
		Product *ocsfProduct `json:"product,omitempty"`
	}
	ocsfAttack struct {
		Technique    ocsfUID  `json:"technique"`
		SubTechnique *ocsfUID `json:"sub_technique,omitempty"`
	}
	ocsfUID struct {
		UID string `json:"uid"`
	}
	ocsfActor struct {
		User ocsfUser `json:"user"`
	}
	ocsfUser struct {
		UID           string       `json:"uid,omitempty"`
		Name          string       `json:"name,omitempty"`
		CredentialUID string       `json:"credential_uid,omitempty"`
		Account       *ocsfAccount `json:"account,omitempty"`
	}
	ocsfAccount struct {
		UID    string `json:"uid"`
		TypeID int    `json:"type_id"`
		Type   string `json:"type"`
	}
	ocsfEndpoint struct {
		IP      string `json:"ip,omitempty"`
		SvcName string `json:"svc_name,omitempty"`
	}
	ocsfCloud struct {
		Provider string       `json:"provider"`
		Account  *ocsfAccount `json:"account,omitempty"`
	}
	ocsfMetadata struct {
		Version        string      `json:"version"`
		Product        ocsfProduct `json:"product"`
		CorrelationUID string      `json:"correlation_uid,omitempty"`
		EventCode      string      `json:"event_code,omitempty"`
	}
	ocsfProduct struct {
		Name       string `json:"name"`
		VendorName string `json:"vendor_name"`
	}
)

func ocsfFinding(f *iamsentryv1.Finding) ocsfDoc {
	ms := f.GetEventTime().AsTime().UnixMilli()
	d := ocsfDoc{
		ActivityID: ocsfActivityNew, ActivityName: "Create",
		CategoryUID: ocsfCategoryUID, CategoryName: "Findings",
		ClassUID: ocsfClassUID, ClassName: "Detection Finding",
		TypeUID: ocsfTypeUID, TypeName: "Detection Finding: Create",
		SeverityID: int(f.GetSeverity()), Severity: ocsfSeverities[f.GetSeverity()],
		StatusID: ocsfStatusNew, Status: "New",
		Time:      ms,
		Message:   f.GetExplanation(),
		RiskScore: f.GetScore(),
		FindingInfo: ocsfFindingInfo{
			UID:         f.GetDetectorId() + ":" + f.GetEventId(),
			Title:       f.GetTitle(),
			Desc:        f.GetExplanation(),
			Types:       []string{f.GetDetectorId()},
			Analytic:    ocsfAnalytic{UID: f.GetDetectorId(), Name: f.GetDetectorId(), TypeID: ocsfAnalyticRule, Type: "Rule"},
			FirstSeen:   ms,
			DataSources: []string{"AWS CloudTrail"},
		},
		Cloud: ocsfCloud{Provider: "AWS", Account: ocsfAWSAccount(f.GetAccountId())},
		Metadata: ocsfMetadata{
			Version:        ocsfVersion,
			Product:        ocsfProduct{Name: "iamsentry", VendorName: "iamsentry"},
			CorrelationUID: f.GetIncident(),
			EventCode:      f.GetEventName(),
		},
	}
	if d.Severity == "" {
		d.SeverityID, d.Severity = 0, "Unknown"
	}
	if s := f.GetSuppression(); s != nil {
		d.StatusID, d.Status = ocsfStatusSupp, "Suppressed"
		d.Unmapped = map[string]any{"suppression": map[string]any{"entry": s.GetEntry(), "reason": s.GetReason()}}
	}
	if f.GetEventId() != "" {
		d.FindingInfo.RelatedEvent = []ocsfRelated{{UID: f.GetEventId(), Product: &ocsfProduct{Name: "CloudTrail", VendorName: "AWS"}}}
	}
	for _, t := range f.GetTechniques() {
		d.Attacks = append(d.Attacks, ocsfTechnique(t))
	}
	if f.GetPrincipalArn() != "" || f.GetAccessKeyId() != "" {
		d.Actor = &ocsfActor{User: ocsfUser{UID: f.GetPrincipalArn(), Name: arnName(f.GetPrincipalArn()),
			CredentialUID: f.GetAccessKeyId(), Account: ocsfAWSAccount(f.GetAccountId())}}
	}
	if ip := f.GetSourceIp(); ip != "" {
		if _, err := netip.ParseAddr(ip); err == nil {
			d.SrcEndpoint = &ocsfEndpoint{IP: ip}
		} else {
			d.SrcEndpoint = &ocsfEndpoint{SvcName: ip} // an AWS service principal
		}
	}
	if len(f.GetEvidence()) > 0 {
		if d.Unmapped == nil {
			d.Unmapped = map[string]any{}
		}
		d.Unmapped["evidence"] = f.GetEvidence()
	}
	return d
}

// ocsfTechnique splits "T1098.003" into technique T1098 and sub-technique
// T1098.003.
func ocsfTechnique(id string) ocsfAttack {
	base, _, sub := strings.Cut(id, ".")
	a := ocsfAttack{Technique: ocsfUID{UID: base}}
	if sub {
		a.SubTechnique = &ocsfUID{UID: id}
	}
	return a
}

func ocsfAWSAccount(id string) *ocsfAccount {
	if id == "" {
		return nil
	}
	return &ocsfAccount{UID: id, TypeID: ocsfAccountAWS, Type: "AWS Account"}
}

// arnName is the last path element of an ARN: the user, role or session name.
func arnName(arn string) string {
	if i := strings.LastIndexAny(arn, "/:"); i >= 0 && i+1 < len(arn) {
		return arn[i+1:]
	}
	return ""
}
