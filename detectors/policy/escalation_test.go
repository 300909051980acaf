package policy_test

import "testing"

// Documents after the escalation paths of Rhino Security Labs' research and
// Bishop Fox iam-vulnerable, and the evasions the issue lists (always-true
// conditions, partition-wide resources, one-item NotAction).
func TestAnalyzeEscalation(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"CreatePolicyVersion on every policy",
			`{"Statement":[{"Effect":"Allow","Action":"iam:CreatePolicyVersion","Resource":"*"}]}`,
			"escalation/iam:CreatePolicyVersion"},
		{"CreateAccessKey on every user of an account",
			`{"Statement":[{"Effect":"Allow","Action":["iam:CreateAccessKey","iam:ListUsers"],"Resource":"arn:aws:iam::111122223333:user/*"}]}`,
			"escalation/iam:CreateAccessKey"},
		{"CreateAccessKey on the caller's own user is routine",
			`{"Statement":[{"Effect":"Allow","Action":"iam:CreateAccessKey","Resource":"arn:aws:iam::111122223333:user/${aws:username}"}]}`,
			""},
		{"wildcard actions reach the sets",
			`{"Statement":[{"Effect":"Allow","Action":["iam:Put*Policy","iam:Attach*"],"Resource":"*"}]}`,
			"escalation/iam:AttachGroupPolicy escalation/iam:AttachRolePolicy escalation/iam:AttachUserPolicy escalation/iam:PutGroupPolicy escalation/iam:PutRolePolicy escalation/iam:PutUserPolicy"},
		{"PassRole with lambda:CreateFunction across statements",
			`{"Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"},{"Effect":"Allow","Action":"lambda:*","Resource":"*"}]}`,
			"pass-role escalation/iam:PassRole+lambda:CreateFunction escalation/lambda:UpdateFunctionCode"},
		{"PassRole with ec2:RunInstances, one half conditional",
			`{"Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"},{"Effect":"Allow","Action":"ec2:RunInstances","Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":"eu-west-1"}}}]}`,
			"pass-role escalation/iam:PassRole+ec2:RunInstances?"},
		{"lambda:CreateFunction without PassRole is no path",
			`{"Statement":[{"Effect":"Allow","Action":"lambda:CreateFunction","Resource":"*"}]}`,
			""},
		{"iam:* implies the IAM sets",
			`{"Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}`,
			"pass-role service-wildcard/iam"},
		{"NotAction of one item is admin",
			`{"Statement":[{"Effect":"Allow","NotAction":"s3:GetObject","Resource":"*"}]}`,
			"admin pass-role not-action service-wildcard/iam service-wildcard/organizations service-wildcard/sts"},
		{"NotAction of IAM is not admin",
			`{"Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"}]}`,
			"not-action service-wildcard/sts"},
		{"* behind aws:SecureTransport true keeps admin unconditional",
			`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}`,
			"admin pass-role service-wildcard/iam service-wildcard/organizations service-wildcard/sts"},
		{"* behind Null false on always-present keys",
			`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Null":{"aws:PrincipalArn":"false","aws:userid":"false"}}}]}`,
			"admin pass-role service-wildcard/iam service-wildcard/organizations service-wildcard/sts"},
		{"* behind StringLike aws:userid *",
			`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringLike":{"aws:userid":"*"},"IpAddress":{"aws:SourceIp":["0.0.0.0/0","::/0"]},"DateGreaterThan":{"aws:CurrentTime":"1999-01-01T00:00:00Z"}}}]}`,
			"admin pass-role service-wildcard/iam service-wildcard/organizations service-wildcard/sts"},
		{"a real condition still scopes",
			`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"},"StringEquals":{"aws:PrincipalOrgID":"o-1"}}}]}`,
			"admin? pass-role? service-wildcard/iam? service-wildcard/organizations? service-wildcard/sts?"},
		{"StringLike aws:userid on a prefix still scopes",
			`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringLike":{"aws:userid":"AIDA*"}}}]}`,
			"admin? pass-role? service-wildcard/iam? service-wildcard/organizations? service-wildcard/sts?"},
		{"partition-wide resource arn:aws:*:*:*:*",
			`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:*:*:*:*"}]}`,
			"admin pass-role service-wildcard/iam service-wildcard/organizations service-wildcard/sts"},
		{"partition-wide resource arn:*:*",
			`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:*:*"}]}`,
			"admin pass-role service-wildcard/iam service-wildcard/organizations service-wildcard/sts"},
		{"every S3 object is not every resource",
			`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::*"}]}`,
			""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := analyze(t, tt.doc)
			if got := kinds(s); got != tt.want {
				t.Errorf("grants:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}
