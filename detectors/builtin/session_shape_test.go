package builtin_test

import (
	"testing"

	"github.com/iamsentry/iamsentry/detectors/builtin"
)

func TestSessionNameShape(t *testing.T) {
	for name, want := range map[string]string{
		"alice@example.com":                    "a@a.a/m",
		"bob@example.com":                      "a@a.a/m",
		"Alice.Smith@Example.com":              "Aa.Aa@Aa.a/m",
		"botocore-session-1722375070":          "a-a-9/m",
		"aws-go-sdk-1722375070115152000":       "a-a-a-9/m",
		"aws-go-sdk-1722587398902687000":       "a-a-a-9/m",
		"i-0abc123def4567890":                  "a-x/m",
		"GitHubActions":                        "Aa/m",
		"terraform-20240802T101500Z":           "a-X/m",
		"3f2b8c1e-0a9d-4c1b-8e2f-0123456789ab": "U/l",
		"1234abcd-1234-1234-1234-123456789012": "U/l",
		"awslambda_55_20240602202712548":       "a_9_9/m",
		"kT9xQ2mLp4Zr8WbN":                     "X/m",
		"1111":                                 "9/s",
		"":                                     "/s",
	} {
		if got := builtin.SessionNameShape(name); got != want {
			t.Errorf("SessionNameShape(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestLooksRandom(t *testing.T) {
	for name, want := range map[string]bool{
		// Random base62 tokens (generated).
		"kT9xQ2mLp4Zr8WbN":     true,
		"a8Kx0pQz1LmN":         true,
		"sess-Xq7Lp2Vb9Tz4Kw8": true,
		// Benign names tools and people use.
		"aws-go-sdk-1722375070115152000":       false,
		"botocore-session-1722375070":          false,
		"3f2b8c1e-0a9d-4c1b-8e2f-0123456789ab": false,
		"i-0abc123def4567890":                  false,
		"GitHubActions":                        false,
		"terraform-20240802T101500Z":           false,
		"MyService2024Deployment":              false,
		"S3BackupJob2024v2":                    false,
		"EC2RoleForSSM2":                       false,
		"AIDAJQABLZS4A3QDU576Q":                false,
		"0123456789ABCDEF0123":                 false,
		"alice@example.com":                    false,
		"k9x2":                                 false,
	} {
		r, got := builtin.LooksRandom(name, 12, 3.0)
		if got != want {
			t.Errorf("LooksRandom(%q) = %v (%+v), want %v", name, got, r, want)
		}
	}
}
