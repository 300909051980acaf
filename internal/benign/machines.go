package benign

import (
	"fmt"
	"time"
)

const uaGHAction = "aws-sdk-nodejs/2.1646.0 linux/v20.13.1 configure-aws-credentials-for-github-actions promise"

// webIdentity records a GitHub Actions job of repo exchanging its OIDC
// token for a session of role in account, from a GitHub-hosted runner.
func (g *gen) webIdentity(pattern string, t time.Time, account, role, repo string) *actor {
	provider := "arn:aws:iam::" + account + ":oidc-provider/token.actions.githubusercontent.com"
	sub := "repo:example-org/" + repo + ":ref:refs/heads/main"
	ip := addr("github-actions", g.rng.Uint32())
	who := &actor{account: account, ip: ip, ua: uaGHAction, ident: map[string]any{
		"type": "WebIdentityUser", "principalId": provider + ":sts.amazonaws.com:" + sub,
		"userName": sub, "identityProvider": provider,
	}}
	resp := g.credentials(t, account, role, "GitHubActions", 1)
	resp["subjectFromWebIdentityToken"] = sub
	resp["audience"] = "sts.amazonaws.com"
	resp["provider"] = provider
	r := g.rec(t, who, "sts.amazonaws.com", "AssumeRoleWithWebIdentity", true, map[string]any{
		"roleArn": roleARN(account, role), "roleSessionName": "GitHubActions", "durationSeconds": 3600,
	}, resp)
	r["additionalEventData"] = map[string]any{"identityProviderConnectionVerificationMethod": "IAMTrustStore"}
	g.emit(pattern, t, r)
	return &actor{ident: g.assumedRole(account, role, "GitHubActions", t, false), account: account, ip: ip, ua: uaTerraform}
}

// burst emits n calls of a drawn from ops, a few seconds apart.
func (g *gen) burst(pattern string, a *actor, t time.Time, ops []apiOp, n int, uaSuffix func(apiOp) string) time.Time {
	base := a.ua
	for range n {
		t = t.Add(200*time.Millisecond + g.jitter(3*time.Second))
		o := ops[g.rng.IntN(len(ops))]
		c := *a
		if uaSuffix != nil {
			c.ua = base + uaSuffix(o)
		}
		g.emit(pattern, t, g.rec(t, &c, o.source, o.name, o.read, o.params(g, a.account), nil))
	}
	return t
}

func sdkAPI(o apiOp) string { return o.source[:len(o.source)-len(".amazonaws.com")] }

// pipelines are the day's CI: terraform plans on every pull request,
// applies on merge, service deploys through web identity, CDK deploys,
// and self-hosted runners inside the VPC calling through endpoints.
func (g *gen) pipelines(day int, base time.Time, weekend bool) {
	if weekend {
		return
	}
	workday := func() time.Time { return base.Add(8*time.Hour + g.jitter(10*time.Hour)) }
	for range 6 + g.rng.IntN(8) { // terraform plans on pull requests
		account := []string{AccountProduction, AccountDev, AccountManagement}[g.rng.IntN(3)]
		t := workday()
		a := g.webIdentity(PatternTerraformPlan, t, account, "github-terraform-plan", "infrastructure")
		a.ua = uaTerraform
		g.burst(PatternTerraformPlan, a, t.Add(20*time.Second), terraformRefresh, 60+g.rng.IntN(120), sdkAPI)
	}
	for range 1 + g.rng.IntN(3) { // applies on merge
		account := []string{AccountProduction, AccountDev}[g.rng.IntN(2)]
		t := workday()
		a := g.webIdentity(PatternTerraformApply, t, account, "github-terraform-apply", "infrastructure")
		a.ua = uaTerraform
		t = g.burst(PatternTerraformApply, a, t.Add(20*time.Second), terraformRefresh, 80+g.rng.IntN(80), sdkAPI)
		g.terraformWrites(a, t)
	}
	for i := range 8 { // service deploys
		if g.rng.IntN(3) == 0 {
			continue
		}
		t := workday()
		repo := fmt.Sprintf("orders-%02d", i)
		a := g.webIdentity(PatternCIWebIdentity, t, AccountProduction, "github-deploy-"+repo, repo)
		a.ua = uaGoSDK
		g.burst(PatternCIWebIdentity, a, t.Add(30*time.Second), ciOps, 10+g.rng.IntN(25), sdkAPI)
	}
	if g.rng.IntN(3) == 0 { // a CDK app deployed
		g.cdkDeploy(workday(), AccountDev)
	}
	g.vpcRunners(base)
}

