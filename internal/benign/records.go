package benign

import (
	"strings"
	"time"
)

// actor is a set of credentials in use: who, in which account, from where,
// with what client.
type actor struct {
	ident   map[string]any
	account string // the account the calls land in (recipientAccountId)
	ip      string // sourceIPAddress
	ua      string
	vpce    string // vpcEndpointId, for calls through an interface endpoint
	console bool   // sessionCredentialFromConsole
}

// Region is where the organisation runs; global services record in
// us-east-1.
const Region = "eu-west-1"

// User agents, as real clients send them.
const (
	uaBrowser    = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36"
	uaConsole    = "console.amazonaws.com"
	uaEC2Console = "console.ec2.amazonaws.com"
	uaEC2Front   = "EC2ConsoleFrontend, aws-internal/3 aws-sdk-java/1.12.720 Linux/5.10.217-182.867.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/17.0.11+10-LTS java/17.0.11 vendor/Amazon.com_Inc. cfg/retry-mode/standard"
	uaS3Console  = "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.720 Linux/5.10.217-182.867.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/17.0.11+10-LTS java/17.0.11 vendor/Amazon.com_Inc.]"
	uaCLI        = "aws-cli/2.17.3 md/awscrt#0.20.11 ua/2.0 os/macos#23.5.0 md/arch#arm64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off command/"
	uaTerraform  = "APN/1.0 HashiCorp/1.0 Terraform/1.8.5 (+https://www.terraform.io) terraform-provider-aws/5.55.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.30.0 ua/2.0 os/linux lang/go#1.22.4 md/GOOS#linux md/GOARCH#amd64 api/"
	uaCDK        = "aws-cdk/2.147.0 aws-sdk-js/3.598.0 ua/2.1 os/linux#6.5.0-1022-azure lang/js md/nodejs#20.14.0 api/"
	uaGoSDK      = "aws-sdk-go-v2/1.30.0 ua/2.0 os/linux lang/go#1.22.4 md/GOOS#linux md/GOARCH#amd64 api/"
	uaBoto3      = "Boto3/1.34.131 md/Botocore#1.34.131 ua/2.0 os/linux#5.10.216-225.855.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.3 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.131"
	uaProwler    = "Boto3/1.34.110 md/Botocore#1.34.110 ua/2.0 os/linux#5.10.215-203.850.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.3 md/pyimpl#CPython cfg/retry-mode#standard Botocore/1.34.110 APN_1826889 prowler/4.2.4"
	uaCrawler    = "aws-sdk-java/2.25.60 Linux/6.1.0-21-cloud-amd64 OpenJDK_64-Bit_Server_VM/21.0.3+9-LTS Java/21.0.3 vendor/Eclipse_Adoptium io/sync http/Apache cfg/retry-mode/adaptive cloudcost-crawler/3.14"
	uaSSM        = "aws-sdk-go/1.54.6 (go1.22.4; linux; amd64) amazon-ssm-agent/3.3.484.0"
)

// regionOf is where a call to source is recorded.
func regionOf(source string) string {
	switch source {
	case "iam.amazonaws.com", "signin.amazonaws.com", "organizations.amazonaws.com", "cloudfront.amazonaws.com", "route53.amazonaws.com":
		return "us-east-1"
	}
	return Region
}

// rec is one API call of a, with the envelope real records carry.
func (g *gen) rec(t time.Time, a *actor, source, name string, read bool, params, resp map[string]any) map[string]any {
	region := regionOf(source)
	r := map[string]any{
		"eventVersion": "1.10", "userIdentity": a.ident,
		"eventTime": t.UTC().Format(time.RFC3339), "eventSource": source, "eventName": name,
		"awsRegion": region, "sourceIPAddress": a.ip, "userAgent": a.ua,
		"requestParameters": nilIfEmpty(params), "responseElements": nilIfEmpty(resp),
		"requestID": g.uuid(), "eventID": g.uuid(), "readOnly": read,
		"eventType": "AwsApiCall", "managementEvent": true,
		"recipientAccountId": a.account, "eventCategory": "Management",
	}
	if !strings.HasSuffix(a.ip, ".amazonaws.com") && a.ip != "AWS Internal" {
		r["tlsDetails"] = map[string]any{
			"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
			"clientProvidedHostHeader": strings.TrimSuffix(source, ".amazonaws.com") + "." + region + ".amazonaws.com",
		}
	}
	if a.vpce != "" {
		r["vpcEndpointId"] = a.vpce
		r["vpcEndpointAccountId"] = a.account
	}
	if a.console {
		r["sessionCredentialFromConsole"] = "true"
	}
	return r
}

func nilIfEmpty(m map[string]any) any {
	if m == nil {
		return nil
	}
	return m
}

// Identities.

