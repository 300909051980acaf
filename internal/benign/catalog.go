package benign

import "fmt"

// params builds a call's requestParameters in account.
type params func(g *gen, account string) map[string]any

func none(*gen, string) map[string]any { return nil }

func bucketP(g *gen, account string) map[string]any {
	return map[string]any{"bucketName": fmt.Sprintf("example-%s-%02d", account[:4], g.rng.IntN(25)), "Host": "s3.eu-west-1.amazonaws.com"}
}

func instanceP(g *gen, _ string) map[string]any {
	return map[string]any{"instancesSet": map[string]any{"items": []any{map[string]any{"instanceId": fmt.Sprintf("i-0%016x", g.rng.Uint64()>>1)}}}, "filterSet": map[string]any{}}
}

func functionP(g *gen, account string) map[string]any {
	return map[string]any{"functionName": fmt.Sprintf("arn:aws:lambda:eu-west-1:%s:function:orders-%02d", account, g.rng.IntN(20))}
}

func logGroupP(g *gen, _ string) map[string]any {
	return map[string]any{"logGroupName": fmt.Sprintf("/aws/lambda/orders-%02d", g.rng.IntN(20)), "startTime": 1717315200000, "interleaved": true}
}

func roleP(g *gen, _ string) map[string]any {
	return map[string]any{"roleName": fmt.Sprintf("orders-%02d-task", g.rng.IntN(20))}
}

func policyP(g *gen, account string) map[string]any {
	return map[string]any{"policyArn": fmt.Sprintf("arn:aws:iam::%s:policy/orders-%02d-access", account, g.rng.IntN(20)), "versionId": "v4"}
}

func tableP(g *gen, _ string) map[string]any {
	return map[string]any{"tableName": fmt.Sprintf("orders-%02d", g.rng.IntN(20))}
}

func keyP(g *gen, account string) map[string]any {
	return map[string]any{"keyId": fmt.Sprintf("arn:aws:kms:eu-west-1:%s:key/%s", account, stableID(fmt.Sprint(account, g.rng.IntN(6)), 8))}
}

func secretP(g *gen, account string) map[string]any {
	return map[string]any{"secretId": fmt.Sprintf("arn:aws:secretsmanager:eu-west-1:%s:secret:orders-%02d/db-%s", account, g.rng.IntN(20), g.hex(6))}
}

func paramP(g *gen, _ string) map[string]any {
	return map[string]any{"name": fmt.Sprintf("/orders-%02d/config", g.rng.IntN(20)), "withDecryption": false}
}

func repoP(g *gen, _ string) map[string]any {
	return map[string]any{"repositoryName": fmt.Sprintf("orders-%02d", g.rng.IntN(20))}
}

// consoleOp is a read a console page makes.
type consoleOp struct {
	source, name, ua string
	params           params
}

