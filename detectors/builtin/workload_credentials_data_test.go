package builtin_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// Real recordings of stolen instance credentials (see testdata/README.md).
// Both are anonymised: the attacker's real address was replaced, so each
// test says where it places the stand-in and why.

// stratusSteal is the Stratus Red Team detonation
// aws.credential-access.ec2-steal-instance-credentials: the operator's IAM
// user (christophe) runs an SSM command on the instance to read its
// credentials from IMDS, then calls GetCallerIdentity and DescribeInstances
// with them (session i-786a3A8B5C0d92eF4, key ASIAP5CT9NN8EYVU1FXV) from
// the operator's own machine, 18.236.253.47 in the anonymised file.
const stratusSteal = "aws.credential-access.ec2-steal-instance-credentials.json"

// findingsOn scores raws on a fresh store and returns "key severity" per
// finding of the workload detector.
func workloadFindings(t *testing.T, s *detectors.Settings, raws ...[]byte) []string {
	t.Helper()
	var out []string
	for _, f := range dt.Only(builtin.WorkloadCredentialsID, dt.New(t, newWorkload(t, s)).ScoreRaw(raws...)) {
		out = append(out, f.AccessKeyID+" "+f.Severity.String())
		t.Log(f.Explanation)
	}
	return out
}

func TestWorkloadCredentialsStratusStealInstanceCredentials(t *testing.T) {
	raws := det3Stratus(t, stratusSteal)
	const stolen = "ASIAP5CT9NN8EYVU1FXV"
	office := []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}
	t.Run("no database, egress listed: MEDIUM", func(t *testing.T) {
		got := workloadFindings(t, &detectors.Settings{TrustedCIDRs: office}, raws...)
		if strings.Join(got, ";") != stolen+" MEDIUM" {
			t.Errorf("findings %q, want one MEDIUM on %s", got, stolen)
		}
	})
	t.Run("operator on an ISP: HIGH", func(t *testing.T) {
		// The detonation ran from the operator's machine; placed on an
		// ISP, as an attacker's laptop or VPS would be.
		geo := fakeGeo{"18.236.0.0/16": {Country: "FR", ASN: 3215, ASNOrg: "Orange"}}
		if got := workloadFindings(t, &detectors.Settings{GeoIP: geo}, raws...); strings.Join(got, ";") != stolen+" HIGH" {
			t.Errorf("findings %q, want one HIGH on %s", got, stolen)
		}
	})
	// The anonymised stand-in lies in AMAZON-02: with real databases the
	// file alone reads like the instance's own use (nothing else in it
	// tells the instance's address). Once the instance's own calls are
	// seen, the stolen key at another AWS address is InsideAWS.
	aws := &detectors.Settings{GeoIP: fakeGeo{
		"18.236.0.0/16": {Country: "US", ASN: 16509, ASNOrg: "AMAZON-02"},
		"52.94.0.0/16":  {Country: "US", ASN: 16509, ASNOrg: "AMAZON-02"},
	}}
	t.Run("stand-in inside AWS, file alone: silent", func(t *testing.T) {
		if got := workloadFindings(t, aws, raws...); len(got) != 0 {
			t.Errorf("findings %q, want none", got)
		}
	})
	t.Run("stand-in inside AWS after the instance's own use: HIGH", func(t *testing.T) {
		own := instanceOwnUse(t, raws, "52.94.3.3", -10*time.Minute)
		if got := workloadFindings(t, aws, append([][]byte{own}, raws...)...); strings.Join(got, ";") != stolen+" HIGH" {
			t.Errorf("findings %q, want one HIGH on %s", got, stolen)
		}
	})
}

// instanceOwnUse returns a generated record: the instance of the first
// instance-session record in raws calling ListBuckets with the same key
// from ip, shift before it (the SSM agent's own calls, which the detonation
// log does not carry).
func instanceOwnUse(t *testing.T, raws [][]byte, ip string, shift time.Duration) []byte {
	t.Helper()
	for _, raw := range raws {
		var r map[string]any
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		if r["userIdentity"].(map[string]any)["type"] != "AssumedRole" {
			continue
		}
		at, err := time.Parse(time.RFC3339, r["eventTime"].(string))
		if err != nil {
			t.Fatal(err)
		}
		r["eventID"], r["eventName"], r["eventSource"] = dt.FreshID(), "ListBuckets", "s3.amazonaws.com"
		r["eventTime"], r["sourceIPAddress"], r["userAgent"] = at.Add(shift).Format(time.RFC3339), ip, "aws-sdk-go-v2/1.30.0 os/linux"
		return dt.Rec(r).JSON()
	}
	t.Fatal("no instance session in the recording")
	return nil
}