// terraformWrites are an apply's changes: a role and its policies, a
// bucket, a function.
func (g *gen) terraformWrites(a *actor, t time.Time) {
	n := fmt.Sprintf("orders-%02d-task", g.rng.IntN(20))
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:PutItem","dynamodb:Query"],"Resource":"arn:aws:dynamodb:eu-west-1:` + a.account + `:table/orders-*"}]}`
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	writes := []struct {
		source, name string
		params       map[string]any
	}{
		{"iam.amazonaws.com", "UpdateAssumeRolePolicy", map[string]any{"roleName": n, "policyDocument": trust}},
		{"iam.amazonaws.com", "PutRolePolicy", map[string]any{"roleName": n, "policyName": "table-access", "policyDocument": policy}},
		{"iam.amazonaws.com", "TagRole", map[string]any{"roleName": n, "tags": []any{map[string]any{"key": "team", "value": "orders"}}}},
		{"s3.amazonaws.com", "PutBucketTagging", bucketP(g, a.account)},
		{"lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2", functionP(g, a.account)},
		{"logs.amazonaws.com", "PutRetentionPolicy", map[string]any{"logGroupName": "/aws/lambda/orders-03", "retentionInDays": 30}},
	}
	for _, w := range writes[:2+g.rng.IntN(len(writes)-1)] {
		t = t.Add(time.Second + g.jitter(3*time.Second))
		c := *a
		c.ua += sdkAPI(apiOp{source: w.source})
		g.emit(PatternTerraformApply, t, g.rec(t, &c, w.source, w.name, false, w.params, nil))
	}
}

// cdkDeploy is `cdk deploy` from CI: the deploy role, a change set, and
// CloudFormation acting as the cfn-exec role.
func (g *gen) cdkDeploy(t time.Time, account string) {
	ci := g.webIdentity(PatternCDKDeploy, t, account, "github-cdk", "web-frontend")
	ci.ua = uaCDK + "sts"
	for _, role := range []string{"cdk-hnb659fds-lookup-role-", "cdk-hnb659fds-file-publishing-role-", "cdk-hnb659fds-deploy-role-"} {
		t = t.Add(2 * time.Second)
		g.assume(PatternCDKDeploy, t, ci, account, role+account+"-"+Region, fmt.Sprintf("aws-cdk-%s", g.hex(8)), nil)
	}
	deploy := &actor{ident: g.assumedRole(account, "cdk-hnb659fds-deploy-role-"+account+"-"+Region, "aws-cdk-"+g.hex(8), t, false), account: account, ip: ci.ip, ua: uaCDK + "cloudformation"}
	stack := map[string]any{"stackName": "WebFrontendStack"}
	for _, n := range []string{"DescribeStacks", "GetTemplate", "CreateChangeSet", "DescribeChangeSet", "ExecuteChangeSet", "DescribeStackEvents", "DescribeStackEvents", "DescribeStacks"} {
		t = t.Add(3*time.Second + g.jitter(10*time.Second))
		read := n[:3] == "Des" || n[:3] == "Get"
		g.emit(PatternCDKDeploy, t, g.rec(t, deploy, "cloudformation.amazonaws.com", n, read, stack, nil))
	}
	cfn := service(account, "cloudformation.amazonaws.com")
	exec := g.assume(PatternCDKDeploy, t, cfn, account, "cdk-hnb659fds-cfn-exec-role-"+account+"-"+Region, "AWSCloudFormation", nil)
	exec = invoked(exec, "cloudformation.amazonaws.com")
	for _, w := range []struct{ source, name string }{{"lambda.amazonaws.com", "UpdateFunctionCode20150331v2"}, {"s3.amazonaws.com", "PutBucketPolicy"}, {"cloudfront.amazonaws.com", "UpdateDistribution"}, {"iam.amazonaws.com", "PutRolePolicy"}} {
		t = t.Add(5*time.Second + g.jitter(20*time.Second))
		g.emit(PatternCDKDeploy, t, g.rec(t, exec, w.source, w.name, false, map[string]any{"stackName": "WebFrontendStack"}, nil))
	}
}