// consoleOps are what console pages read, with the agents real console
// records carry (the console's own, the S3 and EC2 consoles', the browser).
var consoleOps = []consoleOp{
	{"ec2.amazonaws.com", "DescribeInstances", uaEC2Console, none},
	{"ec2.amazonaws.com", "DescribeInstanceStatus", uaEC2Front, none},
	{"ec2.amazonaws.com", "DescribeSecurityGroups", uaEC2Console, none},
	{"ec2.amazonaws.com", "DescribeVpcs", uaEC2Console, none},
	{"s3.amazonaws.com", "ListBuckets", uaS3Console, none},
	{"s3.amazonaws.com", "GetBucketLocation", uaS3Console, bucketP},
	{"s3.amazonaws.com", "ListObjects", uaS3Console, bucketP},
	{"s3.amazonaws.com", "GetBucketPolicyStatus", uaS3Console, bucketP},
	{"lambda.amazonaws.com", "ListFunctions20150331", uaConsole, none},
	{"lambda.amazonaws.com", "GetFunction20150331v2", uaConsole, functionP},
	{"logs.amazonaws.com", "DescribeLogGroups", uaConsole, none},
	{"logs.amazonaws.com", "FilterLogEvents", uaConsole, logGroupP},
	{"logs.amazonaws.com", "GetLogEvents", uaConsole, logGroupP},
	{"monitoring.amazonaws.com", "DescribeAlarms", uaConsole, none},
	{"monitoring.amazonaws.com", "GetMetricData", uaConsole, none},
	{"cloudformation.amazonaws.com", "DescribeStacks", uaConsole, none},
	{"cloudformation.amazonaws.com", "ListStacks", uaConsole, none},
	{"dynamodb.amazonaws.com", "DescribeTable", uaConsole, tableP},
	{"dynamodb.amazonaws.com", "ListTables", uaConsole, none},
	{"iam.amazonaws.com", "ListRoles", uaConsole, none},
	{"iam.amazonaws.com", "GetRole", uaConsole, roleP},
	{"health.amazonaws.com", "DescribeEventAggregates", uaConsole, none},
	{"ce.amazonaws.com", "GetCostAndUsage", uaConsole, none},
	{"cloudtrail.amazonaws.com", "LookupEvents", uaConsole, none},
	{"ecs.amazonaws.com", "ListClusters", uaConsole, none},
	{"ecs.amazonaws.com", "DescribeServices", uaConsole, none},
	{"rds.amazonaws.com", "DescribeDBInstances", uaConsole, none},
	{"kms.amazonaws.com", "ListAliases", uaConsole, none},
	{"ssm.amazonaws.com", "DescribeInstanceInformation", uaConsole, none},
	{"notifications.amazonaws.com", "ListNotificationHubs", uaBrowser, none},
}

// cliOp is a call a developer makes with the AWS CLI.
type cliOp struct {
	source, name, command string
	read                  bool
	params                params
}

var cliOps = []cliOp{
	{"s3.amazonaws.com", "ListObjects", "s3.ls", true, bucketP},
	{"s3.amazonaws.com", "GetObject", "s3.cp", true, bucketP},
	{"s3.amazonaws.com", "PutObject", "s3.cp", false, bucketP},
	{"logs.amazonaws.com", "FilterLogEvents", "logs.tail", true, logGroupP},
	{"logs.amazonaws.com", "DescribeLogStreams", "logs.tail", true, logGroupP},
	{"lambda.amazonaws.com", "Invoke", "lambda.invoke", false, functionP},
	{"lambda.amazonaws.com", "GetFunctionConfiguration", "lambda.get-function-configuration", true, functionP},
	{"ecs.amazonaws.com", "DescribeTasks", "ecs.describe-tasks", true, none},
	{"ecs.amazonaws.com", "ListTasks", "ecs.list-tasks", true, none},
	{"ssm.amazonaws.com", "GetParameter", "ssm.get-parameter", true, paramP},
	{"ssm.amazonaws.com", "StartSession", "ssm.start-session", false, instanceP},
	{"dynamodb.amazonaws.com", "DescribeTable", "dynamodb.describe-table", true, tableP},
	{"ecr.amazonaws.com", "GetAuthorizationToken", "ecr.get-login-password", true, none},
	{"ec2.amazonaws.com", "DescribeInstances", "ec2.describe-instances", true, none},
	{"cloudformation.amazonaws.com", "DescribeStackEvents", "cloudformation.describe-stack-events", true, none},
}

// apiOp is an SDK call of a machine.
type apiOp struct {
	source, name string
	read         bool
	params       params
}

