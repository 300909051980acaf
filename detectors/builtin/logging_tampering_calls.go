package builtin

import (
	"encoding/json"
	"strings"

	"github.com/iamsentry/iamsentry/cloudtrail"
)

// What each logging and detection call means for logging-tampering: how it
// reads a call's parameters to tell a teardown from a change that keeps
// coverage.

// tamperKind is what a call does to logging or detection.
type tamperKind int

const (
	tamperNone    tamperKind = iota // nothing the detector judges
	tamperAdmin                     // configures without weakening: learning only
	tamperMinor                     // drops something marginal (insights, management reads)
	tamperWeaken                    // partial blinding
	tamperDisable                   // switches a service off
)

// tamper is the judgment of one call.
type tamper struct {
	kind   tamperKind
	what   string // the change, for explanations
	target string // the trail, detector, recorder or alarms, when named
}

type tamperJudge func(d *LoggingTampering, r *cloudtrail.Record) tamper

// fixed judges a call by its name alone, naming its target from the
// request parameter param.
func fixed(kind tamperKind, what, param string) tamperJudge {
	return func(_ *LoggingTampering, r *cloudtrail.Record) tamper {
		return tamper{kind: kind, what: what, target: paramString(r, param)}
	}
}

// tamperNames lets through the names of tamperCalls (see nameFilter).
var tamperNames = func() *nameFilter {
	var names []string
	for _, calls := range tamperCalls {
		for name := range calls {
			names = append(names, name)
		}
	}
	return newNameFilter(names...)
}()

