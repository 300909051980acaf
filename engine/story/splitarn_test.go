package story

import (
	"strings"
	"testing"
)

// TestSplitARNIsSplitN: cutting in place answers what splitting into six
// parts did, on well-formed and malformed ARNs alike.
func TestSplitARNIsSplitN(t *testing.T) {
	reference := func(arn string) (string, string, bool) {
		parts := strings.SplitN(arn, ":", 6)
		if len(parts) != 6 || parts[0] != "arn" {
			return "", "", false
		}
		return parts[4], parts[5], true
	}
	for _, arn := range []string{
		"arn:aws:iam::111122223333:user/alice",
		"arn:aws:sts::111122223333:assumed-role/Admin/alice@example.com",
		"arn:aws:iam::111122223333:root",
		"arn:aws:s3:::bucket",
		"arn:aws-us-gov:iam::111122223333:role/path/to/R",
		"arn:aws:lambda:us-east-1:111122223333:function:f:1",
		"arn:aws:iam::111122223333:",
		"arn:aws:iam::111122223333",
		"arn:aws:iam:",
		"arn:",
		"arn",
		"ARN:aws:iam::111122223333:user/a",
		"xarn:aws:iam::111122223333:user/a",
		"",
		":::::",
		"arn:::::",
	} {
		a, r, ok := splitARN(arn)
		wa, wr, wok := reference(arn)
		if a != wa || r != wr || ok != wok {
			t.Errorf("splitARN(%q) = %q, %q, %v; SplitN says %q, %q, %v", arn, a, r, ok, wa, wr, wok)
		}
	}
}

// FuzzSplitARN holds splitARN to the SplitN it replaced.
func FuzzSplitARN(f *testing.F) {
	f.Add("arn:aws:sts::111122223333:assumed-role/Admin/alice")
	f.Add("arn:a:b:c:d")
	f.Fuzz(func(t *testing.T, arn string) {
		parts := strings.SplitN(arn, ":", 6)
		wok := len(parts) == 6 && parts[0] == "arn"
		a, r, ok := splitARN(arn)
		if ok != wok || ok && (a != parts[4] || r != parts[5]) {
			t.Errorf("splitARN(%q) = %q, %q, %v; SplitN says %q", arn, a, r, ok, parts)
		}
	})
}