// terraformRefresh is what `terraform plan` reads to refresh the state of
// a typical service stack: many services, IAM and KMS among them.
var terraformRefresh = []apiOp{
	{"iam.amazonaws.com", "GetRole", true, roleP}, {"iam.amazonaws.com", "ListRolePolicies", true, roleP},
	{"iam.amazonaws.com", "ListAttachedRolePolicies", true, roleP}, {"iam.amazonaws.com", "GetRolePolicy", true, roleP},
	{"iam.amazonaws.com", "GetPolicy", true, policyP}, {"iam.amazonaws.com", "GetPolicyVersion", true, policyP},
	{"iam.amazonaws.com", "ListPolicyVersions", true, policyP}, {"iam.amazonaws.com", "GetOpenIDConnectProvider", true, none},
	{"s3.amazonaws.com", "GetBucketPolicy", true, bucketP}, {"s3.amazonaws.com", "GetBucketAcl", true, bucketP},
	{"s3.amazonaws.com", "GetBucketVersioning", true, bucketP}, {"s3.amazonaws.com", "GetBucketEncryption", true, bucketP},
	{"s3.amazonaws.com", "GetBucketTagging", true, bucketP}, {"s3.amazonaws.com", "GetBucketPublicAccessBlock", true, bucketP},
	{"s3.amazonaws.com", "GetBucketLogging", true, bucketP}, {"s3.amazonaws.com", "GetBucketLifecycle", true, bucketP},
	{"ec2.amazonaws.com", "DescribeVpcs", true, none}, {"ec2.amazonaws.com", "DescribeSubnets", true, none},
	{"ec2.amazonaws.com", "DescribeSecurityGroups", true, none}, {"ec2.amazonaws.com", "DescribeRouteTables", true, none},
	{"ec2.amazonaws.com", "DescribeVpcAttribute", true, none}, {"ec2.amazonaws.com", "DescribeNatGateways", true, none},
	{"lambda.amazonaws.com", "GetFunction20150331v2", true, functionP}, {"lambda.amazonaws.com", "ListVersionsByFunction20150331", true, functionP},
	{"lambda.amazonaws.com", "GetPolicy20150331v2", true, functionP}, {"lambda.amazonaws.com", "GetFunctionCodeSigningConfig", true, functionP},
	{"logs.amazonaws.com", "DescribeLogGroups", true, none}, {"logs.amazonaws.com", "ListTagsForResource", true, logGroupP},
	{"kms.amazonaws.com", "DescribeKey", true, keyP}, {"kms.amazonaws.com", "GetKeyPolicy", true, keyP},
	{"kms.amazonaws.com", "GetKeyRotationStatus", true, keyP}, {"kms.amazonaws.com", "ListResourceTags", true, keyP},
	{"dynamodb.amazonaws.com", "DescribeTable", true, tableP}, {"dynamodb.amazonaws.com", "DescribeContinuousBackups", true, tableP},
	{"dynamodb.amazonaws.com", "DescribeTimeToLive", true, tableP}, {"dynamodb.amazonaws.com", "ListTagsOfResource", true, tableP},
	{"secretsmanager.amazonaws.com", "DescribeSecret", true, secretP}, {"secretsmanager.amazonaws.com", "GetResourcePolicy", true, secretP},
	{"sqs.amazonaws.com", "GetQueueAttributes", true, none}, {"sns.amazonaws.com", "GetTopicAttributes", true, none},
	{"ecr.amazonaws.com", "DescribeRepositories", true, repoP}, {"ecr.amazonaws.com", "GetLifecyclePolicy", true, repoP},
	{"monitoring.amazonaws.com", "DescribeAlarms", true, none}, {"rds.amazonaws.com", "DescribeDBInstances", true, none},
	{"route53.amazonaws.com", "GetHostedZone", true, none}, {"route53.amazonaws.com", "ListResourceRecordSets", true, none},
	{"acm.amazonaws.com", "DescribeCertificate", true, none}, {"ssm.amazonaws.com", "GetParameter", true, paramP},
}

