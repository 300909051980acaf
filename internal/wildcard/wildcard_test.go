package wildcard

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything/at:all", true},
		{"arn:aws:iam::*:role/AdminRole", "arn:aws:iam::111122223333:role/AdminRole", true},
		{"arn:aws:iam::*:role/AdminRole", "arn:aws:iam::111122223333:role/AdminRole2", false},
		{"arn:aws:iam::*:role/terraform-*", "arn:aws:iam::1:role/terraform-ci", true},
		{"arn:aws:iam::*:role/terraform-*", "arn:aws:iam::1:role/path/terraform-ci", false},
		{"arn:aws:iam::*:role/*terraform-*", "arn:aws:iam::1:role/path/terraform-ci", true},
		{"iam:Pass*", "iam:PassRole", true},
		{"iam:Pass*", "iam:passrole", false},
		{"iam:?assRole", "iam:PassRole", true},
		{"iam:?assRole", "iam:assRole", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"*a*", "bab", true},
		{"**", "x", true},
		{"ab", "abc", false},
		{"abc", "ab", false},
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.s); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestMatchFold(t *testing.T) {
	if !MatchFold("IAM:pass*", "iam:PassRole") {
		t.Error("MatchFold must ignore case")
	}
	if MatchFold("iam:Pass*", "sts:PassRole") {
		t.Error("MatchFold matched another service")
	}
}

// TestMatchPathological checks the matcher stays fast on patterns that make
// naive recursive matchers exponential; a regression hangs the test.
func TestMatchPathological(t *testing.T) {
	s := strings.Repeat("a", 10000)
	p := strings.Repeat("a*", 50) + "b"
	if Match(p, s) {
		t.Error("matched a string without b")
	}
}

func FuzzMatch(f *testing.F) {
	f.Add("a*b?c", "aXbYc")
	f.Add("*", "")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		got := Match(pattern, s)
		if !Has(pattern) && got != (pattern == s) {
			t.Fatalf("literal pattern %q vs %q: got %v", pattern, s, got)
		}
		if Match("*", s) != true {
			t.Fatal("* must match everything")
		}
		if got && !Match(pattern+"*", s+"tail") {
			t.Fatalf("%q matches %q but %q does not match %q", pattern, s, pattern+"*", s+"tail")
		}
		if got && isASCII(s) && isASCII(pattern) && !MatchFold(pattern, strings.ToUpper(s)) {
			t.Fatalf("MatchFold(%q, upper(%q)) = false though Match is true", pattern, s)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
