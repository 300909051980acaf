package redis_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/racetest"
	"github.com/iamsentry/iamsentry/internal/redistest"
)

// sizingIdentities is how many identities TestBytesPerIdentity loads.
const sizingIdentities = 2000

// sizingRecord is a read by IAM user i with its own access key from its
// own address: every one a new identity to every detector.
func sizingRecord(i, n int, name, source string) []byte {
	return fmt.Appendf(nil, `{"eventVersion":"1.08","eventID":"sz-%d-%d","eventName":%q,"eventSource":%q,`+
		`"eventTime":"2024-08-01T13:%02d:%02dZ","awsRegion":"us-east-1","recipientAccountId":"070411556318",`+
		`"sourceIPAddress":"10.%d.%d.%d","userAgent":"aws-cli/2.15.0","readOnly":true,`+
		`"userIdentity":{"type":"IAMUser","accountId":"070411556318","arn":"arn:aws:iam::070411556318:user/u%d",`+
		`"principalId":"AIDA%012d","userName":"u%d","accessKeyId":"AKIA%016d"}}`,
		i, n, name, source, n, i%60, (i>>16)&255, (i>>8)&255, i&255, i, i, i, i)
}

// sizingProfiles are what each identity sends: one record, as a flood of
// fake identities does, and a handful of reads, as a person's session does.
var sizingProfiles = []struct {
	name    string
	max     int64       // bytes per identity that docs/operate.md assumes at most
	records [][2]string // event name, event source
}{
	{"one GetCallerIdentity", 4000, [][2]string{{"GetCallerIdentity", "sts.amazonaws.com"}}},
	{"ten reads", 21000, [][2]string{
		{"GetCallerIdentity", "sts.amazonaws.com"}, {"ListBuckets", "s3.amazonaws.com"},
		{"ListUsers", "iam.amazonaws.com"}, {"ListRoles", "iam.amazonaws.com"},
		{"GetUser", "iam.amazonaws.com"}, {"ListAccessKeys", "iam.amazonaws.com"},
		{"DescribeInstances", "ec2.amazonaws.com"}, {"GetSecretValue", "secretsmanager.amazonaws.com"},
		{"ListPolicies", "iam.amazonaws.com"}, {"GetAccountAuthorizationDetails", "iam.amazonaws.com"},
	}},
}

// TestBytesPerIdentity loads identities through the engine (every built-in
// detector, the default dedupe horizon) into a real redis-server and reads
// what each costs: the growth of INFO used_memory divided by their number.
// docs/operate.md sizes maxmemory by it; the bound here keeps that rule
// true.
func TestBytesPerIdentity(t *testing.T) {
	if testing.Short() {
		t.Skip("loads thousands of identities")
	}
	racetest.SkipLong(t)
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range sizingProfiles {
		t.Run(p.name, func(t *testing.T) {
			srv := redistest.StartServer(t)
			c := srv.Client()
			eng := engine.New(reg, newStore(t, srv.URL()), engine.Options{})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			before, keysBefore := srv.UsedMemory(ctx), c.DBSize(ctx).Val()
			var batch [][]byte
			flush := func() {
				if _, err := eng.Score(ctx, engine.Batch{Tenant: "t", Records: batch}); err != nil {
					t.Fatal(err)
				}
				batch = batch[:0]
			}
			for i := range sizingIdentities {
				for n, r := range p.records {
					batch = append(batch, sizingRecord(i, n, r[0], r[1]))
				}
				if len(batch) >= 200 {
					flush()
				}
			}
			flush()
			grown, keys := srv.UsedMemory(ctx)-before, c.DBSize(ctx).Val()-keysBefore
			perIdentity := grown / sizingIdentities
			t.Logf("%s: %d bytes and %.1f keys per identity (used_memory grew %d bytes for %d identities)",
				p.name, perIdentity, float64(keys)/sizingIdentities, grown, sizingIdentities)
			if perIdentity > p.max {
				t.Errorf("%s: %d bytes per identity; docs/operate.md's sizing rule assumes at most %d", p.name, perIdentity, p.max)
			}
		})
	}
}
