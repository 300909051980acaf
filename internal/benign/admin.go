package benign

import "time"

const adminPolicy = "arn:aws:iam::aws:policy/AdministratorAccess"

// administration is the rarer work of the platform team: Identity Center
// provisioning, CDK bootstraps, access key rotation, service-linked roles
// and root console visits.
func (g *gen) administration(day int, base time.Time, weekend bool) {
	if weekend {
		return
	}
	admin := g.platformAdmin(day)
	if day%7 == 1 || day%7 == 3 {
		g.identityCenter(admin, base.Add(10*time.Hour+g.jitter(6*time.Hour)))
	}
	if day == 9 || day == 23 {
		account := AccountDev
		if day == 23 {
			account = AccountProduction
		}
		g.cdkBootstrap(admin, account, base.Add(11*time.Hour+g.jitter(4*time.Hour)))
	}
	g.rotations(day, base)
	if day%5 == 2 {
		g.serviceLinkedRole(admin, base.Add(9*time.Hour+g.jitter(8*time.Hour)))
	}
	if day%9 == 4 {
		g.rootConsole(base.Add(14*time.Hour + g.jitter(3*time.Hour)))
	}
}

// platformAdmin is the administrator on duty: a person with the
// AdministratorAccess permission set, from their usual network.
func (g *gen) platformAdmin(day int) *person {
	var admins []*person
	for _, p := range g.people {
		if p.roles[0].role == ssoAdmin {
			admins = append(admins, p)
		}
	}
	return admins[day%len(admins)]
}

// adminSession signs the administrator in to account with the
// AdministratorAccess permission set and returns their CLI session.
func (g *gen) adminSession(p *person, pattern string, account string, t time.Time, ua string) *actor {
	net := p.Home
	if p.Office != "" && t.Weekday() >= time.Tuesday && t.Weekday() <= time.Thursday {
		net = p.Office
	}
	a := g.signIn(p, pattern, t, signIn{account, ssoAdmin}, g.host(p, net, t.YearDay()))
	a.console, a.ua = false, ua
	return a
}

