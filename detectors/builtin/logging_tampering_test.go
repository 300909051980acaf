package builtin_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// Tests of logging-tampering. Generated records are built here (labelled
// as such); real ones come from testdata/stratus and
// testdata/panther/logging-tampering.jsonl (see testdata/README.md).

func newTamper(t testing.TB) detectors.Detector {
	t.Helper()
	return dt.Must(builtin.NewLoggingTampering(detectors.DefaultConfig()))
}

// ltCall is a generated call of source/name with params, by alice's
// long-term key unless changed.
func ltCall(source, name string, at time.Time, params map[string]any) dt.Rec {
	return dt.Base(source, name, at).With("requestParameters", params).With("readOnly", false)
}

func ltTrail(name string, at time.Time) dt.Rec {
	return ltCall("cloudtrail.amazonaws.com", name, at, map[string]any{"name": "org-trail"})
}

// ltTrailUpdate is a generated UpdateTrail as the console sends it: every
// setting, and the resulting trail in the response.
func ltTrailUpdate(at time.Time, bucket string, multiRegion bool, logGroup string) dt.Rec {
	cfg := map[string]any{
		"name": "org-trail", "s3BucketName": bucket, "isMultiRegionTrail": multiRegion, "includeGlobalServiceEvents": true,
		"enableLogFileValidation": true, "isOrganizationTrail": false, "cloudWatchLogsLogGroupArn": logGroup, "kmsKeyId": "",
	}
	resp := map[string]any{
		"name": "org-trail", "s3BucketName": bucket, "isMultiRegionTrail": multiRegion, "includeGlobalServiceEvents": true,
		"logFileValidationEnabled": true, "isOrganizationTrail": false,
		"trailARN": "arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail",
	}
	return ltCall("cloudtrail.amazonaws.com", "UpdateTrail", at, cfg).With("responseElements", resp)
}

// ltSelectors is a generated PutEventSelectors with one basic selector.
func ltSelectors(at time.Time, includeMgmt bool, rw string) dt.Rec {
	return ltCall("cloudtrail.amazonaws.com", "PutEventSelectors", at, map[string]any{
		"trailName": "org-trail",
		"eventSelectors": []any{map[string]any{
			"readWriteType": rw, "includeManagementEvents": includeMgmt,
			"dataResources": []any{map[string]any{"type": "AWS::S3::Object", "values": []any{"arn:aws:s3"}}},
		}},
	})
}

// ltAdvanced is a generated PutEventSelectors with advanced selectors.
func ltAdvanced(at time.Time, selectors ...[]map[string]any) dt.Rec {
	var adv []any
	for _, fs := range selectors {
		adv = append(adv, map[string]any{"fieldSelectors": fs})
	}
	return ltCall("cloudtrail.amazonaws.com", "PutEventSelectors", at, map[string]any{"trailName": "org-trail", "advancedEventSelectors": adv})
}

func field(name string, equals ...string) map[string]any {
	return map[string]any{"field": name, "equals": equals}
}

// ltIaC makes r a call of the Terraform role's session.
func ltIaC(r dt.Rec) dt.Rec { return r.AsAssumedRole("terraform-deployer", "tf-run-1") }

func TestLoggingTamperingContract(t *testing.T) {
	dt.Run(t, dt.Contract{
		New:  func() detectors.Detector { return newTamper(t) },
		Loud: []dt.Rec{ltTrail("StopLogging", t0), ltTrail("DeleteTrail", t0.Add(time.Minute))},
		Quiet: []dt.Rec{
			ltTrail("CreateTrail", t0), ltTrail("StartLogging", t0.Add(time.Minute)),
			ltSelectors(t0.Add(2*time.Minute), true, "All"),
			ltTrail("StopLogging", t0.Add(3*time.Minute)).Failed("TrailNotFoundException"),
		},
	})
}