// inventory is what a crawler or CSPM scanner lists in every account.
var inventory = []apiOp{
	{"ec2.amazonaws.com", "DescribeInstances", true, none}, {"ec2.amazonaws.com", "DescribeVolumes", true, none},
	{"ec2.amazonaws.com", "DescribeSnapshots", true, none}, {"ec2.amazonaws.com", "DescribeSecurityGroups", true, none},
	{"ec2.amazonaws.com", "DescribeVpcs", true, none}, {"ec2.amazonaws.com", "DescribeFlowLogs", true, none},
	{"ec2.amazonaws.com", "DescribeRegions", true, none}, {"ec2.amazonaws.com", "DescribeImages", true, none},
	{"s3.amazonaws.com", "ListBuckets", true, none}, {"s3.amazonaws.com", "GetBucketPolicy", true, bucketP},
	{"s3.amazonaws.com", "GetBucketAcl", true, bucketP}, {"s3.amazonaws.com", "GetBucketEncryption", true, bucketP},
	{"s3.amazonaws.com", "GetBucketPublicAccessBlock", true, bucketP}, {"s3.amazonaws.com", "GetBucketLogging", true, bucketP},
	{"iam.amazonaws.com", "ListUsers", true, none}, {"iam.amazonaws.com", "ListRoles", true, none},
	{"iam.amazonaws.com", "ListPolicies", true, none}, {"iam.amazonaws.com", "GetAccountPasswordPolicy", true, none},
	{"iam.amazonaws.com", "GenerateCredentialReport", true, none}, {"iam.amazonaws.com", "GetCredentialReport", true, none},
	{"iam.amazonaws.com", "ListAccessKeys", true, none}, {"iam.amazonaws.com", "GetAccountSummary", true, none},
	{"iam.amazonaws.com", "ListMFADevices", true, none}, {"iam.amazonaws.com", "ListAttachedRolePolicies", true, roleP},
	{"kms.amazonaws.com", "ListKeys", true, none}, {"kms.amazonaws.com", "GetKeyRotationStatus", true, keyP},
	{"rds.amazonaws.com", "DescribeDBInstances", true, none}, {"rds.amazonaws.com", "DescribeDBSnapshots", true, none},
	{"lambda.amazonaws.com", "ListFunctions20150331", true, none}, {"lambda.amazonaws.com", "GetPolicy20150331v2", true, functionP},
	{"cloudtrail.amazonaws.com", "DescribeTrails", true, none}, {"cloudtrail.amazonaws.com", "GetTrailStatus", true, none},
	{"config.amazonaws.com", "DescribeConfigurationRecorders", true, none}, {"guardduty.amazonaws.com", "ListDetectors", true, none},
	{"secretsmanager.amazonaws.com", "ListSecrets", true, none}, {"logs.amazonaws.com", "DescribeLogGroups", true, none},
	{"sns.amazonaws.com", "ListTopics", true, none}, {"sqs.amazonaws.com", "ListQueues", true, none},
	{"dynamodb.amazonaws.com", "ListTables", true, none}, {"ecr.amazonaws.com", "DescribeRepositories", true, none},
	{"elasticloadbalancing.amazonaws.com", "DescribeLoadBalancers", true, none}, {"cloudfront.amazonaws.com", "ListDistributions", true, none},
	{"organizations.amazonaws.com", "DescribeOrganization", true, none}, {"access-analyzer.amazonaws.com", "ListAnalyzers", true, none},
}

// ciOps are what a deploy pipeline run calls.
var ciOps = []apiOp{
	{"ecr.amazonaws.com", "GetAuthorizationToken", true, none}, {"ecr.amazonaws.com", "InitiateLayerUpload", false, repoP},
	{"ecr.amazonaws.com", "UploadLayerPart", false, repoP}, {"ecr.amazonaws.com", "CompleteLayerUpload", false, repoP},
	{"ecr.amazonaws.com", "PutImage", false, repoP}, {"ecr.amazonaws.com", "BatchCheckLayerAvailability", true, repoP},
	{"s3.amazonaws.com", "PutObject", false, bucketP}, {"s3.amazonaws.com", "GetObject", true, bucketP},
	{"ecs.amazonaws.com", "RegisterTaskDefinition", false, none}, {"ecs.amazonaws.com", "UpdateService", false, none},
	{"ecs.amazonaws.com", "DescribeServices", true, none}, {"lambda.amazonaws.com", "UpdateFunctionCode20150331v2", false, functionP},
	{"lambda.amazonaws.com", "GetFunctionConfiguration20150331v2", true, functionP},
}
