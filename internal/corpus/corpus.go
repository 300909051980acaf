// Package corpus generates CloudTrail traffic for tests and load runs:
// many identities doing ordinary work over days, with the stateful attack
// patterns the detectors look for woven in (enumeration bursts, caller
// identity reconnaissance, keys used from new networks, admin grants to fresh
// roles, keys minted for other users, weakened policies, privileged-role
// spikes, odd session names).
//
// Everything it produces is generated, not captured, and says so: every
// record's userAgent ends in "iamsentry-corpus". Output is deterministic for
// a seed, sorted by event time, with unique event ids.
package corpus

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"time"
)

// Options shape a corpus. The zero value gives the defaults.
type Options struct {
	Seed  uint64
	Start time.Time // first day; default 2024-09-01 UTC
	Days  int       // default 10
	Users int       // IAM users with long-term keys; default 12
	// Incidents is how many attack patterns are woven in per day after the
	// first week (baselines need history first); default 3.
	Incidents int
}

// Account is the account every generated identity lives in.
const Account = "111122223333"

// Record is one generated record.
type Record struct {
	Time time.Time
	JSON []byte
}

// Generate returns the corpus, sorted by event time.
func Generate(o Options) []Record {
	if o.Start.IsZero() {
		o.Start = time.Date(2024, 9, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.Days <= 0 {
		o.Days = 10
	}
	if o.Users <= 0 {
		o.Users = 12
	}
	if o.Incidents <= 0 {
		o.Incidents = 3
	}
	g := &gen{rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)), o: o}
	for i := range o.Users {
		g.users = append(g.users, user{
			name: fmt.Sprintf("dev%02d", i),
			key:  fmt.Sprintf("AKIAGENERATED%07d", i),
			home: fmt.Sprintf("198.51.%d.%d", 100+i%3, 10+i),
		})
	}
	for day := range o.Days {
		base := o.Start.Add(time.Duration(day) * 24 * time.Hour)
		for i := range g.users {
			g.ordinaryDay(&g.users[i], base)
		}
		if day >= 7 {
			for range o.Incidents {
				g.incident(base.Add(time.Duration(9+g.rng.IntN(8)) * time.Hour))
			}
		}
	}
	slices.SortStableFunc(g.out, func(a, b Record) int { return a.Time.Compare(b.Time) })
	return g.out
}

// Shuffle reorders records as CloudTrail delivery does: each record may
// arrive up to lateness after records that happened after it, never more.
// It returns a new slice.
func Shuffle(recs []Record, lateness time.Duration, seed uint64) []Record {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	type keyed struct {
		at  time.Time
		rec Record
	}
	ks := make([]keyed, len(recs))
	for i, r := range recs {
		// Arrival = event time + a random delay in [0, lateness): two
		// records can swap only when they are less than lateness apart.
		delay := time.Duration(rng.Int64N(int64(lateness)))
		ks[i] = keyed{r.Time.Add(delay), r}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int { return a.at.Compare(b.at) })
	out := make([]Record, len(ks))
	for i, k := range ks {
		out[i] = k.rec
	}
	return out
}

type user struct {
	name, key, home string
}

type gen struct {
	rng   *rand.Rand
	o     Options
	users []user
	out   []Record
	seq   int
}

func (g *gen) id() string {
	g.seq++
	return fmt.Sprintf("6e5c0000-0000-4000-8000-%012d", g.seq)
}

// rec builds one record of u calling source/name at t from ip.
func (g *gen) rec(u *user, t time.Time, ip, source, name string, params map[string]any) map[string]any {
	r := map[string]any{
		"eventVersion":       "1.09",
		"eventID":            g.id(),
		"eventTime":          t.UTC().Format(time.RFC3339),
		"eventSource":        source,
		"eventName":          name,
		"eventType":          "AwsApiCall",
		"awsRegion":          "us-east-1",
		"sourceIPAddress":    ip,
		"userAgent":          "aws-cli/2.15.0 iamsentry-corpus",
		"recipientAccountId": Account,
		"requestParameters":  params,
		"responseElements":   nil,
		"userIdentity": map[string]any{
			"type":        "IAMUser",
			"principalId": "AIDAGENERATED" + u.name,
			"arn":         "arn:aws:iam::" + Account + ":user/" + u.name,
			"accountId":   Account,
			"accessKeyId": u.key,
			"userName":    u.name,
		},
	}
	if isRead(name) {
		r["readOnly"] = true
	} else {
		r["readOnly"] = false
	}
	return r
}