// TestLoggingTamperingCalls judges one call at a time, each on a fresh
// store: what fires at what severity, and its quiet twins.
func TestLoggingTamperingCalls(t *testing.T) {
	gd := func(name string, p map[string]any) dt.Rec { return ltCall("guardduty.amazonaws.com", name, t0, p) }
	cfg := func(name string) dt.Rec {
		return ltCall("config.amazonaws.com", name, t0, map[string]any{"configurationRecorderName": "default"})
	}
	alarms := func(name string, names ...string) dt.Rec {
		p := map[string]any{}
		if names != nil {
			p["alarmNames"] = names
		}
		return ltCall("monitoring.amazonaws.com", name, t0, p)
	}
	mgmt := field("eventCategory", "Management")
	tests := []struct {
		name string
		rec  dt.Rec
		want detectors.Severity
	}{
		{"StopLogging by a user", ltTrail("StopLogging", t0), detectors.SeverityHigh},
		{"DeleteTrail by an SSO person", ltTrail("DeleteTrail", t0).AsAssumedRole("AWSReservedSSO_Admin_0123456789abcdef", "alice@example.com"), detectors.SeverityHigh},
		{"StopLogging denied", ltTrail("StopLogging", t0).Failed("AccessDenied"), detectors.SeverityLow},
		{"StopLogging of the organization trail from a member", ltTrail("StopLogging", t0).Failed("NotOrganizationMasterAccountException"), detectors.SeverityLow},
		{"StopLogging on a missing trail", ltTrail("StopLogging", t0).Failed("TrailNotFoundException"), 0},
		{"StartLogging", ltTrail("StartLogging", t0), 0},
		{"CreateTrail", ltTrail("CreateTrail", t0), 0},
		{"UpdateTrail single-region", ltCall("cloudtrail.amazonaws.com", "UpdateTrail", t0, map[string]any{"name": "org-trail", "isMultiRegionTrail": false}), detectors.SeverityMedium},
		{"UpdateTrail validation off", ltCall("cloudtrail.amazonaws.com", "UpdateTrail", t0, map[string]any{"name": "org-trail", "enableLogFileValidation": false}), detectors.SeverityMedium},
		{"UpdateTrail bucket of a trail never seen", ltCall("cloudtrail.amazonaws.com", "UpdateTrail", t0, map[string]any{"name": "org-trail", "s3BucketName": "attacker-bucket"}), detectors.SeverityLow},
		{"UpdateTrail enables validation", ltCall("cloudtrail.amazonaws.com", "UpdateTrail", t0, map[string]any{"name": "org-trail", "enableLogFileValidation": true, "isMultiRegionTrail": true}), 0},
		{"selectors drop management", ltSelectors(t0, false, "All"), detectors.SeverityMedium},
		{"selectors read-only", ltSelectors(t0, true, "ReadOnly"), detectors.SeverityMedium},
		{"selectors write-only", ltSelectors(t0, true, "WriteOnly"), detectors.SeverityLow},
		{"selectors add data events", ltSelectors(t0, true, "All"), 0},
		{"selectors empty", ltCall("cloudtrail.amazonaws.com", "PutEventSelectors", t0, map[string]any{"trailName": "org-trail", "eventSelectors": []any{}}), detectors.SeverityMedium},
		{"advanced data only", ltAdvanced(t0, []map[string]any{field("eventCategory", "Data"), field("resources.type", "AWS::S3::Object")}), detectors.SeverityMedium},
		{"advanced management reads only", ltAdvanced(t0, []map[string]any{mgmt, field("readOnly", "true")}), detectors.SeverityMedium},
		{"advanced management and data", ltAdvanced(t0, []map[string]any{mgmt}, []map[string]any{field("eventCategory", "Data"), field("resources.type", "AWS::S3::Object")}), 0},
		{"insights off", ltCall("cloudtrail.amazonaws.com", "PutInsightSelectors", t0, map[string]any{"trailName": "org-trail", "insightSelectors": []any{}}), detectors.SeverityLow},
		{"insights on", ltCall("cloudtrail.amazonaws.com", "PutInsightSelectors", t0, map[string]any{"trailName": "org-trail", "insightSelectors": []any{map[string]any{"insightType": "ApiCallRateInsight"}}}), 0},
		{"GuardDuty DeleteDetector", gd("DeleteDetector", map[string]any{"detectorId": "12abc34d567e8fa901bc2d34e56789f0"}), detectors.SeverityHigh},
		{"GuardDuty UpdateDetector disable", gd("UpdateDetector", map[string]any{"detectorId": "12abc", "enable": false}), detectors.SeverityHigh},
		{"GuardDuty UpdateDetector S3 off", gd("UpdateDetector", map[string]any{"detectorId": "12abc", "dataSources": map[string]any{"s3Logs": map[string]any{"enable": false}}}), detectors.SeverityMedium},
		{"GuardDuty UpdateDetector feature off", gd("UpdateDetector", map[string]any{"detectorId": "12abc", "features": []any{map[string]any{"name": "EKS_AUDIT_LOGS", "status": "DISABLED"}}}), detectors.SeverityMedium},
		{"GuardDuty UpdateDetector frequency", gd("UpdateDetector", map[string]any{"detectorId": "12abc", "enable": true, "findingPublishingFrequency": "FIFTEEN_MINUTES"}), 0},
		{"GuardDuty archive filter", gd("CreateFilter", map[string]any{"detectorId": "12abc", "name": "quiet", "action": "ARCHIVE"}), detectors.SeverityMedium},
		{"GuardDuty noop filter", gd("CreateFilter", map[string]any{"detectorId": "12abc", "name": "triage", "action": "NOOP"}), 0},
		{"GuardDuty leaves administrator", gd("DisassociateFromMasterAccount", map[string]any{"detectorId": "12abc"}), detectors.SeverityHigh},
		{"GuardDuty export deleted", gd("DeletePublishingDestination", map[string]any{"detectorId": "12abc"}), detectors.SeverityMedium},
		{"GuardDuty trusted IPs", gd("CreateIPSet", map[string]any{"detectorId": "12abc", "name": "office", "activate": true}), detectors.SeverityMedium},
		{"GuardDuty CreateDetector", gd("CreateDetector", map[string]any{"enable": true}), 0},
		{"Config recorder stopped", cfg("StopConfigurationRecorder"), detectors.SeverityHigh},
		{"Config recorder deleted", cfg("DeleteConfigurationRecorder"), detectors.SeverityHigh},
		{"Config channel deleted", cfg("DeleteDeliveryChannel"), detectors.SeverityHigh},
		{"Config recorder started", cfg("StartConfigurationRecorder"), 0},
		{"Security Hub disabled", ltCall("securityhub.amazonaws.com", "DisableSecurityHub", t0, nil), detectors.SeverityHigh},
		{"Security Hub standards disabled", ltCall("securityhub.amazonaws.com", "BatchDisableStandards", t0, map[string]any{"standardsSubscriptionArns": []string{"arn:aws:securityhub:::standards/cis"}}), detectors.SeverityMedium},
		{"CIS alarms deleted", alarms("DeleteAlarms", "orders-latency", "CIS-3.1-UnauthorizedAPICalls"), detectors.SeverityMedium},
		{"root alarm actions disabled", alarms("DisableAlarmActions", "RootAccountUsage"), detectors.SeverityMedium},
		{"alarm names not recorded", alarms("DeleteAlarms"), detectors.SeverityMedium},
		{"application alarms deleted", alarms("DeleteAlarms", "orders-latency-p99", "queue-depth"), 0},
		{"CloudTrail metric filter deleted", ltCall("logs.amazonaws.com", "DeleteMetricFilter", t0, map[string]any{"logGroupName": "aws-cloudtrail-logs-111122223333", "filterName": "ConsoleSignInFailures"}), detectors.SeverityMedium},
		{"application metric filter deleted", ltCall("logs.amazonaws.com", "DeleteMetricFilter", t0, map[string]any{"logGroupName": "/app/orders", "filterName": "errors"}), 0},
		{"through CloudFormation", ltTrail("DeleteTrail", t0).With("userIdentity.invokedBy", "cloudformation.amazonaws.com").With("sourceIPAddress", "cloudformation.amazonaws.com"), detectors.SeverityHigh},
		{"flow logs deleted", ltCall("ec2.amazonaws.com", "DeleteFlowLogs", t0, map[string]any{"flowLogIds": []string{"fl-1", "fl-2"}}), detectors.SeverityMedium},
		{"flow logs created", ltCall("ec2.amazonaws.com", "CreateFlowLogs", t0, map[string]any{"resourceIds": []string{"vpc-1"}}), 0},
		{"leave organization", ltCall("organizations.amazonaws.com", "LeaveOrganization", t0, nil), detectors.SeverityHigh},
		{"service-linked role deletes its alarms", alarms("DeleteAlarms", "TargetTracking-table/login-events-AlarmHigh-1a2b").
			AsAssumedRole("AWSServiceRoleForApplicationAutoScaling_DynamoDBTable", "AutoScaling").
			With("userIdentity.sessionContext.sessionIssuer.arn", "arn:aws:iam::111122223333:role/aws-service-role/dynamodb.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_DynamoDBTable"), 0},
		{"AWS service call", ltTrail("StopLogging", t0).With("userIdentity", map[string]any{"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"}), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := dt.Only(builtin.LoggingTamperingID, dt.New(t, newTamper(t)).Score(tt.rec))
			det3CheckOne(t, fs, tt.want, nil)
		})
	}
}

