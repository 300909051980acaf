package policy_test

import (
	"testing"

	"github.com/iamsentry/iamsentry/detectors/policy"
)

func analyze(t *testing.T, doc string) policy.Summary {
	t.Helper()
	s, err := policy.Analyze(str(doc))
	if err != nil {
		t.Fatalf("Analyze(%s): %v", doc, err)
	}
	return s
}

func TestDiff(t *testing.T) {
	const (
		readOnly   = `{"Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"*"}]}`
		passRole   = `{"Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}]}`
		passRoleIf = `{"Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"StringEquals":{"iam:PassedToService":"ec2.amazonaws.com"}}}]}`
		admin      = `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`
		trustOrg   = `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}`
		trustTwo   = `{"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root","999988887777"]},"Action":"sts:AssumeRole"}]}`
	)
	tests := []struct {
		name, prev, next string
		broader          bool
		words            string
	}{
		{"identical", passRole, passRole, false, ""},
		{"narrower", admin, passRole, false, ""},
		{"read-only to PassRole", readOnly, passRole, true, "adds iam:PassRole on any role (iam:PassRole on *)"},
		{"PassRole to admin", passRole, admin, true,
			"adds Action * on Resource *; adds iam:* on Resource * (* on *); adds organizations:* on Resource * (* on *); adds sts:* on Resource * (* on *)"},
		{"condition dropped", passRoleIf, passRole, true, "drops the Condition on iam:PassRole on any role (iam:PassRole on *)"},
		{"condition added", passRole, passRoleIf, false, ""},
		{"new account in trust", trustOrg, trustTwo, true, `adds sts:AssumeRole by account 999988887777 (AWS "999988887777")`},
		{"account removed from trust", trustTwo, trustOrg, false, ""},
		{"from nothing", `{"Statement":[]}`, trustOrg, true, `adds sts:AssumeRole by account 111122223333 (AWS "arn:aws:iam::111122223333:root")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := policy.Diff(analyze(t, tt.prev), analyze(t, tt.next))
			if d.Broader() != tt.broader {
				t.Errorf("Broader = %v, want %v (%s)", d.Broader(), tt.broader, d)
			}
			if d.String() != tt.words {
				t.Errorf("words:\n got %s\nwant %s", d, tt.words)
			}
		})
	}
}

func TestSummaryEqual(t *testing.T) {
	a := analyze(t, `{"Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}]}`)
	b := analyze(t, `{"Statement":[{"Effect":"Allow","Action":"iam:Pass*","Resource":["arn:aws:iam::1:role/x","*"]},{"Effect":"Deny","Action":"*","Resource":"*"}]}`)
	c := analyze(t, `{"Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abc"}}}]}`)
	if !a.Equal(b) {
		t.Error("the same grants through other text must be Equal (Via is not compared)")
	}
	if a.Equal(c) || c.Equal(a) {
		t.Error("a conditional grant must not equal an unconditional one")
	}
}
