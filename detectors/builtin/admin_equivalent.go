package builtin

import (
	"strings"

	"github.com/iamsentry/iamsentry/detectors/policy"
)

// grantLevel is how much a grant gives the principal that receives it.
type grantLevel int

const (
	levelNone grantLevel = iota
	// levelEscalation: a documented path to more privilege (iam:PassRole
	// with compute, iam:CreatePolicyVersion, …), not everything at once.
	levelEscalation
	// levelAdmin: administrator, or one call away from it (iam:* can
	// attach AdministratorAccess to itself).
	levelAdmin
)

func (l grantLevel) String() string {
	switch l {
	case levelAdmin:
		return "admin-equivalent"
	case levelEscalation:
		return "escalation-capable"
	}
	return "none"
}

// managedGrant is what an AWS managed policy grants, in words.
type managedGrant struct {
	level grantLevel
	why   string
}

// awsManaged lists the AWS managed policies that are admin-equivalent or
// escalation-capable, by the path and name after arn:<partition>:iam::aws:policy/.
// Their documents are AWS's (AWS Managed Policy Reference Guide,
// https://docs.aws.amazon.com/aws-managed-policy/latest/reference/) and read
// against the escalation paths of Rhino Security Labs ("AWS IAM Privilege
// Escalation – Methods and Mitigations", 2018) and Bishop Fox iam-vulnerable
// (2021); AWS's own description of AdministratorAccess-Amplify says it
// "grants account administrative permissions". Policies not listed are
// judged not to be admin grants: an AWS managed policy cannot be changed by
// the customer, so a name is a fair proxy for its content here, unlike a
// customer managed policy (judged by its document).
var awsManaged = map[string]managedGrant{
	"AdministratorAccess":                     {levelAdmin, "every action on every resource"},
	"AdministratorAccess-Amplify":             {levelAdmin, "account administration, including IAM (AWS: \"grants account administrative permissions\")"},
	"AdministratorAccess-AWSElasticBeanstalk": {levelAdmin, "iam:PassRole and iam:CreateRole/AttachRolePolicy with CloudFormation and EC2: administration of the account"},
	"IAMFullAccess":                           {levelAdmin, "iam:* on every resource: it can attach AdministratorAccess to itself"},
	"PowerUserAccess":                         {levelAdmin, "every action except IAM, Organizations and Account management"},
	"AWSOrganizationsFullAccess":              {levelAdmin, "organizations:*: control of every account of the organisation from its management account"},
	"job-function/SystemAdministrator":        {levelEscalation, "iam:PassRole with ec2:RunInstances and lambda:CreateFunction (Rhino methods 3, 15)"},
	"job-function/DatabaseAdministrator":      {levelEscalation, "iam:PassRole with data-pipeline and RDS roles (Rhino method 21)"},
	"job-function/DataScientist":              {levelEscalation, "iam:PassRole with SageMaker, EMR and Data Pipeline (iam-vulnerable sagemaker paths)"},
	"AWSLambda_FullAccess":                    {levelEscalation, "lambda:* with iam:PassRole to Lambda: iam:PassRole+lambda:CreateFunction (Rhino method 15)"},
	"AmazonSageMakerFullAccess":               {levelEscalation, "sagemaker:* with iam:PassRole to SageMaker (iam-vulnerable sagemaker paths)"},
	"AWSGlueConsoleFullAccess":                {levelEscalation, "glue:* with iam:PassRole to Glue roles (Rhino methods 18, 19)"},
	"AmazonSSMFullAccess":                     {levelEscalation, "ssm:SendCommand and ssm:StartSession on every instance (iam-vulnerable ssm paths)"},
	"AmazonECS_FullAccess":                    {levelEscalation, "ecs:* with iam:PassRole to ECS tasks (iam-vulnerable ecs paths)"},
	"AWSDataPipeline_FullAccess":              {levelEscalation, "datapipeline:* with iam:PassRole (Rhino method 21)"},
	"AWSSSOMasterAccountAdministrator":        {levelAdmin, "IAM Identity Center administration: assigns any permission set in any account"},
	"AWSSSOMemberAccountAdministrator":        {levelEscalation, "IAM Identity Center administration of this account's assignments"},
}

// quarantinePolicies are the policies AWS attaches to a user whose key it
// found exposed; detaching one lifts AWS's containment.
var quarantinePolicies = map[string]bool{
	"AWSCompromisedKeyQuarantine":   true,
	"AWSCompromisedKeyQuarantineV2": true,
	"AWSCompromisedKeyQuarantineV3": true,
}

// awsManagedName returns the path and name of an AWS managed policy ARN
// (arn:<partition>:iam::aws:policy/job-function/SystemAdministrator →
// job-function/SystemAdministrator), or "" when arn is not one.
func awsManagedName(arn string) string {
	rest, ok := strings.CutPrefix(arn, "arn:")
	if !ok {
		return ""
	}
	partition, rest, ok := strings.Cut(rest, ":")
	if !ok || partition == "" || strings.Contains(partition, "/") {
		return ""
	}
	name, _ := strings.CutPrefix(rest, "iam::aws:policy/")
	if name == rest {
		return ""
	}
	return name
}

// levelOf judges a policy summary: admin for every action (or a NotAction
// that leaves self-grant), iam:* or organizations:* on every resource;
// escalation for an escalation set, iam:PassRole on any role or sts:*. A
// grant only under a real Condition counts one level lower.
func levelOf(s policy.Summary) grantLevel {
	best := levelNone
	for _, g := range s.Grants {
		l := levelNone
		switch {
		case g.Kind == policy.KindAdmin,
			g.Kind == policy.KindServiceWide && (g.Subject == "iam" || g.Subject == "organizations"):
			l = levelAdmin
		case g.Kind == policy.KindEscalation, g.Kind == policy.KindPassRole,
			g.Kind == policy.KindServiceWide, g.Kind == policy.KindNotAction:
			l = levelEscalation
		}
		if g.Conditional && l > levelNone {
			l--
		}
		best = max(best, l)
	}
	return best
}