// runTamperScenarios: the Terraform role that has configured the trail for
// days is one step lower than the same call by a new principal or a
// person; a multi-region teardown is one incident.
func runTamperScenarios(t *testing.T, newStore newStoreFunc) {
	stream := []dt.Rec{
		ltIaC(ltTrail("CreateTrail", day(0)).With("responseElements", map[string]any{
			"name": "org-trail", "s3BucketName": "org-trail-logs", "isMultiRegionTrail": true, "includeGlobalServiceEvents": true,
			"logFileValidationEnabled": true, "isOrganizationTrail": false,
			"trailARN": "arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail",
		})),
		ltIaC(ltSelectors(day(0).Add(time.Minute), true, "All")),
		// Day 3: the known role stops a trail (MEDIUM, not HIGH) and drops
		// management writes (LOW, not MEDIUM) …
		ltIaC(ltTrail("StopLogging", day(3))),
		ltIaC(ltSelectors(day(3).Add(time.Minute), false, "All")),
		// … an unknown role, configuring and tearing down in one hour,
		// deletes GuardDuty in three regions: one HIGH incident.
		ltCall("guardduty.amazonaws.com", "CreateDetector", day(3).Add(2*time.Minute), map[string]any{"enable": true}).AsAssumedRole("ci-runner", "build-7"),
		ltCall("guardduty.amazonaws.com", "DeleteDetector", day(3).Add(3*time.Minute), map[string]any{"detectorId": "a1"}).AsAssumedRole("ci-runner", "build-7"),
		ltCall("guardduty.amazonaws.com", "DeleteDetector", day(3).Add(4*time.Minute), map[string]any{"detectorId": "b2"}).AsAssumedRole("ci-runner", "build-7").With("awsRegion", "eu-west-1"),
		ltCall("guardduty.amazonaws.com", "DeleteDetector", day(3).Add(5*time.Minute), map[string]any{"detectorId": "c3"}).AsAssumedRole("ci-runner", "build-7").With("awsRegion", "ap-south-1"),
		// … and alice, a person with a key, stops the same trail: HIGH.
		ltTrail("StopLogging", day(3).Add(6*time.Minute)),
		// Day 4: alice saves the trail in the console, every setting sent
		// unchanged (no log group, as created): quiet. Day 5: she moves its
		// delivery to another bucket: MEDIUM.
		ltTrailUpdate(day(4), "org-trail-logs", true, ""),
		ltTrailUpdate(day(5), "exfil-bucket-7", true, ""),
	}
	ids := make([]string, len(stream))
	for i, r := range stream {
		ids[i] = r.ID()
	}
	incidents := func(order []dt.Rec) []string {
		h := dt.NewWithStore(t, newStore(t), newTamper(t))
		var out []string
		for _, f := range dt.Only(builtin.LoggingTamperingID, h.Stream(order...)) {
			out = append(out, f.EventName+" "+f.PrincipalARN[strings.LastIndexByte(f.PrincipalARN, ':')+1:]+" "+f.Severity.String())
		}
		slices.Sort(out)
		return out
	}
	want := []string{
		"DeleteDetector assumed-role/ci-runner/build-7 HIGH",
		"PutEventSelectors assumed-role/terraform-deployer/tf-run-1 LOW",
		"StopLogging assumed-role/terraform-deployer/tf-run-1 MEDIUM",
		"StopLogging user/alice HIGH",
		"UpdateTrail user/alice MEDIUM",
	}
	checkIncidentsShuffled(t, stream, 8, incidents, want)
}

