package iamsentry_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/iamsentry/iamsentry/clients/iamsentry"
	"github.com/iamsentry/iamsentry/detectors"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// The client prints findings without importing detectors, so these tests
// hold its JSON line and severity names to the server's own types: the
// line `iamsentry scan` prints is json.Marshal of a detectors.Finding.

func TestMarshalFindingIsScanLine(t *testing.T) {
	full := &iamsentryv1.Finding{
		DetectorId: "admin-policy-attached", Severity: iamsentryv1.Severity_SEVERITY_CRITICAL, Score: 90,
		Title: "Admin policy attached", Explanation: "alice attached <AdministratorAccess> & more",
		Techniques: []string{"T1098", "T1078.004"}, AccountId: "111122223333",
		PrincipalArn: "arn:aws:iam::111122223333:user/alice", AccessKeyId: "AKIAEXAMPLE0000001",
		SourceIp: "198.51.100.7", EventName: "AttachUserPolicy",
		EventTime: timestamppb.New(time.Date(2024, 8, 1, 13, 0, 0, 500_000_000, time.UTC)),
		EventId:   "e-1", Evidence: map[string]string{"policy": "AdministratorAccess", "target": "bob"},
		Incident: "admin-policy-attached/e-1", Suppression: &iamsentryv1.Suppression{Entry: 2, Reason: "break-glass"},
	}
	for name, f := range map[string]*iamsentryv1.Finding{
		"every field": full,
		"bare":        {DetectorId: "recon", Severity: iamsentryv1.Severity_SEVERITY_LOW, EventName: "ListUsers", EventId: "e-2"},
		"no time":     {DetectorId: "recon", Severity: iamsentryv1.Severity_SEVERITY_INFO},
	} {
		t.Run(name, func(t *testing.T) {
			line, err := iamsentry.MarshalFinding(f)
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.DisallowUnknownFields()
			var scan detectors.Finding
			if err := dec.Decode(&scan); err != nil {
				t.Fatalf("MarshalFinding printed %s; scan's finding type does not read it: %v", line, err)
			}
			want, err := json.Marshal(scan)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(line, want) {
				t.Errorf("MarshalFinding differs from scan's line:\n got %s\nwant %s", line, want)
			}
		})
	}
}

func TestSeverityNamesAreScans(t *testing.T) {
	for v := range iamsentryv1.Severity_name {
		sev := iamsentry.Severity(v)
		want := detectors.Severity(v).String()
		if got := iamsentry.SeverityName(sev); got != want {
			t.Errorf("SeverityName(%v) = %q, scan prints %q", sev, got, want)
		}
	}
	if got, want := iamsentry.SeverityName(9), detectors.Severity(9).String(); got != want {
		t.Errorf("SeverityName(9) = %q, scan prints %q", got, want)
	}
}

func TestParseSeverity(t *testing.T) {
	for _, tc := range []struct {
		name string
		want iamsentry.Severity // SEVERITY_UNSPECIFIED: an error is wanted
	}{
		{"CRITICAL", iamsentryv1.Severity_SEVERITY_CRITICAL},
		{"high", iamsentryv1.Severity_SEVERITY_HIGH},
		{"Medium", iamsentryv1.Severity_SEVERITY_MEDIUM},
		{"SEVERITY_LOW", iamsentryv1.Severity_SEVERITY_LOW},
		{"severity_info", iamsentryv1.Severity_SEVERITY_INFO},
		{"", iamsentryv1.Severity_SEVERITY_UNSPECIFIED},
		{"UNKNOWN", iamsentryv1.Severity_SEVERITY_UNSPECIFIED},
		{"SEVERITY_UNSPECIFIED", iamsentryv1.Severity_SEVERITY_UNSPECIFIED},
		{"UNSPECIFIED", iamsentryv1.Severity_SEVERITY_UNSPECIFIED},
		{"urgent", iamsentryv1.Severity_SEVERITY_UNSPECIFIED},
	} {
		got, err := iamsentry.ParseSeverity(tc.name)
		if wantErr := tc.want == iamsentryv1.Severity_SEVERITY_UNSPECIFIED; (err != nil) != wantErr || got != tc.want {
			t.Errorf("ParseSeverity(%q) = %v, %v; want %v (error: %t)", tc.name, got, err, tc.want, wantErr)
		}
	}
	for v := range iamsentryv1.Severity_name {
		if sev := iamsentry.Severity(v); sev != iamsentryv1.Severity_SEVERITY_UNSPECIFIED {
			if got, err := iamsentry.ParseSeverity(iamsentry.SeverityName(sev)); err != nil || got != sev {
				t.Errorf("ParseSeverity(SeverityName(%v)) = %v, %v; want it back", sev, got, err)
			}
		}
	}
}
