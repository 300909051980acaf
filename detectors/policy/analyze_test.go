package policy_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/detectors/policy"
)

// Documents are hand-written after the shapes IAM accepts and CloudTrail
// records (AWS IAM User Guide examples, Panther and Stratus records).

// str wraps a document as CloudTrail records it: a JSON string.
func str(doc string) []byte {
	b, _ := json.Marshal(doc)
	return b
}

// kinds renders a summary as "kind/subject[?]" items, "?" marking a
// conditional grant, for compact expectations.
func kinds(s policy.Summary) string {
	var out []string
	for _, g := range s.Grants {
		k := g.Kind.String()
		if g.Subject != "" {
			k += "/" + g.Subject
		}
		if g.Conditional {
			k += "?"
		}
		out = append(out, k)
	}
	return strings.Join(out, " ")
}

func TestAnalyze(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
		want string
	}{
		{"admin, single statement object", str(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`),
			"admin pass-role service-wildcard/iam service-wildcard/organizations service-wildcard/sts"},
		{"admin as *:* in lists", str(`{"Statement":[{"Effect":"Allow","Action":["*:*"],"Resource":["*"]}]}`),
			"admin pass-role service-wildcard/iam service-wildcard/organizations service-wildcard/sts"},
		{"effect in lower case", str(`{"Statement":[{"Effect":"allow","Action":"*","Resource":"*"}]}`),
			"admin pass-role service-wildcard/iam service-wildcard/organizations service-wildcard/sts"},
		{"already an object", []byte(`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:*"}]}`),
			"admin pass-role service-wildcard/iam service-wildcard/organizations service-wildcard/sts"},
		{"URL-encoded", str(url.QueryEscape(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}]}`)),
			"pass-role"},
		{"URL-encoded with %20", str(strings.ReplaceAll(url.QueryEscape(`{"Statement": {"Effect": "Allow", "Action": "iam:*", "Resource": "*"}}`), "+", "%20")),
			"pass-role service-wildcard/iam"},
		{"Deny of everything grants nothing", str(`{"Statement":[{"Sid":"DenyAll","Effect":"Deny","Action":["*"],"Resource":["*"]}]}`), ""},
		{"least privilege", str(`{"Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::app-bucket/*"}]}`), ""},
		{"PassRole on one role", str(`{"Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::111122223333:role/app-lambda"}]}`), "pass-role-to/arn:aws:iam::111122223333:role/app-lambda"},
		{"PassRole on every role of an account", str(`{"Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::111122223333:role/*"}]}`), "pass-role"},
		{"PassRole in any case", str(`{"Statement":[{"Effect":"Allow","Action":"IAM:passrole","Resource":"*"}]}`), "pass-role"},
		{"PassRole through iam:Pass*", str(`{"Statement":[{"Effect":"Allow","Action":"iam:Pass*","Resource":"*"}]}`), "pass-role"},
		{"PassRole through iam:?assRole", str(`{"Statement":[{"Effect":"Allow","Action":"iam:?assRole","Resource":"*"}]}`), "pass-role"},
		{"iam:Get* is not PassRole", str(`{"Statement":[{"Effect":"Allow","Action":["iam:Get*","iam:List*"],"Resource":"*"}]}`), ""},
		{"iam:* on one role is not service-wide", str(`{"Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::111122223333:role/app"}]}`), "pass-role-to/arn:aws:iam::111122223333:role/app"},
		{"sts:* and organizations:*", str(`{"Statement":[{"Effect":"Allow","Action":["sts:*","organizations:*","s3:*"],"Resource":"*"}]}`),
			"service-wildcard/organizations service-wildcard/sts"},
		{"NotAction Allow", str(`{"Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*"],"Resource":"*"}]}`),
			"not-action service-wildcard/sts"},
		{"NotAction excluding PassRole only", str(`{"Statement":[{"Effect":"Allow","NotAction":"iam:PassRole","Resource":"*"}]}`),
			"admin not-action service-wildcard/organizations service-wildcard/sts"},
		{"NotAction on one bucket", str(`{"Statement":[{"Effect":"Allow","NotAction":"s3:DeleteBucket","Resource":"arn:aws:s3:::b"}]}`), ""},
		{"NotAction Deny is a guard rail", str(`{"Statement":[{"Effect":"Deny","NotAction":"iam:*","Resource":"*"}]}`), ""},
		{"NotResource with *", str(`{"Statement":[{"Effect":"Allow","Action":"*","NotResource":"arn:aws:s3:::secret/*"}]}`),
			"admin pass-role service-wildcard/iam service-wildcard/organizations service-wildcard/sts"},
		{"NotResource * grants nothing", str(`{"Statement":[{"Effect":"Allow","Action":"*","NotResource":"*"}]}`), ""},
		{"conditional admin", str(`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":true}}}]}`),
			"admin? pass-role? service-wildcard/iam? service-wildcard/organizations? service-wildcard/sts?"},
		{"unconditional wins over conditional", str(`{"Statement":[
			{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"StringEquals":{"iam:PassedToService":"lambda.amazonaws.com"}}},
			{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}]}`), "pass-role"},
		{"empty Condition is no condition", str(`{"Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{}}]}`), "pass-role"},
		{"escapes in keys and values", str(`{"Statement":[{"Effect":"\u0041llow","\u0041ction":["s3:GetObject","iam:Pass\u0052ole"],"Resource":"*"}]}`), "pass-role"},
		{"duplicate element: the last wins", str(`{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Action":"iam:PassRole","Resource":"*"}]}`), "pass-role"},
		{"empty statement list", str(`{"Version":"2012-10-17","Statement":[]}`), ""},

		// Trust policies.
		{"trust: anyone", str(`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}`), "assume-anyone"},
		{"trust: AWS *", str(`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}`), "assume-anyone"},
		{"trust: wildcard account ARN", str(`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::*:root"},"Action":"sts:AssumeRole"}]}`), "assume-anyone"},
		{"trust: anyone with ExternalId", str(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"12345"}}}]}`),
			"assume-anyone?"},
		{"trust: NotPrincipal", str(`{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}`), "assume-anyone"},
		{"trust: accounts as ids and ARNs", str(`{"Statement":[{"Effect":"Allow","Principal":{"AWS":["999988887777","arn:aws:iam::444455556666:role/ci","arn:aws:iam::999988887777:root","AROAEXAMPLEDELETED01"]},"Action":["sts:AssumeRole","sts:TagSession"]}]}`),
			"assume-account/444455556666 assume-account/999988887777"},
		{"trust: service", str(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`),
			"assume-service/ec2.amazonaws.com"},
		{"trust: services as list", str(`{"Statement":{"Effect":"Allow","Principal":{"Service":["lambda.amazonaws.com","EC2.amazonaws.com"]},"Action":"sts:AssumeRole"}}`),
			"assume-service/ec2.amazonaws.com assume-service/lambda.amazonaws.com"},
		{"trust: Deny anyone", str(`{"Statement":[{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRole"}]}`), ""},
		{"trust: TagSession only", str(`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:TagSession"}]}`), ""},
		{"trust: sts:* counts", str(`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"999988887777"},"Action":"sts:*"}]}`), "assume-account/999988887777"},
		{"trust: GitHub OIDC without sub", str(`{"Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}}]}`),
			"assume-open-federated/token.actions.githubusercontent.com"},
		{"trust: GitHub OIDC with repo:*", str(`{"Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:*"}}}]}`),
			"assume-open-federated/token.actions.githubusercontent.com"},
		{"trust: GitHub OIDC scoped to a repo", str(`{"Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"},"StringLike":{"token.actions.githubusercontent.com:sub":"repo:example/app:*"}}}]}`),
			"assume-federated/arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com?"},
		{"trust: GitHub sub excluded with StringNotEquals", str(`{"Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringNotEquals":{"token.actions.githubusercontent.com:sub":"repo:evil/x:ref:main"}}}]}`),
			"assume-open-federated/token.actions.githubusercontent.com"},
		{"trust: Cognito without aud", str(`{"Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"authenticated"}}}]}`),
			"assume-open-federated/cognito-identity.amazonaws.com"},
		{"trust: Cognito with aud", str(`{"Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"cognito-identity.amazonaws.com:aud":"us-east-1:12345678-abcd-abcd-abcd-123456789012"}}}]}`),
			"assume-federated/cognito-identity.amazonaws.com?"},
		{"trust: Google without condition", str(`{"Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`),
			"assume-open-federated/accounts.google.com"},
		{"trust: SAML provider", str(`{"Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:saml-provider/Okta"},"Action":"sts:AssumeRoleWithSAML","Condition":{"StringEquals":{"SAML:aud":"https://signin.aws.amazon.com/saml"}}}]}`),
			"assume-federated/arn:aws:iam::111122223333:saml-provider/Okta?"},
		{"trust: EKS OIDC is a private provider", str(`{"Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`),
			"assume-federated/arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"},
		{"trust: mixed principals", str(`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root","Service":"ecs-tasks.amazonaws.com","CanonicalUser":"abc"},"Action":"sts:AssumeRole"}]}`),
			"assume-account/999988887777 assume-service/ecs-tasks.amazonaws.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := policy.Analyze(tt.raw)
			if err != nil {
				t.Fatalf("Analyze: %v", err)
			}
			if got := kinds(s); got != tt.want {
				t.Errorf("grants:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestAnalyzeMalformed(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
		want string // the error's text after "malformed policy document: "
	}{
		{"null", []byte(`null`), "empty"},
		{"empty string", str(``), "empty"},
		{"a number", []byte(`42`), "neither a JSON string nor an object"},
		{"not JSON", str(`Version=2012-10-17`), "does not start with '{'"},
		{"truncated", str(`{"Statement":[{"Effect":"Allow"`), "invalid JSON at byte 31: unexpected end of JSON input"},
		{"bad URL encoding", str(`%7B%ZZ`), `bad URL encoding: invalid URL escape "%ZZ"`},
		{"no Statement", str(`{"Version":"2012-10-17"}`), "no Statement"},
		{"Statement a string", str(`{"Statement":"Allow all"}`), "Statement is neither an object nor a list"},
		{"statement not an object", str(`{"Statement":["x"]}`), "Statement 1: a statement must be an object"},
		{"unknown Effect", str(`{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"},{"Effect":"Allw","Action":"*","Resource":"*"}]}`),
			`Statement 2: Effect "Allw" is neither Allow nor Deny`},
		{"missing Effect", str(`{"Statement":{"Action":"*","Resource":"*"}}`), "Statement: Effect is missing"},
		{"Action a number", str(`{"Statement":[{"Effect":"Allow","Action":7,"Resource":"*"}]}`), "Statement 1: Action: want a string or a list of strings"},
		{"Action list of objects", str(`{"Statement":[{"Effect":"Allow","Action":[{}],"Resource":"*"}]}`), "Statement 1: Action: want a string or a list of strings"},
		{"both Action and NotAction", str(`{"Statement":[{"Effect":"Allow","Action":"s3:*","NotAction":"iam:*","Resource":"*"}]}`), "Statement 1: has both Action and NotAction"},
		{"no action", str(`{"Statement":[{"Effect":"Allow","Resource":"*"}]}`), "Statement 1: has neither Action nor NotAction"},
		{"Principal a list", str(`{"Statement":[{"Effect":"Allow","Principal":["*"],"Action":"sts:AssumeRole"}]}`), `Statement 1: Principal: want "*" or an object`},
		{"Condition value an object", str(`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"k":{"x":1}}}}]}`),
			"Statement 1: Condition: want operator → key → values: a condition value must be a string, number or boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := policy.Analyze(tt.raw)
			if !errors.Is(err, policy.ErrMalformed) {
				t.Fatalf("error %v (summary %q) must wrap ErrMalformed", err, kinds(s))
			}
			if got := strings.TrimPrefix(err.Error(), "malformed policy document: "); got != tt.want {
				t.Errorf("error:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestGrantWords(t *testing.T) {
	s, err := policy.Analyze(str(`{"Statement":[
		{"Effect":"Allow","Action":"iam:Pass*","Resource":"arn:aws:iam::111122223333:role/*"},
		{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"x","aws:PrincipalOrgID":"o-1"}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range s.Grants {
		got = append(got, g.String())
	}
	want := []string{
		"iam:PassRole on any role (iam:Pass* on arn:aws:iam::111122223333:role/*)",
		`sts:AssumeRole by any AWS principal (Principal "*"), only under a Condition on aws:PrincipalOrgID,sts:ExternalId`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("words:\n got %q\nwant %q", got, want)
	}
}

func TestSummaryLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":[`)
	for i := range 100 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"` + strings.Repeat("0", 9) + string(rune('0'+i/100%10)) + string(rune('0'+i/10%10)) + string(rune('0'+i%10)) + `"`)
	}
	b.WriteString(`]}}]}`)
	s, err := policy.Analyze(str(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Grants) != policy.MaxGrants || !s.Truncated {
		t.Errorf("100 accounts: %d grants, truncated %v; want %d, true", len(s.Grants), s.Truncated, policy.MaxGrants)
	}
	long := strings.Repeat("é", 500)
	s, err = policy.Analyze(str(`{"Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":"` + long + `"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if g := s.Grants[0]; len(g.Subject) > 256 || len(g.Via) > 160 || !strings.HasSuffix(g.Subject, "é…") {
		t.Errorf("long strings must be cut on a rune boundary to their limits: subject %d bytes, via %d", len(g.Subject), len(g.Via))
	}
}