// tamperCalls maps event source and name to the call's judge.
var tamperCalls = map[string]map[string]tamperJudge{
	"cloudtrail.amazonaws.com": {
		"StopLogging":                 fixed(tamperDisable, "trail logging stopped", "name"),
		"DeleteTrail":                 fixed(tamperDisable, "trail deleted", "name"),
		"UpdateTrail":                 judgeUpdateTrailAlone,
		"PutEventSelectors":           judgeEventSelectors,
		"PutInsightSelectors":         judgeInsightSelectors,
		"DeleteEventDataStore":        fixed(tamperWeaken, "CloudTrail Lake event data store deleted", "eventDataStore"),
		"StopEventDataStoreIngestion": fixed(tamperWeaken, "CloudTrail Lake ingestion stopped", "eventDataStore"),
		"CreateTrail":                 fixed(tamperAdmin, "", "name"),
		"StartLogging":                fixed(tamperAdmin, "", ""),
	},
	"guardduty.amazonaws.com": {
		"DeleteDetector":                       fixed(tamperDisable, "GuardDuty detector deleted", "detectorId"),
		"UpdateDetector":                       judgeUpdateDetector,
		"DisassociateFromMasterAccount":        fixed(tamperDisable, "account left its GuardDuty administrator", "detectorId"),
		"DisassociateFromAdministratorAccount": fixed(tamperDisable, "account left its GuardDuty administrator", "detectorId"),
		"DeletePublishingDestination":          fixed(tamperWeaken, "GuardDuty findings export deleted", "detectorId"),
		"CreateFilter":                         judgeGuardDutyFilter,
		"UpdateFilter":                         judgeGuardDutyFilter,
		"CreateIPSet":                          fixed(tamperWeaken, "GuardDuty trusted IP list created (no findings for its addresses)", "name"),
		"UpdateIPSet":                          fixed(tamperWeaken, "GuardDuty trusted IP list changed (no findings for its addresses)", "ipSetId"),
		"StopMonitoringMembers":                fixed(tamperWeaken, "GuardDuty stopped monitoring member accounts", "detectorId"),
		"DisassociateMembers":                  fixed(tamperWeaken, "GuardDuty member accounts disassociated", "detectorId"),
		"DeleteMembers":                        fixed(tamperWeaken, "GuardDuty member accounts deleted", "detectorId"),
		"CreateDetector":                       fixed(tamperAdmin, "", ""),
	},
	"config.amazonaws.com": {
		"StopConfigurationRecorder":   fixed(tamperDisable, "AWS Config recorder stopped", "configurationRecorderName"),
		"DeleteConfigurationRecorder": fixed(tamperDisable, "AWS Config recorder deleted", "configurationRecorderName"),
		"DeleteDeliveryChannel":       fixed(tamperDisable, "AWS Config delivery channel deleted", "deliveryChannelName"),
		"PutConfigurationRecorder":    fixed(tamperAdmin, "", ""),
		"StartConfigurationRecorder":  fixed(tamperAdmin, "", ""),
		"PutDeliveryChannel":          fixed(tamperAdmin, "", ""),
	},
	"securityhub.amazonaws.com": {
		"DisableSecurityHub":    fixed(tamperDisable, "Security Hub disabled", ""),
		"BatchDisableStandards": fixed(tamperWeaken, "Security Hub standards disabled", ""),
		"EnableSecurityHub":     fixed(tamperAdmin, "", ""),
		"BatchEnableStandards":  fixed(tamperAdmin, "", ""),
	},
	"monitoring.amazonaws.com": {
		"DeleteAlarms":        judgeAlarms("CloudWatch alarms deleted"),
		"DisableAlarmActions": judgeAlarms("CloudWatch alarm actions disabled"),
		"PutMetricAlarm":      fixed(tamperAdmin, "", ""),
	},
	"ec2.amazonaws.com": {
		"DeleteFlowLogs": judgeFlowLogs,
		"CreateFlowLogs": fixed(tamperAdmin, "", ""),
	},
	"route53resolver.amazonaws.com": {
		"DeleteResolverQueryLogConfig":       fixed(tamperWeaken, "Route 53 Resolver query logging deleted", "resolverQueryLogConfigId"),
		"DisassociateResolverQueryLogConfig": fixed(tamperWeaken, "Route 53 Resolver query logging detached from a VPC", "resolverQueryLogConfigId"),
		"CreateResolverQueryLogConfig":       fixed(tamperAdmin, "", ""),
	},
	"organizations.amazonaws.com": {
		// Leaving the organisation leaves its trail, its GuardDuty and
		// Security Hub administrators and its SCPs behind.
		"LeaveOrganization": fixed(tamperDisable, "account left its organization (organization trail, detectors and SCPs no longer apply)", ""),
	},
	"logs.amazonaws.com": {
		"DeleteMetricFilter": judgeMetricFilter,
		"PutMetricFilter":    fixed(tamperAdmin, "", ""),
	},
}

// paramString returns the string request parameter name, or "".
func paramString(r *cloudtrail.Record, name string) string {
	if name == "" {
		return ""
	}
	var m map[string]json.RawMessage
	if r.Params(&m) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(m[name], &s) != nil {
		return ""
	}
	return s
}

// eventSelectors are the request parameters of PutEventSelectors.
type eventSelectors struct {
	TrailName string `json:"trailName"`
	Basic     []struct {
		ReadWriteType           string `json:"readWriteType"`
		IncludeManagementEvents *bool  `json:"includeManagementEvents"`
	} `json:"eventSelectors"`
	Advanced []struct {
		FieldSelectors []struct {
			Field     string   `json:"field"`
			Equals    []string `json:"equals"`
			NotEquals []string `json:"notEquals"`
		} `json:"fieldSelectors"`
	} `json:"advancedEventSelectors"`
}