func TestLoggingTamperingScenarios(t *testing.T) { runTamperScenarios(t, memoryStore) }

// TestLoggingTamperingStratus: the six defense-evasion detonations of
// Stratus Red Team (an IAM user's long-term key or its role session, never
// seen configuring logging) raise HIGH for the stop and the delete, MEDIUM
// for the selectors that drop management events and for deleted DNS query
// and flow logs, LOW for the denied attempt to leave the organization.
func TestLoggingTamperingStratus(t *testing.T) {
	for name, want := range map[string]detectors.Severity{
		"aws.defense-evasion.cloudtrail-delete.json":          detectors.SeverityHigh,
		"aws.defense-evasion.cloudtrail-stop.json":            detectors.SeverityHigh,
		"aws.defense-evasion.cloudtrail-event-selectors.json": detectors.SeverityMedium,
		"aws.defense-evasion.dns-delete-logs.json":            detectors.SeverityMedium,
		"aws.defense-evasion.vpc-remove-flow-logs.json":       detectors.SeverityMedium,
		"aws.defense-evasion.organizations-leave.json":        detectors.SeverityLow, // denied
	} {
		t.Run(name, func(t *testing.T) {
			fs := dt.Only(builtin.LoggingTamperingID, streamRaw(dt.New(t, newTamper(t)), stratus(t, name)))
			det3CheckOne(t, fs, want, nil)
			t.Log(fs[0].Explanation)
		})
	}
}

