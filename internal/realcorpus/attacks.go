package realcorpus

import (
	"fmt"
	"net/url"
	"time"
)

// attack weaves the next attack of AttackKinds in at t.
func (g *gen) attack(t time.Time) {
	kind := AttackKinds[g.nattack%len(AttackKinds)]
	g.nattack++
	a := Attack{Kind: kind, At: t}
	dev := g.one(KindDeveloper)
	stolen := g.credentials(dev, t) // the developer's key, in other hands
	stolen.ip, stolen.ua = addr(netAttackRU, g.rng.Uint32()), "python-requests/2.31.0"+uaSuffix
	a.Actor = dev.Name
	emit := func(at time.Time, rec map[string]any) { a.EventIDs = append(a.EventIDs, g.emit(at, rec)) }
	switch kind {
	case "enumeration": // many services listed in minutes, some denied
		for i, o := range reconOps {
			at := t.Add(time.Duration(i*15) * time.Second)
			rec := g.call(stolen, at, o)
			if i%4 == 0 {
				rec["errorCode"], rec["errorMessage"] = "AccessDenied", "User is not authorized to perform this operation"
			}
			emit(at, rec)
		}
	case "caller-identity-recon": // whoami, then what can I reach
		emit(t, g.call(stolen, t, r("sts.amazonaws.com", "GetCallerIdentity", 1)))
		at := t.Add(45 * time.Second)
		emit(at, g.call(stolen, at, r("s3.amazonaws.com", "ListBuckets", 1)))
	case "new-network": // a person's session used from another country
		p := g.one(KindSSOPerson)
		s := g.credentials(p, t)
		s.ip = addr(netAttackBR, g.rng.Uint32())
		a.Actor = p.Name
		for i := range 3 {
			at := t.Add(time.Duration(i+1) * time.Minute)
			emit(at, g.call(s, at, r("s3.amazonaws.com", "GetObject", 1).with(object)))
		}
	case "fresh-admin": // a role created, then given AdministratorAccess
		s := g.credentials(dev, t)
		name := fmt.Sprintf("maintenance-%d", g.seq)
		emit(t, g.call(s, t, w("iam.amazonaws.com", "CreateRole", 1).with(func(*gen) map[string]any {
			return map[string]any{"roleName": name, "assumeRolePolicyDocument": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole"}]}`}
		})))
		at := t.Add(3 * time.Minute)
		emit(at, g.call(s, at, w("iam.amazonaws.com", "AttachRolePolicy", 1).with(func(*gen) map[string]any {
			return map[string]any{"roleName": name, "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}
		})))
	case "foreign-access-key": // a key minted for another user
		other := g.one(KindAutomation)
		emit(t, g.call(stolen, t, w("iam.amazonaws.com", "CreateAccessKey", 1).with(func(*gen) map[string]any {
			return map[string]any{"userName": other.Name}
		}).resp(func(g *gen) map[string]any {
			return map[string]any{"accessKey": map[string]any{"userName": other.Name, "accessKeyId": "AKIA" + g.upper(16), "status": "Active", "createDate": t.Format("Jan 2, 2006, 3:04:05 PM")}}
		})))
	case "weakened-policy": // a default version granting * on *, URL-encoded
		emit(t, g.call(stolen, t, w("iam.amazonaws.com", "CreatePolicyVersion", 1).with(func(g *gen) map[string]any {
			return map[string]any{"policyArn": policy(g)["policyArn"], "setAsDefault": true,
				"policyDocument": url.QueryEscape(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)}
		})))
	case "admin-role-spike": // an admin role assumed again and again
		for i := range 5 {
			at := t.Add(time.Duration(i*7) * time.Minute)
			emit(at, g.assumeRole(at, stolen, "OrganizationAccountAccessRole", "sts.amazonaws.com", "AssumeRole", map[string]any{
				"roleArn": roleARN("OrganizationAccountAccessRole"), "roleSessionName": fmt.Sprintf("x%08x", g.rng.Uint32()),
			}))
		}
	case "ci-token-theft": // a pipeline's role used from outside the CI network
		ci := g.one(KindCI)
		s := g.roleSession(ci, t, ci.role, "GitHubActions-"+fmt.Sprint(g.rng.IntN(1e9)))
		s.ip, s.ua = addr(netAttackRU, g.rng.Uint32()), "aws-cli/2.15.30"+uaSuffix
		a.Actor = ci.Name
		for i, o := range []op{r("sts.amazonaws.com", "GetCallerIdentity", 1), r("secretsmanager.amazonaws.com", "ListSecrets", 1), r("secretsmanager.amazonaws.com", "GetSecretValue", 1)} {
			at := t.Add(time.Duration(i*20) * time.Second)
			emit(at, g.call(s, at, o))
		}
	case "console-login-no-mfa": // an IAM user's console sign-in, no MFA, abroad
		s := g.credentials(dev, t)
		s.ip, s.ua = addr(netAttackBR, g.rng.Uint32()), consoleUA
		rec := g.consoleLogin(t, s)
		delete(rec, "sessionCredentialFromConsole")
		emit(t, rec)
	}
	g.attacks = append(g.attacks, a)
}

// one returns a random identity of kind.
func (g *gen) one(kind string) *identity {
	var of []*identity
	for i := range g.ids {
		if g.ids[i].Kind == kind {
			of = append(of, &g.ids[i])
		}
	}
	return of[g.rng.IntN(len(of))]
}

// reconOps is an attacker's first look around with a stolen key.
var reconOps = []op{
	r("iam.amazonaws.com", "ListUsers", 1), r("iam.amazonaws.com", "ListRoles", 1), r("iam.amazonaws.com", "ListPolicies", 1),
	r("iam.amazonaws.com", "GetAccountAuthorizationDetails", 1), r("iam.amazonaws.com", "ListGroups", 1),
	r("ec2.amazonaws.com", "DescribeInstances", 1), r("ec2.amazonaws.com", "DescribeVpcs", 1), r("ec2.amazonaws.com", "DescribeSnapshots", 1),
	r("ec2.amazonaws.com", "DescribeRegions", 1), r("s3.amazonaws.com", "ListBuckets", 1),
	r("lambda.amazonaws.com", "ListFunctions20150331", 1), r("rds.amazonaws.com", "DescribeDBInstances", 1),
	r("secretsmanager.amazonaws.com", "ListSecrets", 1), r("kms.amazonaws.com", "ListKeys", 1),
	r("sns.amazonaws.com", "ListTopics", 1), r("organizations.amazonaws.com", "DescribeOrganization", 1),
	r("cloudtrail.amazonaws.com", "DescribeTrails", 1), r("guardduty.amazonaws.com", "ListDetectors", 1),
}