// asSession makes r a call by a session of role.
func asSession(r map[string]any, role, session, key string) map[string]any {
	r["userIdentity"] = map[string]any{
		"type":        "AssumedRole",
		"principalId": "AROAGENERATED" + role + ":" + session,
		"arn":         "arn:aws:sts::" + Account + ":assumed-role/" + role + "/" + session,
		"accountId":   Account,
		"accessKeyId": key,
		"sessionContext": map[string]any{
			"sessionIssuer": map[string]any{
				"type": "Role", "principalId": "AROAGENERATED" + role,
				"arn":       "arn:aws:iam::" + Account + ":role/" + role,
				"accountId": Account, "userName": role,
			},
		},
	}
	return r
}

func (g *gen) emit(t time.Time, r map[string]any) {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // plain maps of strings: cannot fail
	}
	g.out = append(g.out, Record{Time: t, JSON: b})
}

func isRead(name string) bool {
	for _, p := range []string{"List", "Describe", "Get", "Head", "Search"} {
		if len(name) >= len(p) && name[:len(p)] == p {
			return true
		}
	}
	return false
}

// ordinaryReads are what developers do all day, by service.
var ordinaryReads = []struct{ source, name string }{
	{"s3.amazonaws.com", "GetObject"}, {"s3.amazonaws.com", "ListObjects"},
	{"ec2.amazonaws.com", "DescribeInstances"}, {"ec2.amazonaws.com", "DescribeSecurityGroups"},
	{"lambda.amazonaws.com", "GetFunction"}, {"logs.amazonaws.com", "GetLogEvents"},
	{"dynamodb.amazonaws.com", "DescribeTable"}, {"cloudwatch.amazonaws.com", "GetMetricData"},
}

// ordinaryDay is one developer's working day: a few sessions of at most
// eight distinct reads, from home or the office, and a role assumption.
func (g *gen) ordinaryDay(u *user, day time.Time) {
	ip := u.home
	if g.rng.IntN(3) == 0 {
		ip = "192.0.2.44" // the office NAT, shared by everyone
	}
	sessions := 1 + g.rng.IntN(3)
	for s := range sessions {
		t := day.Add(time.Duration(8+s*3)*time.Hour + time.Duration(g.rng.IntN(3600))*time.Second)
		n := 3 + g.rng.IntN(6)
		for i := range n {
			op := ordinaryReads[g.rng.IntN(len(ordinaryReads))]
			at := t.Add(time.Duration(i*40+g.rng.IntN(30)) * time.Second)
			g.emit(at, g.rec(u, at, ip, op.source, op.name, map[string]any{}))
		}
	}
	// The daily role assumption, with the organisation's session naming.
	at := day.Add(9*time.Hour + time.Duration(g.rng.IntN(1800))*time.Second)
	r := g.rec(u, at, ip, "sts.amazonaws.com", "AssumeRole", map[string]any{
		"roleArn":         "arn:aws:iam::" + Account + ":role/Developer",
		"roleSessionName": u.name + "@example.com",
	})
	g.emit(at, r)
	if g.rng.IntN(4) == 0 {
		at := at.Add(2 * time.Hour)
		g.emit(at, g.rec(u, at, ip, "sts.amazonaws.com", "GetCallerIdentity", map[string]any{}))
	}
}

// incident weaves one attack pattern in at t.
func (g *gen) incident(t time.Time) {
	u := &g.users[g.rng.IntN(len(g.users))]
	switch g.rng.IntN(7) {
	case 0:
		g.enumeration(u, t)
	case 1:
		g.recon(u, t)
	case 2:
		g.newNetwork(u, t)
	case 3:
		g.freshAdmin(u, t)
	case 4:
		g.foreignKey(u, t)
	case 5:
		g.weakenedPolicy(u, t)
	case 6:
		g.adminSpike(u, t)
	}
}

var reconReads = []struct{ source, name string }{
	{"iam.amazonaws.com", "ListUsers"}, {"iam.amazonaws.com", "ListRoles"}, {"iam.amazonaws.com", "ListPolicies"},
	{"iam.amazonaws.com", "GetAccountAuthorizationDetails"}, {"iam.amazonaws.com", "ListGroups"},
	{"ec2.amazonaws.com", "DescribeInstances"}, {"ec2.amazonaws.com", "DescribeVpcs"}, {"ec2.amazonaws.com", "DescribeSnapshots"},
	{"ec2.amazonaws.com", "DescribeRegions"}, {"s3.amazonaws.com", "ListBuckets"}, {"s3.amazonaws.com", "GetBucketPolicy"},
	{"lambda.amazonaws.com", "ListFunctions20150331"}, {"rds.amazonaws.com", "DescribeDBInstances"},
	{"secretsmanager.amazonaws.com", "ListSecrets"}, {"kms.amazonaws.com", "ListKeys"},
	{"sns.amazonaws.com", "ListTopics"}, {"organizations.amazonaws.com", "DescribeOrganization"},
	{"cloudtrail.amazonaws.com", "DescribeTrails"},
}