// TestLoggingTamperingPanther checks the Panther cases of the matching
// rules; differences are stated.
func TestLoggingTamperingPanther(t *testing.T) {
	const (
		H = detectors.SeverityHigh
		M = detectors.SeverityMedium
	)
	runPantherSuite(t, builtin.LoggingTamperingID, func(t *testing.T) detectors.Detector { return newTamper(t) }, map[string]pantherVerdict{
		"AWS.CloudTrail.Created/CloudTrail Was Created":                                                {differ: "creating a trail is not tampering; it teaches who administers logging"},
		"AWS.CloudTrail.Created/KMS Decrypt Event":                                                     {},
		"AWS.CloudTrail.Created/Error Creating CloudTrail":                                             {},
		"AWS.CloudTrail.EventSelectorsDisabled/Event Selector Disabled":                                {want: M},
		"AWS.CloudTrail.EventSelectorsDisabled/Event Selector Enabled":                                 {},
		"AWS.CloudTrail.EventSelectorsDisabled/Uninteresting Event Type":                               {},
		"AWS.CloudTrail.Stopped/CloudTrail Was Stopped":                                                {want: H},
		"AWS.CloudTrail.Stopped/CloudTrail Was Started":                                                {},
		"AWS.CloudTrail.Stopped/Error Stopping CloudTrail":                                             {},
		"AWS.ConfigService.Created/Config Recorder Delivery Channel Created":                           {differ: "configuring Config is not tampering"},
		"AWS.ConfigService.Created/Config Recorder Deleted":                                            {want: H, differ: "that rule looks for creation; the delete is tampering"},
		"AWS.ConfigService.Created/Error Creating Config Recorder Delivery Channel":                    {},
		"AWS.ConfigService.DisabledDeleted/Config Recorder Delivery Channel Created":                   {},
		"AWS.ConfigService.DisabledDeleted/Config Recorder Deleted":                                    {want: H},
		"AWS.ConfigService.DisabledDeleted/Error Deleting Config Recorder":                             {},
		"AWS.CloudTrail.SecurityConfigurationChange/Security Configuration Changed":                    {want: H},
		"AWS.CloudTrail.SecurityConfigurationChange/Security Configuration Not Changed":                {},
		"AWS.CloudTrail.SecurityConfigurationChange/Non Security Configuration Change":                 {},
		"AWS.CloudTrail.SecurityConfigurationChange/Security Configuration Not Changed - Error":        {},
		"AWS.CloudTrail.SecurityConfigurationChange/Security Configuration Changed - Allowlisted User": {},
		"AWS.CloudTrail.AttemptToLeaveOrg/Failed Attempt to Leave Org":                                 {want: detectors.SeverityLow},
		"AWS.CloudTrail.DNSLogsDeleted/Logs Deleted":                                                   {want: M},
		"AWS.VPCFlow.LogsDeleted/Logs Deleted":                                                         {want: M},
	}, "AWS.CloudTrail.AttemptToLeaveOrg", "AWS.CloudTrail.DNSLogsDeleted", "AWS.VPCFlow.LogsDeleted", "AWS.CloudTrail.Created", "AWS.CloudTrail.EventSelectorsDisabled", "AWS.CloudTrail.Stopped",
		"AWS.ConfigService.Created", "AWS.ConfigService.DisabledDeleted", "AWS.CloudTrail.SecurityConfigurationChange")
}