// otrfExfil reads the OTRF ec2_proxy_s3_exfiltration recording. Its
// records are Logstash-shaped, with @timestamp instead of eventTime; the
// test copies one to the other (nothing else changes).
func otrfExfil(t *testing.T) [][]byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "otrf", "ec2_proxy_s3_exfiltration_2020-09-14011940.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		r["eventTime"] = r["@timestamp"]
		out = append(out, dt.Rec(r).JSON())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestWorkloadCredentialsOTRFExfiltration: the WAF instance's credentials,
// taken through an SSRF to IMDS, list and read buckets from a macOS
// laptop (the anonymised 1.2.3.4); the benign console activity of the
// same hour, and the LogCollector instance's credentials issued alongside,
// stay quiet.
func TestWorkloadCredentialsOTRFExfiltration(t *testing.T) {
	raws := otrfExfil(t)
	const stolen = "ASIA5FLZVX4OPVKKVBMX"
	t.Run("outside AWS: HIGH", func(t *testing.T) {
		geo := fakeGeo{"1.2.3.0/24": {Country: "AU", ASN: 13335, ASNOrg: "Example ISP"}}
		if got := workloadFindings(t, &detectors.Settings{GeoIP: geo}, raws...); strings.Join(got, ";") != stolen+" HIGH" {
			t.Errorf("findings %q, want one HIGH on %s", got, stolen)
		}
	})
	t.Run("no database, egress listed: MEDIUM", func(t *testing.T) {
		s := &detectors.Settings{TrustedCIDRs: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}}
		if got := workloadFindings(t, s, raws...); strings.Join(got, ";") != stolen+" MEDIUM" {
			t.Errorf("findings %q, want one MEDIUM on %s", got, stolen)
		}
	})
	t.Run("no database, nothing listed: silent", func(t *testing.T) {
		if got := workloadFindings(t, &detectors.Settings{}, raws...); len(got) != 0 {
			t.Errorf("findings %q, want none", got)
		}
	})
}

// TestWorkloadCredentialsPanther runs the tests of Panther's IMDS
// credential exfiltration rule, with a GeoIP table that knows their
// addresses: 45.33.32.156 is Linode's (a hosting ASN), 52.42.146.205
// AMAZON-02's.
func TestWorkloadCredentialsPanther(t *testing.T) {
	geo := fakeGeo{
		"45.33.32.0/24": {Country: "US", ASN: 63949, ASNOrg: "Akamai Connected Cloud"},
		"52.42.0.0/16":  {Country: "US", ASN: 16509, ASNOrg: "AMAZON-02"},
	}
	none := detectors.SeverityUnknown
	const rule = "AWS.CloudTrail.IMDSCredentialExfiltration/"
	verdicts := map[string]pantherVerdict{
		rule + "IMDS Credentials Used From Public IP":        {detectors.SeverityHigh, ""},
		rule + "Normal EC2 Workload From Private IP":         {none, ""},
		rule + "AWS Service Hostname as Source IP":           {none, ""},
		rule + "Legitimate SSM Activity":                     {none, ""},
		rule + "AWS Internal Source IP":                      {none, ""},
		rule + "AWS Service InvokedBy on behalf of instance": {none, ""},
		rule + "SSM Messages Service Source":                 {none, ""},
		rule + "RegisterManagedInstance Event":               {none, ""},
		rule + "Non-Instance Role":                           {none, ""},
		rule + "IMDS Credentials Used From Amazon.com ASN Source IP": {none, "one use from an AWS address is what the " +
			"instance's own calls look like; it raises once the key is also seen at another AWS address (InsideAWS) " +
			"or elsewhere after its first AWS use"},
	}
	// These hand-written cases carry no eventID, which the parser
	// requires; the test gives each one (nothing else changes).
	cases := dt.PantherCases(t, filepath.Join("testdata", "panther", builtin.WorkloadCredentialsID+".jsonl"))
	for _, c := range cases {
		name := c.RuleID + "/" + c.TestName
		t.Run(name, func(t *testing.T) {
			v, ok := verdicts[name]
			if !ok {
				t.Fatalf("case has no verdict in the table")
			}
			if raised := v.want != none; raised != c.Expected && v.differ == "" {
				t.Fatalf("verdict differs from Panther's (%v) without a reason", c.Expected)
			}
			var r map[string]any
			if err := json.Unmarshal(c.Event, &r); err != nil {
				t.Fatal(err)
			}
			if r["eventID"] == nil {
				r["eventID"] = dt.FreshID()
			}
			fs := dt.Only(builtin.WorkloadCredentialsID, dt.New(t, newWorkload(t, &detectors.Settings{GeoIP: geo})).ScoreRaw(dt.Rec(r).JSON()))
			det3CheckOne(t, fs, v.want, nil)
		})
	}
	if len(cases) != len(verdicts) {
		t.Errorf("%d cases for %d verdicts", len(cases), len(verdicts))
	}
}
