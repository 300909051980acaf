package realcorpus

import "fmt"

// op is one API call an identity makes, with its relative frequency and
// how its parameters and response look.
type op struct {
	source, name string
	read         bool
	weight       int
	params       func(g *gen) map[string]any
	response     func(g *gen) map[string]any
	denyOneIn    int // one call in this many is denied; 0: never
}

func r(source, name string, weight int) op {
	return op{source: source, name: name, read: true, weight: weight}
}

func w(source, name string, weight int) op {
	return op{source: source, name: name, weight: weight}
}

func (o op) with(params func(g *gen) map[string]any) op { o.params = params; return o }
func (o op) resp(response func(g *gen) map[string]any) op {
	o.response = response
	return o
}
func (o op) denied(oneIn int) op { o.denyOneIn = oneIn; return o }

// Parameter shapes, drawn from real records.
func bucket(g *gen) map[string]any {
	return map[string]any{"bucketName": fmt.Sprintf("example-data-%02d", g.rng.IntN(40)), "Host": "example-data.s3.eu-west-1.amazonaws.com"}
}

func object(g *gen) map[string]any {
	return map[string]any{"bucketName": fmt.Sprintf("example-data-%02d", g.rng.IntN(40)), "key": fmt.Sprintf("exports/2025/%05d/part-%04d.parquet", g.rng.IntN(99999), g.rng.IntN(9999)), "Host": "example-data.s3.eu-west-1.amazonaws.com"}
}

func instances(g *gen) map[string]any {
	return map[string]any{"instancesSet": map[string]any{"items": []any{map[string]any{"instanceId": fmt.Sprintf("i-0%016x", g.rng.Uint64()>>1)}}}, "filterSet": map[string]any{}}
}

func function(g *gen) map[string]any {
	return map[string]any{"functionName": fmt.Sprintf("arn:aws:lambda:eu-west-1:%s:function:service-%02d-handler", Account, g.rng.IntN(30))}
}

func logGroup(g *gen) map[string]any {
	return map[string]any{"logGroupName": fmt.Sprintf("/aws/lambda/service-%02d-handler", g.rng.IntN(30)), "startTime": 1709251200000, "filterPattern": "ERROR", "limit": 100}
}

func metric(g *gen) map[string]any {
	return map[string]any{"startTime": "Mar 3, 2025, 8:00:00 AM", "endTime": "Mar 3, 2025, 11:00:00 AM", "metricDataQueries": []any{
		map[string]any{"id": "m1", "metricStat": map[string]any{"metric": map[string]any{"namespace": "AWS/Lambda", "metricName": "Errors"}, "period": 300, "stat": "Sum"}, "returnData": true},
	}}
}

func table(g *gen) map[string]any {
	return map[string]any{"tableName": fmt.Sprintf("service-%02d-state", g.rng.IntN(30))}
}

func parameter(g *gen) map[string]any {
	return map[string]any{"name": fmt.Sprintf("/service-%02d/database/url", g.rng.IntN(30)), "withDecryption": true}
}