// management reports which management events the selectors log: reads,
// writes. A basic selector logs management events unless it says
// includeManagementEvents false; an advanced one when its eventCategory
// equals Management, narrowed by a readOnly field.
func (s eventSelectors) management() (reads, writes bool) {
	for _, b := range s.Basic {
		if b.IncludeManagementEvents != nil && !*b.IncludeManagementEvents {
			continue
		}
		switch b.ReadWriteType {
		case "ReadOnly":
			reads = true
		case "WriteOnly":
			writes = true
		default:
			reads, writes = true, true
		}
	}
	for _, a := range s.Advanced {
		mgmt, r, w := false, true, true
		for _, f := range a.FieldSelectors {
			switch f.Field {
			case "eventCategory":
				mgmt = containsFold(f.Equals, "Management")
			case "readOnly":
				if len(f.Equals) == 1 {
					r, w = strings.EqualFold(f.Equals[0], "true"), strings.EqualFold(f.Equals[0], "false")
				}
				if len(f.NotEquals) == 1 {
					r, w = strings.EqualFold(f.NotEquals[0], "false"), strings.EqualFold(f.NotEquals[0], "true")
				}
			}
		}
		if mgmt {
			reads, writes = reads || r, writes || w
		}
	}
	return reads, writes
}

func containsFold(ss []string, s string) bool {
	for _, x := range ss {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// judgeEventSelectors reads the selectors a trail is given: dropping
// management writes (who changed IAM, who stopped logging) is weakening,
// dropping only management reads is minor, keeping both is configuration.
func judgeEventSelectors(_ *LoggingTampering, r *cloudtrail.Record) tamper {
	if len(r.RequestParameters) == 0 || string(r.RequestParameters) == "null" {
		return tamper{kind: tamperWeaken, what: "event selectors replaced (parameters not recorded)"}
	}
	var s eventSelectors
	if err := r.Params(&s); err != nil {
		return tamper{kind: tamperWeaken, what: "event selectors replaced (parameters unreadable: " + err.Error() + ")"}
	}
	reads, writes := s.management()
	switch {
	case !writes && !reads:
		return tamper{kind: tamperWeaken, what: "event selectors no longer log management events", target: s.TrailName}
	case !writes:
		return tamper{kind: tamperWeaken, what: "event selectors no longer log management write events", target: s.TrailName}
	case !reads:
		return tamper{kind: tamperMinor, what: "event selectors no longer log management read events", target: s.TrailName}
	}
	return tamper{kind: tamperAdmin}
}

// judgeInsightSelectors: an empty list turns CloudTrail Insights off.
func judgeInsightSelectors(_ *LoggingTampering, r *cloudtrail.Record) tamper {
	var p struct {
		TrailName string            `json:"trailName"`
		Selectors []json.RawMessage `json:"insightSelectors"`
	}
	if r.Params(&p) == nil && len(p.Selectors) > 0 {
		return tamper{kind: tamperAdmin}
	}
	return tamper{kind: tamperMinor, what: "CloudTrail Insights turned off", target: p.TrailName}
}

// judgeUpdateDetector: enable false switches GuardDuty off; a data source
// or feature turned off weakens it.
func judgeUpdateDetector(_ *LoggingTampering, r *cloudtrail.Record) tamper {
	var p struct {
		DetectorID  string          `json:"detectorId"`
		Enable      *bool           `json:"enable"`
		DataSources json.RawMessage `json:"dataSources"`
		Features    []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
		} `json:"features"`
	}
	if err := r.Params(&p); err != nil {
		return tamper{kind: tamperWeaken, what: "GuardDuty detector changed (parameters unreadable: " + err.Error() + ")"}
	}
	if p.Enable != nil && !*p.Enable {
		return tamper{kind: tamperDisable, what: "GuardDuty detector disabled", target: p.DetectorID}
	}
	var off []string
	for _, f := range p.Features {
		if strings.EqualFold(f.Status, "DISABLED") {
			off = append(off, f.Name)
		}
	}
	var ds any
	if json.Unmarshal(p.DataSources, &ds) == nil {
		off = append(off, disabledSources("", ds)...)
	}
	if len(off) == 0 {
		return tamper{kind: tamperAdmin}
	}
	return tamper{kind: tamperWeaken, what: "GuardDuty protections turned off: " + strings.Join(off, ", "), target: p.DetectorID}
}

// disabledSources returns the paths of "enable": false inside GuardDuty
// dataSources ({"s3Logs":{"enable":false}} → s3Logs).
func disabledSources(path string, v any) []string {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	var out []string
	for k, sub := range m {
		if k == "enable" {
			if b, ok := sub.(bool); ok && !b && path != "" {
				out = append(out, path)
			}
			continue
		}
		p := k
		if path != "" {
			p = path + "." + k
		}
		out = append(out, disabledSources(p, sub)...)
	}
	return out
}

// judgeGuardDutyFilter: a filter whose action is ARCHIVE hides the
// findings it matches as they are raised.
func judgeGuardDutyFilter(_ *LoggingTampering, r *cloudtrail.Record) tamper {
	var p struct {
		Name   string `json:"name"`
		Filter string `json:"filterName"`
		Action string `json:"action"`
	}
	if r.Params(&p) != nil || !strings.EqualFold(p.Action, "ARCHIVE") {
		return tamper{kind: tamperNone}
	}
	return tamper{kind: tamperWeaken, what: "GuardDuty findings auto-archived by a filter", target: p.Name + p.Filter}
}

// judgeAlarms judges DeleteAlarms and DisableAlarmActions by the alarm
// names: raised when one watches identities or logging, or when CloudTrail
// does not show them.
func judgeAlarms(what string) tamperJudge {
	return func(d *LoggingTampering, r *cloudtrail.Record) tamper {
		var p struct {
			Names []string `json:"alarmNames"`
		}
		if r.Params(&p) != nil || len(p.Names) == 0 {
			return tamper{kind: tamperWeaken, what: what + " (names not recorded)"}
		}
		var hit []string
		for _, n := range p.Names {
			if d.securityAlarm(n) {
				hit = append(hit, n)
			}
		}
		if len(hit) == 0 {
			return tamper{kind: tamperNone}
		}
		return tamper{kind: tamperWeaken, what: what + " that watch identities or logging", target: strings.Join(hit, ",")}
	}
}

// judgeFlowLogs names the flow logs EC2's query-style parameters carry
// ({"DeleteFlowLogsRequest":{"FlowLogId":{"content":"fl-…"}}}), or the
// JSON-style list.
func judgeFlowLogs(_ *LoggingTampering, r *cloudtrail.Record) tamper {
	var p struct {
		IDs []string `json:"flowLogIds"`
		Req struct {
			ID json.RawMessage `json:"FlowLogId"`
		} `json:"DeleteFlowLogsRequest"`
	}
	_ = r.Params(&p) // an odd shape leaves the target unnamed
	ids := p.IDs
	var one struct {
		Content string `json:"content"`
	}
	var many []struct {
		Content string `json:"content"`
	}
	if json.Unmarshal(p.Req.ID, &one) == nil && one.Content != "" {
		ids = append(ids, one.Content)
	} else if json.Unmarshal(p.Req.ID, &many) == nil {
		for _, m := range many {
			ids = append(ids, m.Content)
		}
	}
	return tamper{kind: tamperWeaken, what: "VPC flow logs deleted", target: strings.Join(ids, ",")}
}

// judgeMetricFilter: deleting a metric filter of a security alarm (by its
// name or its log group's) blinds the alarm without touching it.
func judgeMetricFilter(d *LoggingTampering, r *cloudtrail.Record) tamper {
	var p struct {
		Filter   string `json:"filterName"`
		LogGroup string `json:"logGroupName"`
	}
	if r.Params(&p) != nil {
		return tamper{kind: tamperNone}
	}
	if !d.securityAlarm(p.Filter) && !d.securityAlarm(p.LogGroup) {
		return tamper{kind: tamperNone}
	}
	return tamper{kind: tamperWeaken, what: "CloudWatch metric filter of a security alarm deleted", target: p.LogGroup + ":" + p.Filter}
}