// enumeration: a stolen key lists 18 things across many services in six
// minutes, some denied, from a network the user never used.
func (g *gen) enumeration(u *user, t time.Time) {
	ip := fmt.Sprintf("203.0.113.%d", 1+g.rng.IntN(250))
	for i, op := range reconReads {
		at := t.Add(time.Duration(i*20) * time.Second)
		r := g.rec(u, at, ip, op.source, op.name, map[string]any{})
		if i%4 == 0 {
			r["errorCode"], r["errorMessage"] = "AccessDenied", "generated denial"
		}
		g.emit(at, r)
	}
}

// recon: GetCallerIdentity, then ListBuckets and permission listing within
// two minutes.
func (g *gen) recon(u *user, t time.Time) {
	ip := fmt.Sprintf("203.0.113.%d", 1+g.rng.IntN(250))
	g.emit(t, g.rec(u, t, ip, "sts.amazonaws.com", "GetCallerIdentity", map[string]any{}))
	at := t.Add(90 * time.Second)
	g.emit(at, g.rec(u, at, ip, "s3.amazonaws.com", "ListBuckets", map[string]any{}))
	at = at.Add(20 * time.Second)
	g.emit(at, g.rec(u, at, ip, "iam.amazonaws.com", "ListAttachedUserPolicies", map[string]any{"userName": u.name}))
}

// newNetwork: the user's key used from a network never seen before.
func (g *gen) newNetwork(u *user, t time.Time) {
	ip := fmt.Sprintf("%d.%d.%d.%d", 31+g.rng.IntN(60), g.rng.IntN(250), g.rng.IntN(250), 1+g.rng.IntN(250))
	g.emit(t, g.rec(u, t, ip, "s3.amazonaws.com", "GetObject", map[string]any{"bucketName": "payroll"}))
}

// freshAdmin: a role created and given AdministratorAccess minutes later.
func (g *gen) freshAdmin(u *user, t time.Time) {
	role := fmt.Sprintf("maint-%d", g.seq)
	g.emit(t, g.rec(u, t, u.home, "iam.amazonaws.com", "CreateRole", map[string]any{
		"roleName":                 role,
		"assumeRolePolicyDocument": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + Account + `:root"},"Action":"sts:AssumeRole"}]}`,
	}))
	at := t.Add(4 * time.Minute)
	g.emit(at, g.rec(u, at, u.home, "iam.amazonaws.com", "AttachRolePolicy", map[string]any{
		"roleName": role, "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess",
	}))
}

// foreignKey: the user mints an access key for another user.
func (g *gen) foreignKey(u *user, t time.Time) {
	other := g.users[(g.rng.IntN(len(g.users)-1)+1+indexOf(g.users, u))%len(g.users)]
	r := g.rec(u, t, u.home, "iam.amazonaws.com", "CreateAccessKey", map[string]any{"userName": other.name})
	r["responseElements"] = map[string]any{"accessKey": map[string]any{
		"userName": other.name, "accessKeyId": fmt.Sprintf("AKIAMINTED%010d", g.seq), "status": "Active",
	}}
	g.emit(t, r)
}

func indexOf(us []user, u *user) int {
	for i := range us {
		if &us[i] == u {
			return i
		}
	}
	return 0
}

// weakenedPolicy: a managed policy gets a default version granting * on *,
// its document URL-encoded as CloudTrail often records it.
func (g *gen) weakenedPolicy(u *user, t time.Time) {
	arn := fmt.Sprintf("arn:aws:iam::%s:policy/app-%d", Account, g.seq)
	r := g.rec(u, t, u.home, "iam.amazonaws.com", "CreatePolicyVersion", map[string]any{
		"policyArn":      arn,
		"policyDocument": url.QueryEscape(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`),
		"setAsDefault":   true,
	})
	r["responseElements"] = map[string]any{"policyVersion": map[string]any{"versionId": "v2", "isDefaultVersion": true}}
	g.emit(t, r)
}

// adminSpike: a developer who never touches admin roles assumes one four
// times in forty minutes, with machine-looking session names.
func (g *gen) adminSpike(u *user, t time.Time) {
	for i := range 4 {
		at := t.Add(time.Duration(i*10) * time.Minute)
		g.emit(at, g.rec(u, at, u.home, "sts.amazonaws.com", "AssumeRole", map[string]any{
			"roleArn":         "arn:aws:iam::" + Account + ":role/AdminRole",
			"roleSessionName": fmt.Sprintf("x%08x", g.rng.Uint32()),
		}))
	}
}