func kmsKey(g *gen) map[string]any {
	return map[string]any{"keyId": fmt.Sprintf("arn:aws:kms:eu-west-1:%s:key/%s", Account, g.uuid()), "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
}

func role(g *gen) map[string]any {
	return map[string]any{"roleName": fmt.Sprintf("service-%02d-task", g.rng.IntN(30))}
}

func policy(g *gen) map[string]any {
	return map[string]any{"policyArn": fmt.Sprintf("arn:aws:iam::%s:policy/service-%02d-access", Account, g.rng.IntN(30)), "versionId": "v3"}
}

func image(g *gen) map[string]any {
	return map[string]any{"repositoryName": fmt.Sprintf("service-%02d", g.rng.IntN(30)), "imageTag": fmt.Sprintf("%x", g.rng.Uint32()), "registryId": Account}
}

func ecsService(g *gen) map[string]any {
	return map[string]any{"cluster": "production", "service": fmt.Sprintf("service-%02d", g.rng.IntN(30)), "forceNewDeployment": false,
		"taskDefinition": fmt.Sprintf("service-%02d:%d", g.rng.IntN(30), 100+g.rng.IntN(400))}
}

func securityGroup(g *gen) map[string]any {
	return map[string]any{"groupId": fmt.Sprintf("sg-0%016x", g.rng.Uint64()>>1)}
}

func stack(g *gen) map[string]any {
	return map[string]any{"stackName": fmt.Sprintf("service-%02d", g.rng.IntN(30))}
}

func tokenResponse(g *gen) map[string]any {
	return map[string]any{"authorizationData": []any{map[string]any{"authorizationToken": "HIDDEN_DUE_TO_SECURITY_REASONS", "expiresAt": "Mar 3, 2025, 9:00:00 PM", "proxyEndpoint": "https://" + Account + ".dkr.ecr.eu-west-1.amazonaws.com"}}}
}

var ssoRoles = []string{"AWSReservedSSO_ReadOnly_4f1c2a0b9d8e7f60", "AWSReservedSSO_Engineer_a1b2c3d4e5f60718", "AWSReservedSSO_DataAnalyst_0f9e8d7c6b5a4938", "AWSReservedSSO_Billing_5a6b7c8d9e0f1a2b"}
var samlRoles = []string{"Okta-Engineer", "Okta-ReadOnly", "Okta-Support"}

// consoleOps is what people do in the console: mostly reads, by service,
// with the odd change.
var consoleOps = []op{
	r("ec2.amazonaws.com", "DescribeInstances", 12).with(instances), r("ec2.amazonaws.com", "DescribeSecurityGroups", 4),
	r("ec2.amazonaws.com", "DescribeVpcs", 2), r("ec2.amazonaws.com", "DescribeInstanceStatus", 3),
	r("monitoring.amazonaws.com", "GetMetricData", 10).with(metric), r("monitoring.amazonaws.com", "DescribeAlarms", 6),
	r("logs.amazonaws.com", "FilterLogEvents", 8).with(logGroup), r("logs.amazonaws.com", "DescribeLogGroups", 5),
	r("s3.amazonaws.com", "ListObjects", 6).with(bucket), r("s3.amazonaws.com", "GetBucketLocation", 3).with(bucket),
	r("lambda.amazonaws.com", "ListFunctions20150331", 4), r("lambda.amazonaws.com", "GetFunction", 4).with(function),
	r("dynamodb.amazonaws.com", "DescribeTable", 3).with(table), r("rds.amazonaws.com", "DescribeDBInstances", 3),
	r("ce.amazonaws.com", "GetCostAndUsage", 2), r("cloudformation.amazonaws.com", "DescribeStacks", 3).with(stack),
	r("ecs.amazonaws.com", "DescribeServices", 4).with(ecsService), r("ssm.amazonaws.com", "GetParameter", 2).with(parameter).denied(20),
	r("iam.amazonaws.com", "GetRole", 2).with(role), r("iam.amazonaws.com", "ListRoles", 1),
	r("health.amazonaws.com", "DescribeEventAggregates", 2), r("notifications.amazonaws.com", "ListNotificationHubs", 2),
	w("ecs.amazonaws.com", "UpdateService", 1).with(ecsService), w("ec2.amazonaws.com", "RebootInstances", 1).with(instances),
	w("monitoring.amazonaws.com", "PutMetricAlarm", 1),
}

// developerOps is what people with CLI keys do.
var developerOps = []op{
	r("sts.amazonaws.com", "GetCallerIdentity", 3), r("s3.amazonaws.com", "GetObject", 14).with(object),
	w("s3.amazonaws.com", "PutObject", 6).with(object), r("s3.amazonaws.com", "ListObjects", 6).with(bucket),
	r("ec2.amazonaws.com", "DescribeInstances", 6).with(instances), r("logs.amazonaws.com", "FilterLogEvents", 6).with(logGroup),
	r("ecr.amazonaws.com", "GetAuthorizationToken", 3).resp(tokenResponse), r("lambda.amazonaws.com", "GetFunction", 4).with(function),
	w("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", 1).with(function), r("kms.amazonaws.com", "Decrypt", 6).with(kmsKey),
	r("ssm.amazonaws.com", "GetParameter", 4).with(parameter), r("dynamodb.amazonaws.com", "DescribeTable", 3).with(table),
	r("secretsmanager.amazonaws.com", "GetSecretValue", 2).denied(15), r("cloudformation.amazonaws.com", "DescribeStacks", 3).with(stack),
	r("iam.amazonaws.com", "GetRole", 1).with(role), r("iam.amazonaws.com", "ListAttachedRolePolicies", 1).with(role),
	w("sts.amazonaws.com", "AssumeRole", 2).with(func(g *gen) map[string]any {
		return map[string]any{"roleArn": roleARN("Developer"), "roleSessionName": fmt.Sprintf("cli-%d", g.rng.IntN(1e9))}
	}).resp(func(g *gen) map[string]any { return g.credentialsResponse(g.o.Start, "Developer", "cli") }),
}

// ciOps is what a deploy pipeline does.
var ciOps = []op{
	r("ecr.amazonaws.com", "GetAuthorizationToken", 4).resp(tokenResponse), w("ecr.amazonaws.com", "InitiateLayerUpload", 6).with(image),
	w("ecr.amazonaws.com", "PutImage", 3).with(image), r("ecr.amazonaws.com", "BatchCheckLayerAvailability", 8).with(image),
	w("ecs.amazonaws.com", "RegisterTaskDefinition", 2).with(ecsService), w("ecs.amazonaws.com", "UpdateService", 2).with(ecsService),
	r("ecs.amazonaws.com", "DescribeServices", 10).with(ecsService), w("s3.amazonaws.com", "PutObject", 6).with(object),
	r("s3.amazonaws.com", "GetObject", 6).with(object), r("cloudformation.amazonaws.com", "DescribeStacks", 4).with(stack),
	r("ssm.amazonaws.com", "GetParameter", 4).with(parameter), r("sts.amazonaws.com", "GetCallerIdentity", 1),
	w("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", 2).with(function), r("kms.amazonaws.com", "Decrypt", 4).with(kmsKey),
}

// terraformOps is a plan/apply: a broad read of everything it manages,
// with few changes — the benign twin of an enumeration.
var terraformOps = []op{
	r("iam.amazonaws.com", "GetRole", 10).with(role), r("iam.amazonaws.com", "GetPolicy", 6).with(policy),
	r("iam.amazonaws.com", "GetPolicyVersion", 6).with(policy), r("iam.amazonaws.com", "ListAttachedRolePolicies", 6).with(role),
	r("iam.amazonaws.com", "ListRolePolicies", 4).with(role), r("ec2.amazonaws.com", "DescribeVpcs", 4),
	r("ec2.amazonaws.com", "DescribeSubnets", 6), r("ec2.amazonaws.com", "DescribeSecurityGroups", 8).with(securityGroup),
	r("ec2.amazonaws.com", "DescribeRouteTables", 3), r("s3.amazonaws.com", "GetBucketPolicy", 5).with(bucket),
	r("s3.amazonaws.com", "GetBucketAcl", 4).with(bucket), r("s3.amazonaws.com", "GetBucketVersioning", 4).with(bucket),
	r("s3.amazonaws.com", "GetBucketEncryption", 4).with(bucket), r("kms.amazonaws.com", "DescribeKey", 4).with(kmsKey),
	r("kms.amazonaws.com", "GetKeyPolicy", 2).with(kmsKey), r("rds.amazonaws.com", "DescribeDBInstances", 2),
	r("lambda.amazonaws.com", "GetFunction", 4).with(function), r("logs.amazonaws.com", "DescribeLogGroups", 3),
	r("dynamodb.amazonaws.com", "DescribeTable", 3).with(table), r("ecs.amazonaws.com", "DescribeServices", 3).with(ecsService),
	w("iam.amazonaws.com", "PutRolePolicy", 1).with(func(g *gen) map[string]any {
		return map[string]any{"roleName": role(g)["roleName"], "policyName": "inline", "policyDocument": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::example-data-07/*"}]}`}
	}),
	w("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", 1).with(securityGroup), w("iam.amazonaws.com", "TagRole", 1).with(role),
}

// automations are the long-lived keys scripts hold.
var automations = []struct {
	name   string
	perDay int
	ops    []op
}{
	{"backup-bot", 120, []op{r("rds.amazonaws.com", "DescribeDBSnapshots", 4), w("rds.amazonaws.com", "CreateDBSnapshot", 1), w("ec2.amazonaws.com", "CreateSnapshot", 2), r("ec2.amazonaws.com", "DescribeSnapshots", 4), w("ec2.amazonaws.com", "DeleteSnapshot", 1)}},
	{"cspm-scanner", 300, []op{r("iam.amazonaws.com", "ListUsers", 1), r("iam.amazonaws.com", "ListRoles", 1), r("iam.amazonaws.com", "GetAccountPasswordPolicy", 1), r("iam.amazonaws.com", "ListPolicies", 1), r("ec2.amazonaws.com", "DescribeSecurityGroups", 2), r("ec2.amazonaws.com", "DescribeInstances", 2), r("s3.amazonaws.com", "ListBuckets", 1), r("s3.amazonaws.com", "GetBucketPolicy", 3).with(bucket), r("s3.amazonaws.com", "GetPublicAccessBlock", 3).with(bucket), r("kms.amazonaws.com", "ListKeys", 1), r("cloudtrail.amazonaws.com", "DescribeTrails", 1), r("rds.amazonaws.com", "DescribeDBInstances", 1), r("lambda.amazonaws.com", "ListFunctions20150331", 1), r("secretsmanager.amazonaws.com", "ListSecrets", 1)}},
	{"cost-exporter", 30, []op{r("ce.amazonaws.com", "GetCostAndUsage", 3), w("s3.amazonaws.com", "PutObject", 1).with(object)}},
	{"legacy-deployer", 50, []op{w("s3.amazonaws.com", "PutObject", 5).with(object), w("cloudfront.amazonaws.com", "CreateInvalidation", 1), r("s3.amazonaws.com", "ListObjects", 2).with(bucket)}},
	{"metrics-forwarder", 150, []op{r("monitoring.amazonaws.com", "GetMetricData", 5).with(metric), r("monitoring.amazonaws.com", "ListMetrics", 2), r("tagging.amazonaws.com", "GetResources", 1)}},
	{"log-shipper", 100, []op{w("logs.amazonaws.com", "CreateLogStream", 1).with(logGroup), r("logs.amazonaws.com", "DescribeLogStreams", 3).with(logGroup), r("s3.amazonaws.com", "GetObject", 4).with(object)}},
}

// services are AWS services calling on the account's behalf: some as the
// service itself (AWSService), some through their service-linked role.
var services = []struct {
	principal, role string
	perDay          int
	ops             []op
}{
	{"config.amazonaws.com", "aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig", 250, []op{r("ec2.amazonaws.com", "DescribeSecurityGroups", 3), r("iam.amazonaws.com", "GetRole", 2).with(role), r("s3.amazonaws.com", "GetBucketAcl", 2).with(bucket), r("ec2.amazonaws.com", "DescribeNetworkInterfaces", 2), r("kms.amazonaws.com", "DescribeKey", 1).with(kmsKey)}},
	{"autoscaling.amazonaws.com", "aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling", 60, []op{w("ec2.amazonaws.com", "RunInstances", 1), w("ec2.amazonaws.com", "TerminateInstances", 1), r("ec2.amazonaws.com", "DescribeInstanceStatus", 4)}},
	{"ecs.amazonaws.com", "aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS", 80, []op{w("ec2.amazonaws.com", "CreateNetworkInterface", 2), w("elasticloadbalancing.amazonaws.com", "RegisterTargets", 2), r("ec2.amazonaws.com", "DescribeNetworkInterfaces", 3)}},
	{"lambda.amazonaws.com", "", 150, []op{w("sts.amazonaws.com", "AssumeRole", 1).with(func(g *gen) map[string]any {
		return map[string]any{"roleArn": roleARN(fmt.Sprintf("service-%02d-lambda", g.rng.IntN(30))), "roleSessionName": fmt.Sprintf("service-%02d-handler", g.rng.IntN(30))}
	})}},
	{"ecs-tasks.amazonaws.com", "", 150, []op{w("sts.amazonaws.com", "AssumeRole", 1).with(func(g *gen) map[string]any {
		return map[string]any{"roleArn": roleARN(fmt.Sprintf("service-%02d-task", g.rng.IntN(30))), "roleSessionName": fmt.Sprintf("%x", g.rng.Uint64())}
	})}},
	{"cloudtrail.amazonaws.com", "", 40, []op{r("kms.amazonaws.com", "GenerateDataKey", 1).with(kmsKey)}},
	{"s3.amazonaws.com", "", 60, []op{r("kms.amazonaws.com", "Decrypt", 2).with(kmsKey), r("kms.amazonaws.com", "GenerateDataKey", 1).with(kmsKey)}},
	{"sso.amazonaws.com", "aws-service-role/sso.amazonaws.com/AWSServiceRoleForSSO", 20, []op{r("iam.amazonaws.com", "GetRole", 2).with(role), r("iam.amazonaws.com", "ListAttachedRolePolicies", 1).with(role), w("iam.amazonaws.com", "UpdateAssumeRolePolicy", 1).with(role)}},
}
