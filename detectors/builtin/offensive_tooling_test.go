package builtin_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// Tests of offensive-tooling. The user agents are written here in the
// shapes the tools and distributions send (generated records); the Stratus
// Red Team detonations in testdata/stratus are real.

func newTooling(t testing.TB, scanners ...string) detectors.Detector {
	t.Helper()
	cfg := detectors.DefaultConfig()
	if len(scanners) > 0 {
		cfg.Options = func(v any) error {
			v.(*builtin.OffensiveToolingOptions).ScannerPrincipals = scanners
			return nil
		}
	}
	return dt.Must(builtin.NewOffensiveTooling(cfg))
}

func uaCall(ua string, at time.Time) dt.Rec {
	return dt.Base("iam.amazonaws.com", "ListUsers", at).With("userAgent", ua)
}

const (
	kaliCLI   = "aws-cli/2.13.25 Python/3.11.6 Linux/6.5.0-kali3-amd64 source/x86_64.kali.2023 prompt/off command/sts.get-caller-identity"
	prowlerUA = "APN/1.0 Prowler/3.12.0 Boto3/1.28.0 Python/3.11.4 Linux/5.10.0-25-cloud-amd64 Botocore/1.31.0"
)

func TestOffensiveToolingContract(t *testing.T) {
	dt.Run(t, dt.Contract{
		New:  func() detectors.Detector { return newTooling(t, "arn:aws:iam::111122223333:role/security-audit") },
		Loud: []dt.Rec{uaCall(kaliCLI, t0), uaCall(kaliCLI, t0.Add(time.Minute))},
		Quiet: []dt.Rec{
			uaCall("aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0-1014-aws exe/x86_64.ubuntu.22 prompt/off command/iam.list-users", t0),
			uaCall(prowlerUA, t0).AsAssumedRole("security-audit", "prowler-nightly"),
		},
	})
}

// TestOffensiveToolingUserAgents: what is recognised, and the ordinary
// user agents that must not be.
func TestOffensiveToolingUserAgents(t *testing.T) {
	tests := []struct {
		ua, tool string // tool "" means quiet
	}{
		{kaliCLI, "kali"},
		{"aws-cli/1.22.34 Python/3.9.12 Linux/5.16.0-kali7-amd64 botocore/1.24.42", "kali"},
		{"aws-cli/2.15.30 md/installer#source ua/2.0 os/linux#6.6.9-amd64 md/arch#x86_64 lang/python#3.11.8 md/distrib#kali.2024 md/prompt#off", "kali"},
		{"aws-cli/1.19.1 Python/3.9.2 Linux/5.16.0-12parrot1-amd64 botocore/1.20.0", "parrot"},
		{"aws-cli/2.9.8 Python/3.9.11 Linux/6.1.0-pentoo source/x86_64.pentoo prompt/off", "pentoo"},
		{"Boto3/1.26.3 Python/3.10.8 Linux/5.15.0 Botocore/1.29.3 Pacu", "pacu"},
		{"stratus-red-team_c97089f1-1ae3-4ecc-b006-f5e8fd0f2571", "stratus-red-team"},
		{"Boto3/1.9.89 Python/3.7.3 Linux/4.19.0 Botocore/1.12.89 enumerate-iam", "enumerate-iam"},
		{"aws-sdk-go-v2/1.17.3 os/linux lang/go#1.20 md/GOOS#linux md/GOARCH#amd64 api/iam#1.19 cloudfox", "cloudfox"},
		{"Scout Suite/5.12.0 Python/3.9.2 Linux/5.10.0", "scoutsuite"},
		{prowlerUA, "prowler"},
		{"aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0-1014-aws exe/x86_64.ubuntu.22 prompt/off command/iam.list-users", ""},
		{"Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10.0 md/arch#x86_64 lang/python#3.11", ""},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0", ""},
		{"parrot-service/1.4 aws-sdk-java/1.12.500 Linux/5.10.0-25-cloud-amd64", ""},
		{"kalibrate/2.0 aws-sdk-go/1.44.0 (go1.20; linux; amd64)", ""},
		{"APN/1.0 HashiCorp/1.0 Terraform/1.5.7 (+https://www.terraform.io) terraform-provider-aws/5.20.0", ""},
		{"console.amazonaws.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.ua, func(t *testing.T) {
			fs := dt.Only(builtin.OffensiveToolingID, dt.New(t, newTooling(t)).Score(uaCall(tt.ua, t0)))
			switch {
			case tt.tool == "" && len(fs) > 0:
				t.Fatalf("want quiet, got %s", fs[0].Explanation)
			case tt.tool == "":
			case len(fs) != 1:
				t.Fatalf("want one finding, got %d", len(fs))
			case fs[0].Evidence["tool"] != tt.tool || fs[0].Severity != detectors.SeverityLow:
				t.Fatalf("tool %q %v, want %q LOW", fs[0].Evidence["tool"], fs[0].Severity, tt.tool)
			}
		})
	}
}

