package policy_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/iamsentry/iamsentry/detectors/policy"
)

// githubTrust is a generated GitHub OIDC trust policy whose sub condition,
// under op, accepts subs.
func githubTrust(op string, subs ...string) []byte {
	doc := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect":    "Allow",
		"Principal": map[string]any{"Federated": "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},
		"Action":    "sts:AssumeRoleWithWebIdentity",
		"Condition": map[string]any{
			"StringEquals": map[string]any{"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
			op:             map[string]any{"token.actions.githubusercontent.com:sub": subs},
		},
	}}}
	b, _ := json.Marshal(doc)
	s, _ := json.Marshal(string(b))
	return s
}

func TestTrustEveryValueMustBeNarrow(t *testing.T) {
	tests := []struct {
		name string
		doc  []byte
		open bool
	}{
		{"one repository", githubTrust("StringLike", "repo:acme/x:*"), false},
		{"two repositories", githubTrust("StringLike", "repo:acme/x:*", "repo:acme/y:ref:refs/heads/main"), false},
		{"a whole organisation", githubTrust("StringLike", "repo:acme/*"), false},
		{"a narrow and a broad value", githubTrust("StringLike", "repo:acme/x:*", "repo:*"), true},
		{"a broad value first", githubTrust("StringLike", "*", "repo:acme/x:*"), true},
		{"an organisation prefix anyone can extend", githubTrust("StringLike", "repo:acme*"), true},
		{"a single-character wildcard in the organisation", githubTrust("StringLike", "repo:acm?/x:*"), true},
		{"StringEquals takes wildcards literally", githubTrust("StringEquals", "repo:acme/x:ref:refs/heads/main"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := policy.Analyze(tt.doc)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Has(policy.KindAssumeOpenFederated); got != tt.open {
				t.Errorf("open federation = %v, want %v (%v)", got, tt.open, s.Grants)
			}
		})
	}
}

func TestReadTrustAndAdded(t *testing.T) {
	before, err := policy.ReadTrust(githubTrust("StringLike", "repo:acme/x:*"))
	if err != nil {
		t.Fatal(err)
	}
	after, err := policy.ReadTrust(githubTrust("StringLike", "repo:acme/x:*", "repo:evil/y:*"))
	if err != nil {
		t.Fatal(err)
	}
	wantP := []string{"Federated:arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}
	if !slices.Equal(after.Principals, wantP) {
		t.Errorf("principals = %q, want %q", after.Principals, wantP)
	}
	if got := after.Federated(); !slices.Equal(got, []string{"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}) {
		t.Errorf("federated = %q", got)
	}
	added := after.Added(before)
	if len(added.Principals) != 0 || !slices.Equal(added.Subjects, []string{"token.actions.githubusercontent.com:sub=repo:evil/y:*"}) {
		t.Errorf("added = %+v, want only the evil repository", added)
	}
	b, _ := after.MarshalBinary()
	var back policy.Trustees
	if err := back.UnmarshalBinary(b); err != nil || !slices.Equal(back.Subjects, after.Subjects) {
		t.Errorf("round trip = %+v, %v", back, err)
	}
	if err := back.UnmarshalBinary([]byte("garbage")); err == nil {
		t.Error("garbage must not decode")
	}
}

func TestReadTrustPrincipals(t *testing.T) {
	doc := []byte(`{"Statement":[
		{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::444455556666:root","111122223333"],"Service":"EC2.amazonaws.com"},"Action":"sts:AssumeRole"},
		{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}},
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::777788889999:root"},"Action":"s3:GetObject"},
		{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::999999999999:root"},"Action":"sts:AssumeRole"}]}`)
	got, err := policy.ReadTrust(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"*", "AWS:111122223333", "AWS:arn:aws:iam::444455556666:root", "Service:ec2.amazonaws.com"}
	if !slices.Equal(got.Principals, want) || len(got.Subjects) != 0 {
		t.Errorf("trustees = %+v, want principals %q", got, want)
	}
	if _, err := policy.ReadTrust([]byte(`{"Statement":{"Effect":"Maybe","Action":"*"}}`)); err == nil {
		t.Error("a malformed document must be an error")
	}
}

// FuzzReadTrust checks that any input either fails with ErrMalformed or
// gives bounded, sorted trustees that survive the state encoding.
func FuzzReadTrust(f *testing.F) {
	f.Add(githubTrust("StringLike", "repo:acme/x:*", "repo:*"))
	f.Add([]byte(`{"Statement":{"Effect":"Allow","Principal":{"AWS":["1","2"]},"Action":"sts:AssumeRole"}}`))
	f.Add([]byte(`{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"x"},"Action":"*"}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		tr, err := policy.ReadTrust(raw)
		if err != nil {
			if !errors.Is(err, policy.ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		for _, l := range [][]string{tr.Principals, tr.Subjects} {
			if len(l) > policy.MaxTrustees || !slices.IsSorted(l) {
				t.Fatalf("list unbounded or unsorted: %q", l)
			}
		}
		b, _ := tr.MarshalBinary()
		var back policy.Trustees
		if err := back.UnmarshalBinary(b); err != nil || !slices.Equal(back.Principals, tr.Principals) ||
			!slices.Equal(back.Subjects, tr.Subjects) || back.Truncated != tr.Truncated {
			t.Fatalf("round trip: %+v -> %+v (%v)", tr, back, err)
		}
		if !tr.Added(tr).Empty() {
			t.Fatalf("a document adds nothing to itself")
		}
	})
}