// vpcRunners are self-hosted runners and batch jobs on EC2 in production,
// whose calls leave through interface endpoints: private source
// addresses and a vpcEndpointId.
func (g *gen) vpcRunners(base time.Time) {
	for i := range 4 {
		t := base.Add(time.Duration(1+i*6)*time.Hour + g.jitter(time.Hour))
		instance := instanceID(fmt.Sprint("runner", i))
		a := &actor{ident: g.assumedRole(AccountProduction, "self-hosted-runner", instance, t.Add(-time.Hour), false),
			account: AccountProduction, ip: fmt.Sprintf("10.20.%d.%d", 32+i, 10+g.rng.IntN(200)), ua: uaGoSDK,
			vpce: "vpce-0a1b2c3d4e5f6a7b8"}
		g.burst(PatternVPCEndpoint, a, t, ciOps, 20+g.rng.IntN(30), sdkAPI)
		a.vpce = "vpce-0f9e8d7c6b5a49382"
		g.burst(PatternVPCEndpoint, a, t.Add(10*time.Minute), []apiOp{
			{"sts.amazonaws.com", "GetCallerIdentity", true, none}, {"secretsmanager.amazonaws.com", "GetSecretValue", true, secretP},
			{"kms.amazonaws.com", "Decrypt", true, keyP}, {"ssm.amazonaws.com", "GetParameter", true, paramP},
		}, 5+g.rng.IntN(10), sdkAPI)
	}
}

// scanners are the daily crawls: a cost vendor's crawler from its cloud
// (outside AWS) and Prowler from the security account, through
// cross-account roles in every account.
func (g *gen) scanners(base time.Time) {
	vendor := &actor{account: AccountCrawlerVendor, ip: addr("gcp", 4242+uint32(g.rng.IntN(8))), ua: uaCrawler,
		ident: iamUser(AccountCrawlerVendor, "cloudcost-crawler", "AKIAWV"+stableID("vendor", 14))}
	prowlerTask := &actor{account: AccountSecurity, ip: addr("aws-eu-west-1", 900+uint32(g.rng.IntN(50))), ua: uaProwler,
		ident: g.assumedRole(AccountSecurity, "prowler-task", g.hex(32), base, false)}
	for i, account := range Accounts {
		t := base.Add(2*time.Hour + time.Duration(i)*20*time.Minute + g.jitter(10*time.Minute))
		a := g.assume(PatternCrawler, t, vendor, account, "CloudCostReadOnly", "cloudcost-"+g.hex(12), map[string]any{"externalId": "cc-7f3a91e2"})
		g.burst(PatternCrawler, a, t, inventory, 80+g.rng.IntN(60), nil)
		t = base.Add(4*time.Hour + time.Duration(i)*30*time.Minute + g.jitter(10*time.Minute))
		p := g.assume(PatternProwler, t, prowlerTask, account, "ProwlerScanRole", "ProwlerAssessmentSession", nil)
		g.burst(PatternProwler, p, t, inventory, 150+g.rng.IntN(100), nil)
	}
}

// automation is the organisation's own machines: a Lambda function in
// the management account acting in every account on a schedule, EC2
// instances whose instance-profile sessions are named after the
// instance, and scripts holding IAM users' keys.
func (g *gen) automation(base time.Time) {
	for h := 0; h < 24; h += 4 { // tag-compliance Lambda, every four hours
		t := base.Add(time.Duration(h)*time.Hour + 5*time.Minute + g.jitter(time.Minute))
		fn := &actor{account: AccountManagement, ip: addr("aws-eu-west-1", g.rng.Uint32()), ua: uaBoto3,
			ident: g.assumedRole(AccountManagement, "tag-compliance-lambda", "tag-compliance", t.Add(-10*time.Minute), false)}
		for _, account := range Accounts[1:] {
			a := g.assume(PatternCrossAccount, t, fn, account, "OrganizationTagReader", "tag-compliance-"+fmt.Sprint(t.Unix()), nil)
			g.burst(PatternCrossAccount, a, t, []apiOp{
				{"tagging.amazonaws.com", "GetResources", true, none}, {"ec2.amazonaws.com", "DescribeInstances", true, none},
				{"ec2.amazonaws.com", "CreateTags", false, instanceP},
			}, 4+g.rng.IntN(6), nil)
		}
	}
	for i := range 3 { // EC2 instances of a batch fleet in the security account reading production
		t := base.Add(time.Duration(3+i*7)*time.Hour + g.jitter(time.Hour))
		instance := instanceID(fmt.Sprint("batch", i, base.YearDay()/7))
		ec2 := &actor{account: AccountSecurity, ip: addr("aws-us-east-1", hash(instance)), ua: uaBoto3,
			ident: g.assumedRole(AccountSecurity, "log-archive-batch", instance, t.Add(-2*time.Hour), false)}
		a := g.assume(PatternCrossAccount, t, ec2, AccountProduction, "LogArchiveReader", instance, nil)
		g.burst(PatternCrossAccount, a, t, []apiOp{
			{"s3.amazonaws.com", "ListObjects", true, bucketP}, {"s3.amazonaws.com", "GetObject", true, bucketP},
			{"logs.amazonaws.com", "CreateExportTask", false, logGroupP},
		}, 10+g.rng.IntN(20), nil)
	}
	for _, u := range []struct{ name, account string }{{"svc-backup", AccountProduction}, {"svc-reporting", AccountManagement}, {"svc-monitoring", AccountDev}} {
		a := &actor{account: u.account, ip: addr("aws-eu-west-1", hash(u.name)), ua: uaBoto3,
			ident: iamUser(u.account, u.name, "AKIA"+stableID(u.name, 16))}
		for h := 0; h < 24; h += 2 {
			t := base.Add(time.Duration(h)*time.Hour + g.jitter(10*time.Minute))
			g.burst(PatternAutomationKey, a, t, []apiOp{
				{"s3.amazonaws.com", "PutObject", false, bucketP}, {"s3.amazonaws.com", "ListObjects", true, bucketP},
				{"monitoring.amazonaws.com", "GetMetricData", true, none}, {"ce.amazonaws.com", "GetCostAndUsage", true, none},
			}, 2+g.rng.IntN(5), nil)
		}
	}
}