// TestOffensiveToolingScanners: Prowler by the declared scanner role is
// quiet, by anyone else LOW; a framework is raised even for the scanner.
func TestOffensiveToolingScanners(t *testing.T) {
	d := func(t *testing.T) detectors.Detector {
		return newTooling(t, "arn:aws:iam::*:role/security-audit")
	}
	scanner := func(ua string) dt.Rec { return uaCall(ua, t0).AsAssumedRole("security-audit", "nightly") }
	tests := []struct {
		name string
		rec  dt.Rec
		want detectors.Severity
	}{
		{"prowler by the scanner role", scanner(prowlerUA), 0},
		{"prowler by alice", uaCall(prowlerUA, t0), detectors.SeverityLow},
		{"prowler by another role", uaCall(prowlerUA, t0).AsAssumedRole("dev", "bob"), detectors.SeverityLow},
		{"pacu by the scanner role", scanner("Boto3/1.26.3 Python/3.10.8 Linux/5.15.0 Botocore/1.29.3 Pacu"), detectors.SeverityLow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			det3CheckOne(t, dt.Only(builtin.OffensiveToolingID, dt.New(t, d(t)).Score(tt.rec)), tt.want, nil)
		})
	}
}

// runToolingScenarios: one principal on Kali over two keys and two days,
// and a second principal with Pacu, raise one finding per principal, tool
// and day whatever the delivery order.
func runToolingScenarios(t *testing.T, newStore newStoreFunc) {
	var stream []dt.Rec
	for m := range 20 {
		at := day(0).Add(time.Duration(m) * time.Minute)
		r := uaCall(kaliCLI, at)
		if m%2 == 1 {
			r = r.With("userIdentity.accessKeyId", "AKIAEXAMPLEALICE02")
		}
		stream = append(stream, r, uaCall(kaliCLI, at.Add(24*time.Hour)))
		stream = append(stream, uaCall("Boto3/1.26.3 Python/3.10.8 Linux/5.15.0 Botocore/1.29.3 Pacu", at).AsAssumedRole("dev", "mallory"))
	}
	stream = sortByTime(stream)
	incidents := func(order []dt.Rec) []string {
		h := dt.NewWithStore(t, newStore(t), newTooling(t))
		var out []string
		for _, f := range dt.Only(builtin.OffensiveToolingID, h.Stream(order...)) {
			out = append(out, f.Evidence["principal"]+" "+f.Evidence["tool"]+" "+f.EventTime.Format(time.DateOnly))
		}
		slices.Sort(out)
		return out
	}
	want := []string{
		"arn:aws:iam::111122223333:role/dev pacu 2024-08-01",
		"arn:aws:iam::111122223333:user/alice kali 2024-08-01",
		"arn:aws:iam::111122223333:user/alice kali 2024-08-02",
	}
	checkIncidentsShuffled(t, stream, 6, incidents, want)
}

func TestOffensiveToolingScenarios(t *testing.T) { runToolingScenarios(t, memoryStore) }

// TestOffensiveToolingStratus: every Stratus Red Team detonation in
// testdata/stratus sends the stratus-red-team user agent or its driver's
// (exec-env/grimoire_…) and raises LOW findings of those tools only.
func TestOffensiveToolingStratus(t *testing.T) {
	names, err := filepath.Glob(filepath.Join("testdata", "stratus", "aws.*.json"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no detonations: %v", err)
	}
	for _, path := range names {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			raws := stratus(t, name)
			want := map[string]bool{}
			for _, raw := range raws {
				var r struct {
					UA       string `json:"userAgent"`
					Time     string `json:"eventTime"`
					Identity struct {
						Type string `json:"type"`
					} `json:"userIdentity"`
				}
				if err := json.Unmarshal(raw, &r); err != nil {
					t.Fatal(err)
				}
				if (strings.HasPrefix(r.UA, "stratus-red-team_") || strings.Contains(r.UA, "exec-env/grimoire_")) && r.Identity.Type != "AWSService" {
					want[r.Time[:10]] = true
				}
			}
			fs := dt.Only(builtin.OffensiveToolingID, streamRaw(dt.New(t, newTooling(t)), raws))
			if len(fs) == 0 || len(want) == 0 {
				t.Fatalf("%d findings for %d detonation days", len(fs), len(want))
			}
			for _, f := range fs {
				if (f.Evidence["tool"] != "stratus-red-team" && f.Evidence["tool"] != "grimoire") || f.Severity != detectors.SeverityLow {
					t.Errorf("finding %s %v: %s", f.Evidence["tool"], f.Severity, f.Explanation)
				}
			}
		})
	}
}

func TestOffensiveToolingOptions(t *testing.T) {
	cfg := detectors.DefaultConfig()
	cfg.Options = func(v any) error {
		o := v.(*builtin.OffensiveToolingOptions)
		o.IgnoreTools, o.ScannerPrincipals = []string{"metasploit"}, []string{" "}
		return nil
	}
	_, err := builtin.NewOffensiveTooling(cfg)
	if got := len(unjoin(err)); got != 2 {
		t.Fatalf("want 2 option errors, got %v", err)
	}
	if _, err := os.Stat(filepath.Join("testdata", "stratus")); err != nil {
		t.Fatal(err)
	}
}