func iamUser(account, name, key string) map[string]any {
	return map[string]any{
		"type": "IAMUser", "principalId": "AIDA" + stableID(account+name, 17),
		"arn": "arn:aws:iam::" + account + ":user/" + name, "accountId": account,
		"accessKeyId": key, "userName": name,
	}
}

// roleARN is the ARN of role in account; Identity Center roles live
// under their reserved path.
func roleARN(account, role string) string {
	if strings.HasPrefix(role, "AWSReservedSSO_") {
		return "arn:aws:iam::" + account + ":role/aws-reserved/sso.amazonaws.com/" + Region + "/" + role
	}
	if strings.HasPrefix(role, "AWSServiceRoleFor") {
		return "arn:aws:iam::" + account + ":role/aws-service-role/" + serviceOfLinkedRole(role) + "/" + role
	}
	return "arn:aws:iam::" + account + ":role/" + role
}

func serviceOfLinkedRole(role string) string {
	switch role {
	case "AWSServiceRoleForSSO":
		return "sso.amazonaws.com"
	case "AWSServiceRoleForConfig":
		return "config.amazonaws.com"
	}
	return "autoscaling.amazonaws.com"
}

// assumedRole is the userIdentity of a session of role named session.
func (g *gen) assumedRole(account, role, session string, created time.Time, mfa bool) map[string]any {
	roleID := "AROA" + stableID(account+role, 17)
	return map[string]any{
		"type": "AssumedRole", "principalId": roleID + ":" + session,
		"arn":       "arn:aws:sts::" + account + ":assumed-role/" + role + "/" + session,
		"accountId": account, "accessKeyId": "ASIA" + g.upper(16),
		"sessionContext": map[string]any{
			"sessionIssuer": map[string]any{"type": "Role", "principalId": roleID, "arn": roleARN(account, role), "accountId": account, "userName": role},
			"attributes":    map[string]any{"creationDate": created.UTC().Format(time.RFC3339), "mfaAuthenticated": boolString(mfa)},
		},
	}
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// service is an AWS service calling on the account's behalf.
func service(account, principal string) *actor {
	return &actor{account: account, ip: principal, ua: principal,
		ident: map[string]any{"type": "AWSService", "invokedBy": principal}}
}

// invoked is a copy of a whose calls a service (CloudFormation, …) makes
// with a's credentials: invokedBy set, the service as source and agent.
func invoked(a *actor, by string) *actor {
	ident := make(map[string]any, len(a.ident)+1)
	for k, v := range a.ident {
		ident[k] = v
	}
	ident["invokedBy"] = by
	return &actor{ident: ident, account: a.account, ip: by, ua: by}
}

// stableID derives an id of n characters from name, the same every day.
func stableID(name string, n int) string {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	h := uint64(hash(name))*0x9e3779b97f4a7c15 + 1
	b := make([]byte, n)
	for i := range b {
		h = h*6364136223846793005 + 1442695040888963407
		b[i] = alpha[(h>>33)%uint64(len(alpha))]
	}
	return string(b)
}

// credentials is the responseElements of an STS call that issued a
// session of role named session.
func (g *gen) credentials(t time.Time, account, role, session string, hours int) map[string]any {
	return map[string]any{
		"credentials": map[string]any{
			"accessKeyId": "ASIA" + g.upper(16), "expiration": t.Add(time.Duration(hours) * time.Hour).UTC().Format("Jan 2, 2006, 3:04:05 PM"),
			"sessionToken": "IQoJb3JpZ2luX2VjE" + g.upper(380),
		},
		"assumedRoleUser": map[string]any{
			"assumedRoleId": "AROA" + stableID(account+role, 17) + ":" + session,
			"arn":           "arn:aws:sts::" + account + ":assumed-role/" + role + "/" + session,
		},
	}
}

// assume records caller a assuming role in account as session with
// AssumeRole, and returns the session, calling from where a called.
func (g *gen) assume(pattern string, t time.Time, a *actor, account, role, session string, extra map[string]any) *actor {
	params := map[string]any{"roleArn": roleARN(account, role), "roleSessionName": session, "durationSeconds": 3600}
	for k, v := range extra {
		params[k] = v
	}
	r := g.rec(t, &actor{ident: a.ident, account: account, ip: a.ip, ua: a.ua, vpce: a.vpce}, "sts.amazonaws.com", "AssumeRole", true, params, g.credentials(t, account, role, session, 1))
	r["resources"] = []any{map[string]any{"ARN": roleARN(account, role), "accountId": account, "type": "AWS::IAM::Role"}}
	if a.ident["type"] == "AWSService" {
		delete(r, "tlsDetails")
	}
	if a.ident["accountId"] != nil && a.ident["accountId"] != account {
		r["sharedEventID"] = g.uuid()
	}
	g.emit(pattern, t, r)
	return &actor{ident: g.assumedRole(account, role, session, t, false), account: account, ip: a.ip, ua: a.ua, vpce: a.vpce}
}
