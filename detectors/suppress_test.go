package detectors_test

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// suppressGeo is a GeoLookup on a few prefixes.
type suppressGeo map[netip.Prefix]detectors.GeoLocation

func (g suppressGeo) Lookup(a netip.Addr) (detectors.GeoLocation, bool) {
	for p, loc := range g {
		if p.Contains(a) {
			return loc, true
		}
	}
	return detectors.GeoLocation{}, false
}

var suppressT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// pipelineAttach is a generated AttachRolePolicy by a terraform session
// from the runner's network, invoked through CloudFormation.
func pipelineAttach() dt.Rec {
	return dt.IAM("AttachRolePolicy", suppressT0, map[string]any{"roleName": "app-api", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}).
		AsAssumedRole("terraform-runner", "run-42").
		With("userAgent", "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.80.0").
		With("userIdentity.invokedBy", "cloudformation.amazonaws.com").
		With("sourceIPAddress", "192.0.2.15")
}

// Each field: the entry matches the pipeline's record, and a record that
// differs in that field only is not matched.
func TestSuppressionFields(t *testing.T) {
	geo := suppressGeo{netip.MustParsePrefix("192.0.2.0/24"): {ASN: 64500}, netip.MustParsePrefix("198.51.100.0/24"): {ASN: 64501}}
	tests := []struct {
		name  string
		entry detectors.Suppression
		other func(dt.Rec) dt.Rec // the quiet twin: the same call, one field changed
	}{
		{"detector", detectors.Suppression{Detector: "d", Account: "111122223333"}, nil},
		{"principal (issuing role)", detectors.Suppression{Principal: "arn:aws:iam::*:role/terraform-*"},
			func(r dt.Rec) dt.Rec { return r.AsAssumedRole("developer", "run-42") }},
		{"principal (session arn)", detectors.Suppression{Principal: "arn:aws:sts::*:assumed-role/terraform-runner/run-*"},
			func(r dt.Rec) dt.Rec { return r.AsAssumedRole("terraform-runner", "alice") }},
		{"event name list", detectors.Suppression{EventNames: []string{"CreateRole", "attach*policy"}},
			func(r dt.Rec) dt.Rec { return r.With("eventName", "PutRolePolicy") }},
		{"target role name", detectors.Suppression{Targets: []string{"app-*"}},
			func(r dt.Rec) dt.Rec { return r.With("requestParameters.roleName", "admin") }},
		{"target policy arn", detectors.Suppression{Targets: []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"}},
			func(r dt.Rec) dt.Rec {
				return r.With("requestParameters.policyArn", "arn:aws:iam::aws:policy/AdministratorAccess")
			}},
		{"target is case-sensitive", detectors.Suppression{Targets: []string{"app-*"}},
			func(r dt.Rec) dt.Rec { return r.With("requestParameters.roleName", "APP-api") }},
		{"no target never matches", detectors.Suppression{Targets: []string{"*"}},
			func(r dt.Rec) dt.Rec { return r.With("requestParameters", nil) }},
		{"user agent", detectors.Suppression{UserAgent: "*terraform/*"},
			func(r dt.Rec) dt.Rec { return r.With("userAgent", "aws-cli/2.15.0") }},
		{"invoked by", detectors.Suppression{InvokedBy: "cloudformation.amazonaws.com"},
			func(r dt.Rec) dt.Rec { return r.Without("userIdentity.invokedBy") }},
		{"source cidr", detectors.Suppression{SourceCIDR: netip.MustParsePrefix("192.0.2.0/24")},
			func(r dt.Rec) dt.Rec { return r.With("sourceIPAddress", "198.51.100.7") }},
		{"source asn", detectors.Suppression{SourceASN: 64500, Geo: geo},
			func(r dt.Rec) dt.Rec { return r.With("sourceIPAddress", "198.51.100.7") }},
		{"source asn, service source", detectors.Suppression{SourceASN: 64500, Geo: geo},
			func(r dt.Rec) dt.Rec { return r.With("sourceIPAddress", "cloudformation.amazonaws.com") }},
		{"source asn, unknown address", detectors.Suppression{SourceASN: 64500, Geo: geo},
			func(r dt.Rec) dt.Rec { return r.With("sourceIPAddress", "203.0.113.9") }},
		{"account", detectors.Suppression{Account: "111122223333"},
			func(r dt.Rec) dt.Rec {
				return r.With("userIdentity.accountId", "444455556666").With("recipientAccountId", "444455556666")
			}},
		{"expires (event time)", detectors.Suppression{Account: "111122223333", Expires: suppressT0.Add(time.Hour)},
			func(r dt.Rec) dt.Rec { return r.With("eventTime", suppressT0.Add(time.Hour).Format(time.RFC3339)) }},
		{"all given must match", detectors.Suppression{UserAgent: "*Terraform*", SourceCIDR: netip.MustParsePrefix("192.0.2.0/24")},
			func(r dt.Rec) dt.Rec { return r.With("sourceIPAddress", "198.51.100.7") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.entry
			if e.Detector == "" {
				e.Detector = "*"
			}
			rec := parse(t, pipelineAttach())
			f := detectors.NewFinding(detectors.Info{ID: "d"}, rec, detectors.SeverityHigh, 80)
			if !e.Matches(&f, rec) {
				t.Fatalf("%v does not match the pipeline's record", e.String())
			}
			if tt.other == nil {
				other := f
				other.DetectorID = "other"
				if e.Matches(&other, rec) {
					t.Errorf("%v matches a finding of another detector", e.String())
				}
				return
			}
			twin := parse(t, tt.other(pipelineAttach()))
			tf := detectors.NewFinding(detectors.Info{ID: "d"}, twin, detectors.SeverityHigh, 80)
			if e.Matches(&tf, twin) {
				t.Errorf("%v matches the twin that differs in that field", e.String())
			}
		})
	}
}

func TestTargets(t *testing.T) {
	tests := []struct {
		name   string
		params any
		want   []string
	}{
		{"attach: role and policy", map[string]any{"roleName": "r", "policyArn": "arn:p"}, []string{"r", "arn:p"}},
		{"user, group", map[string]any{"groupName": "g", "userName": "u"}, []string{"u", "g"}},
		{"assume role", map[string]any{"roleArn": "arn:aws:iam::1:role/x", "roleSessionName": "s"}, []string{"arn:aws:iam::1:role/x"}},
		{"none", map[string]any{"maxItems": 100}, nil},
		{"not a string", map[string]any{"userName": 7}, nil},
		{"null", nil, nil},
		{"not an object", []any{"userName"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := parse(t, dt.Base("iam.amazonaws.com", "X", suppressT0).With("requestParameters", tt.params))
			if got := detectors.Targets(rec); !slices.Equal(got, tt.want) {
				t.Errorf("Targets = %q, want %q", got, tt.want)
			}
		})
	}
}
