package policy_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/iamsentry/iamsentry/detectors/policy"
)

var seeds = []string{
	`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`,
	`{"Statement":[{"Effect":"Allow","NotAction":["iam:*"],"NotResource":"arn:aws:s3:::x","Condition":{"Bool":{"aws:SecureTransport":true}}}]}`,
	`{"Statement":[{"Effect":"allow","Action":["iam:Pass*","sts:*"],"Resource":["arn:aws:iam::*:role/*"]}]}`,
	`{"Statement":[{"Effect":"Allow","Principal":{"AWS":["*","999988887777","arn:aws:iam::444455556666:root"]},"Action":"sts:AssumeRole"}]}`,
	`{"Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::1:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"token.actions.githubusercontent.com:sub":["repo:*",1]}}}]}`,
	`{"Statement":[{"Effect":"Allow","NotPrincipal":"*","Action":"*"}]}`,
	`{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`,
	`{"Statement":"x"}`,
	`{"Statement":[{"Effect":"Allow","Action":7}]}`,
}

// FuzzAnalyze feeds documents as CloudTrail carries them (a JSON string,
// URL-encoded or not, or an object) and checks the properties a detector
// relies on.
func FuzzAnalyze(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
		f.Add(str(s))
		f.Add(str(url.QueryEscape(s)))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := policy.Analyze(raw)
		if err != nil {
			if !errors.Is(err, policy.ErrMalformed) {
				t.Fatalf("rule: every error wraps ErrMalformed; got %v", err)
			}
			if !reflect.DeepEqual(s, policy.Summary{}) {
				t.Fatalf("rule: an error comes with the zero Summary; got %+v", s)
			}
			return
		}
		checkSummary(t, s)
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back policy.Summary
		if err := back.UnmarshalBinary(b); err != nil {
			t.Fatalf("rule: an analyzed summary decodes from its encoding: %v", err)
		}
		if !reflect.DeepEqual(back, s) {
			t.Fatalf("rule: encoding round-trips;\n got %+v\nwant %+v", back, s)
		}
		if d := policy.Diff(s, s); d.Broader() {
			t.Fatalf("rule: a summary is not broader than itself: %s", d)
		}
		if d := policy.Diff(policy.Summary{}, s); len(d.Added) != len(s.Grants) {
			t.Fatalf("rule: against nothing, everything is added: %d of %d", len(d.Added), len(s.Grants))
		}
		checkStatementCount(t, raw, s)
		// The same document as a JSON string gives the same summary.
		if json.Valid(raw) && strings.HasPrefix(strings.TrimLeft(string(raw), " \t\r\n"), "{") {
			again, err := policy.Analyze(str(string(raw)))
			if err != nil || !reflect.DeepEqual(again, s) {
				t.Fatalf("rule: an object and its JSON string agree; string gives %+v, %v", again, err)
			}
		}
	})
}

// checkSummary checks the invariants Analyze promises.
func checkSummary(t *testing.T, s policy.Summary) {
	t.Helper()
	if len(s.Grants) > policy.MaxGrants {
		t.Fatalf("rule: at most MaxGrants grants; got %d", len(s.Grants))
	}
	for i, g := range s.Grants {
		if g.Kind.String() == "unknown" {
			t.Fatalf("rule: grants have known kinds; got %d", g.Kind)
		}
		if i > 0 {
			p := s.Grants[i-1]
			if p.Kind > g.Kind || p.Kind == g.Kind && p.Subject >= g.Subject {
				t.Fatalf("rule: grants are sorted and unique; %v/%q then %v/%q", p.Kind, p.Subject, g.Kind, g.Subject)
			}
		}
		if g.Conditional != (g.Conditions != "") {
			t.Fatalf("rule: a conditional grant names its condition keys, and only it; %+v", g)
		}
		if len(g.Subject) > 256 || len(g.Via) > 160 || len(g.Conditions) > 160 {
			t.Fatalf("rule: strings are cut to their limits; %d/%d/%d", len(g.Subject), len(g.Via), len(g.Conditions))
		}
		if !utf8.ValidString(g.Subject + g.Via + g.Conditions) {
			// encoding/json turns invalid UTF-8 into U+FFFD; cutting must not split a rune.
			t.Fatalf("rule: cut strings stay valid UTF-8: %q", g.Subject+g.Via+g.Conditions)
		}
		if g.Kind == policy.KindAdmin && strings.HasPrefix(g.Via, "NotAction ") {
			// Everything but a list that leaves self-grant: a NotAction grant.
			if !s.Has(policy.KindNotAction) && !s.Truncated {
				t.Fatalf("rule: NotAction admin implies not-action; grants %v", s.Grants)
			}
		} else if g.Kind == policy.KindAdmin {
			// Every action on every resource includes PassRole and each sensitive service.
			for _, want := range []policy.Kind{policy.KindPassRole, policy.KindServiceWide} {
				if !s.Has(want) && !s.Truncated {
					t.Fatalf("rule: admin implies %v; grants %v", want, s.Grants)
				}
			}
			if !g.Conditional && !s.Truncated {
				if p, _ := s.Find(policy.KindPassRole, ""); p.Conditional {
					t.Fatalf("rule: unconditional admin implies unconditional PassRole")
				}
			}
		}
	}
	if slices.ContainsFunc(s.Grants, func(g policy.Grant) bool {
		return g.Kind == policy.KindServiceWide && !slices.Contains(policy.SensitiveServices, g.Subject)
	}) {
		t.Fatal("rule: service-wide grants are about sensitive services only")
	}
}

// checkStatementCount compares the analyzer's own JSON walk with
// encoding/json: both must see the same number of statements.
func checkStatementCount(t *testing.T, raw []byte, s policy.Summary) {
	t.Helper()
	var doc map[string]any
	if json.Unmarshal(raw, &doc) != nil {
		return // a string form: covered through the object form
	}
	var stmts any
	found := 0
	for k, v := range doc {
		if strings.EqualFold(k, "Statement") {
			stmts, found = v, found+1
		}
	}
	if found != 1 {
		return // keys differing only in case: which wins is encoding/json's business
	}
	want := 1
	if l, ok := stmts.([]any); ok {
		want = len(l)
	}
	if s.Statements != want {
		t.Fatalf("rule: the analyzer reads as many statements as encoding/json; got %d, want %d", s.Statements, want)
	}
}
