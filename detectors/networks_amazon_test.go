package detectors

import (
	"strings"
	"testing"
)

// TestAmazonOrgIsToUpperPrefix: the in-place comparison answers what
// upper-casing the name and testing its prefix answered.
func TestAmazonOrgIsToUpperPrefix(t *testing.T) {
	for _, org := range []string{
		"AMAZON-02", "Amazon.com, Inc.", "amazon", "AMAZO", "", "Amazonas Telecom", "DIGITALOCEAN-ASN",
		"ÄMAZON", "amazon\u0131", "\u0131amazon", "AMAZ\u00d6N", "Amazon\u212a", "AMAZON-AES ✓",
	} {
		want := strings.HasPrefix(strings.ToUpper(org), "AMAZON")
		if got := amazonOrg(org); got != want {
			t.Errorf("amazonOrg(%q) = %v, ToUpper says %v", org, got, want)
		}
	}
}

// FuzzAmazonOrg holds amazonOrg to the ToUpper it replaced.
func FuzzAmazonOrg(f *testing.F) {
	f.Add("Amazon.com, Inc.")
	f.Add("amazon\u0131")
	f.Fuzz(func(t *testing.T, org string) {
		if got, want := amazonOrg(org), strings.HasPrefix(strings.ToUpper(org), "AMAZON"); got != want {
			t.Errorf("amazonOrg(%q) = %v, ToUpper says %v", org, got, want)
		}
	})
}