// identityCenter is a permission-set change and an account assignment in
// the management account, and Identity Center creating the reserved role
// in the member account through its service-linked role.
func (g *gen) identityCenter(p *person, t time.Time) {
	a := g.adminSession(p, PatternIdentityCenter, AccountManagement, t, uaConsole)
	a.console = true
	instance := "arn:aws:sso:::instance/ssoins-6804a2b3c1d2e3f4"
	ps := instance[:len("arn:aws:sso:::")] + "permissionSet/ssoins-6804a2b3c1d2e3f4/ps-" + stableID("admin-ps", 16)
	member := []string{AccountProduction, AccountDev, AccountSecurity}[g.rng.IntN(3)]
	steps := []struct {
		name   string
		params map[string]any
	}{
		{"AttachManagedPolicyToPermissionSet", map[string]any{"instanceArn": instance, "permissionSetArn": ps, "managedPolicyArn": adminPolicy}},
		{"ProvisionPermissionSet", map[string]any{"instanceArn": instance, "permissionSetArn": ps, "targetType": "ALL_PROVISIONED_ACCOUNTS"}},
		{"CreateAccountAssignment", map[string]any{"instanceArn": instance, "permissionSetArn": ps, "targetId": member, "targetType": "AWS_ACCOUNT", "principalType": "USER", "principalId": stableID(g.people[g.rng.IntN(len(g.people))].Email, 36)}},
		{"DescribeAccountAssignmentCreationStatus", map[string]any{"instanceArn": instance, "accountAssignmentCreationRequestId": g.uuid()}},
	}
	for i, s := range steps {
		if i == 0 && g.rng.IntN(2) == 0 {
			continue // most changes are assignments only
		}
		t = t.Add(20*time.Second + g.jitter(time.Minute))
		g.emit(PatternIdentityCenter, t, g.rec(t, a, "sso.amazonaws.com", s.name, s.name[:3] == "Des", s.params, nil))
	}
	sso := invoked(&actor{ident: g.assumedRole(member, "AWSServiceRoleForSSO", "AWS-SSO", t, false), account: member}, "sso.amazonaws.com")
	role := ssoAdmin
	for _, c := range []struct {
		name   string
		params map[string]any
	}{
		{"CreateRole", map[string]any{"roleName": role, "path": "/aws-reserved/sso.amazonaws.com/" + Region + "/", "maxSessionDuration": 43200,
			"assumeRolePolicyDocument": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::` + member + `:saml-provider/AWSSSO_3f2d9b8e1c7a6054_DO_NOT_DELETE"},"Action":["sts:AssumeRoleWithSAML","sts:TagSession"],"Condition":{"StringEquals":{"SAML:aud":"https://signin.aws.amazon.com/saml"}}}]}`}},
		{"AttachRolePolicy", map[string]any{"roleName": role, "policyArn": adminPolicy}},
		{"GetRole", map[string]any{"roleName": role}},
	} {
		t = t.Add(time.Second + g.jitter(2*time.Second))
		g.emit(PatternIdentityCenter, t, g.rec(t, sso, "iam.amazonaws.com", c.name, c.name == "GetRole", c.params, nil))
	}
}

// cdkBootstrap is `cdk bootstrap` by an administrator: the CDKToolkit
// stack, whose CloudFormation calls (invokedBy) create the CDK roles and
// attach AdministratorAccess to the cfn-exec role, as CDK's template does.
func (g *gen) cdkBootstrap(p *person, account string, t time.Time) {
	a := g.adminSession(p, PatternCDKBootstrap, account, t, uaCDK+"cloudformation")
	for _, n := range []string{"DescribeStacks", "CreateChangeSet", "DescribeChangeSet", "ExecuteChangeSet"} {
		t = t.Add(2*time.Second + g.jitter(5*time.Second))
		g.emit(PatternCDKBootstrap, t, g.rec(t, a, "cloudformation.amazonaws.com", n, n[:3] == "Des", map[string]any{"stackName": "CDKToolkit"}, nil))
	}
	cfn := invoked(a, "cloudformation.amazonaws.com")
	suffix := "-" + account + "-" + Region
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"cloudformation.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	var calls []struct {
		source, name string
		params       map[string]any
	}
	add := func(source, name string, params map[string]any) {
		calls = append(calls, struct {
			source, name string
			params       map[string]any
		}{source, name, params})
	}
	add("s3.amazonaws.com", "CreateBucket", map[string]any{"bucketName": "cdk-hnb659fds-assets" + suffix})
	add("s3.amazonaws.com", "PutBucketEncryption", map[string]any{"bucketName": "cdk-hnb659fds-assets" + suffix})
	add("ecr.amazonaws.com", "CreateRepository", map[string]any{"repositoryName": "cdk-hnb659fds-container-assets" + suffix})
	for _, r := range []string{"cfn-exec-role", "deploy-role", "file-publishing-role", "image-publishing-role", "lookup-role"} {
		add("iam.amazonaws.com", "CreateRole", map[string]any{"roleName": "cdk-hnb659fds-" + r + suffix, "assumeRolePolicyDocument": trust,
			"tags": []any{map[string]any{"key": "aws-cdk:bootstrap-role", "value": r}}})
	}
	add("iam.amazonaws.com", "AttachRolePolicy", map[string]any{"roleName": "cdk-hnb659fds-cfn-exec-role" + suffix, "policyArn": adminPolicy})
	add("iam.amazonaws.com", "AttachRolePolicy", map[string]any{"roleName": "cdk-hnb659fds-lookup-role" + suffix, "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"})
	for _, r := range []string{"deploy-role", "file-publishing-role", "image-publishing-role"} {
		add("iam.amazonaws.com", "PutRolePolicy", map[string]any{"roleName": "cdk-hnb659fds-" + r + suffix, "policyName": "default",
			"policyDocument": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject*","s3:PutObject*","s3:List*"],"Resource":"arn:aws:s3:::cdk-hnb659fds-assets` + suffix + `/*"}]}`})
	}
	add("ssm.amazonaws.com", "PutParameter", map[string]any{"name": "/cdk-bootstrap/hnb659fds/version", "type": "String"})
	for _, c := range calls {
		t = t.Add(time.Second + g.jitter(8*time.Second))
		g.emit(PatternCDKBootstrap, t, g.rec(t, cfn, c.source, c.name, false, c.params, nil))
	}
}

// keyUsers are IAM users whose keys are rotated this month, and where
// they call from.
var keyUsers = []struct{ name, account, net string }{
	{"svc-backup", AccountProduction, "aws-eu-west-1"},
	{"svc-reporting", AccountManagement, "aws-eu-west-1"},
	{"svc-monitoring", AccountDev, "aws-eu-west-1"},
	{"legacy-deployer", AccountDev, "office-ams"},
}

// rotations are key rotations by the users themselves: a new key, the old
// one made inactive two days later, deleted a week later.
func (g *gen) rotations(day int, base time.Time) {
	for i, u := range keyUsers {
		d0 := int(hash(u.name) % 18)
		step := map[int]string{d0: "CreateAccessKey", d0 + 2: "UpdateAccessKey", d0 + 7: "DeleteAccessKey"}[day]
		if step == "" {
			continue
		}
		old, fresh := "AKIA"+stableID(u.name, 16), "AKIA"+stableID(u.name+"new", 16)
		key := old
		if step != "CreateAccessKey" {
			key = fresh
		}
		a := &actor{account: u.account, ip: addr(u.net, hash(u.name)), ua: uaCLI + "iam." + kebab(step), ident: iamUser(u.account, u.name, key)}
		t := base.Add(time.Duration(9+i)*time.Hour + g.jitter(time.Hour))
		params := map[string]any{"userName": u.name}
		var resp map[string]any
		switch step {
		case "CreateAccessKey":
			resp = map[string]any{"accessKey": map[string]any{"userName": u.name, "accessKeyId": fresh, "status": "Active", "createDate": t.UTC().Format("Jan 2, 2006, 3:04:05 PM")}}
		case "UpdateAccessKey":
			params["accessKeyId"], params["status"] = old, "Inactive"
		default:
			params["accessKeyId"] = old
		}
		g.emit(PatternKeyRotation, t, g.rec(t, a, "iam.amazonaws.com", "ListAccessKeys", true, map[string]any{"userName": u.name}, nil))
		t = t.Add(3 * time.Second)
		g.emit(PatternKeyRotation, t, g.rec(t, a, "iam.amazonaws.com", step, false, params, resp))
	}
}

func kebab(s string) string {
	out := make([]byte, 0, len(s)+4)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			if i > 0 {
				out = append(out, '-')
			}
			c += 'a' - 'A'
		}
		out = append(out, c)
	}
	return string(out)
}

// serviceLinkedRole is a service's first use in an account creating its
// service-linked role: by an administrator's console session, the call
// made by the service console on their behalf.
func (g *gen) serviceLinkedRole(p *person, t time.Time) {
	svc := []string{"ecs.amazonaws.com", "elasticloadbalancing.amazonaws.com", "rds.amazonaws.com", "autoscaling.amazonaws.com", "opensearchservice.amazonaws.com"}[g.rng.IntN(5)]
	account := []string{AccountProduction, AccountDev}[g.rng.IntN(2)]
	a := g.adminSession(p, PatternServiceLinkedRole, account, t, uaConsole)
	a.console = true
	if g.rng.IntN(2) == 0 {
		a = invoked(a, svc)
	}
	t = t.Add(time.Minute)
	g.emit(PatternServiceLinkedRole, t, g.rec(t, a, "iam.amazonaws.com", "CreateServiceLinkedRole", false, map[string]any{"aWSServiceName": svc},
		map[string]any{"role": map[string]any{"path": "/aws-service-role/" + svc + "/", "roleName": "AWSServiceRoleFor" + g.hex(4), "arn": "arn:aws:iam::" + account + ":role/aws-service-role/" + svc + "/AWSServiceRoleFor" + g.hex(4)}}))
}

// rootConsole is the root user of the development account signing in with
// MFA and browsing the EC2 console: records of the EC2 console's own agents,
// only some carrying sessionCredentialFromConsole.
func (g *gen) rootConsole(t time.Time) {
	account := AccountDev
	ip := addr("office-ams", 2)
	root := map[string]any{"type": "Root", "principalId": account, "arn": "arn:aws:iam::" + account + ":root", "accountId": account}
	login := g.rec(t, &actor{ident: root, account: account, ip: ip, ua: uaBrowser}, "signin.amazonaws.com", "ConsoleLogin", false, nil, map[string]any{"ConsoleLogin": "Success"})
	login["eventType"] = "AwsConsoleSignIn"
	login["additionalEventData"] = map[string]any{"LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true", "MobileVersion": "No", "MFAUsed": "Yes"}
	delete(login, "readOnly")
	delete(login, "managementEvent")
	g.emit(PatternRootConsole, t, login)
	session := map[string]any{}
	for k, v := range root {
		session[k] = v
	}
	session["accessKeyId"] = "ASIA" + g.upper(16)
	session["sessionContext"] = map[string]any{"attributes": map[string]any{"creationDate": t.UTC().Format(time.RFC3339), "mfaAuthenticated": "true"}}
	for i := range 25 + g.rng.IntN(30) {
		t = t.Add(2*time.Second + g.jitter(20*time.Second))
		o := inventory[g.rng.IntN(8)] // the EC2 console's pages
		ua := uaEC2Console
		if i%3 == 0 {
			ua = uaEC2Front
		}
		a := &actor{ident: session, account: account, ip: ip, ua: ua, console: i%4 == 0}
		g.emit(PatternRootConsole, t, g.rec(t, a, o.source, o.name, true, o.params(g, account), nil))
	}
}