// services are AWS services acting on the account's behalf: assuming
// their roles (AWSService callers) and calling with invokedBy.
func (g *gen) services(base time.Time) {
	for _, account := range Accounts {
		for h := 0; h < 24; h += 3 {
			t := base.Add(time.Duration(h)*time.Hour + g.jitter(time.Hour))
			cfg := service(account, "config.amazonaws.com")
			a := g.assume(PatternServiceInvoked, t, cfg, account, "AWSServiceRoleForConfig", "AWSConfig-Describe", nil)
			a = invoked(a, "config.amazonaws.com")
			g.burst(PatternServiceInvoked, a, t, []apiOp{
				{"ec2.amazonaws.com", "DescribeInstances", true, none}, {"iam.amazonaws.com", "GetRole", true, roleP},
				{"s3.amazonaws.com", "GetBucketAcl", true, bucketP}, {"ec2.amazonaws.com", "DescribeSecurityGroups", true, none},
			}, 3+g.rng.IntN(8), nil)
		}
		for range 6 + g.rng.IntN(6) { // Lambda assuming execution roles
			t := base.Add(g.jitter(24 * time.Hour))
			g.assume(PatternServiceInvoked, t, service(account, "lambda.amazonaws.com"), account, fmt.Sprintf("orders-%02d-exec", g.rng.IntN(20)), fmt.Sprintf("orders-%02d", g.rng.IntN(20)), nil)
		}
		t := base.Add(g.jitter(24 * time.Hour)) // autoscaling with its service-linked role
		as := invoked(&actor{ident: g.assumedRole(account, "AWSServiceRoleForAutoScaling", "AutoScaling", t, false), account: account}, "autoscaling.amazonaws.com")
		g.emit(PatternServiceInvoked, t, g.rec(t, as, "ec2.amazonaws.com", "RunInstances", false, map[string]any{"instancesSet": map[string]any{"items": []any{map[string]any{"minCount": 1, "maxCount": 1}}}}, nil))
		g.emit(PatternServiceInvoked, t, g.rec(t, as, "ec2.amazonaws.com", "CreateTags", false, instanceP(g, account), nil))
		ssm := &actor{account: account, ip: addr("aws-eu-west-1", g.rng.Uint32()), ua: uaSSM,
			ident: g.assumedRole(account, "ssm-managed-instance", instanceID(account+"ssm"), t, false)}
		g.burst(PatternServiceInvoked, ssm, t, []apiOp{{"ssm.amazonaws.com", "UpdateInstanceInformation", false, none}, {"ec2messages.amazonaws.com", "GetMessages", true, none}}, 4, nil)
	}
}

// instanceID is an EC2 instance id derived from name: "i-0" and 16 hex
// digits, as instance ids are.
func instanceID(name string) string {
	return fmt.Sprintf("i-0%016x", uint64(hash(name))<<32|uint64(hash(name, "lo")))
}
