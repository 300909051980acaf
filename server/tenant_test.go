package server_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	collectorlogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/server/auth"
	"github.com/iamsentry/iamsentry/server/findings"
)

// A role created, then AdministratorAccess attached to it ten minutes
// later, by the same principal: CRITICAL when both reach one tenant, HIGH
// for the attachment alone.
const (
	tenantCreateRole = `{"eventVersion":"1.08","eventID":"iso-c1","eventName":"CreateRole","eventSource":"iam.amazonaws.com","eventTime":"2024-08-01T13:00:00Z","recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"},"requestParameters":{"roleName":"r"}}`
	tenantAttachRole = `{"eventVersion":"1.08","eventID":"iso-a1","eventName":"AttachRolePolicy","eventSource":"iam.amazonaws.com","eventTime":"2024-08-01T13:10:00Z","recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"},"requestParameters":{"roleName":"r","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}}`
)

// tokenReplica serves one replica with bearer tokens on a Redis store
// under prefix, with the Watch fan-out through the same Redis.
func tokenReplica(t *testing.T, url, prefix string, tokens *auth.Tokens) *grpc.ClientConn {
	t.Helper()
	store := rstore.Open(t, url, prefix)
	bus := findings.NewRedisBus(store.Client(), prefix, nil)
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(engine.New(reg, store, engine.Options{}), server.Options{
		FindingsBus: bus, Auth: &auth.Authenticator{Tokens: tokens, OpenHealth: true}})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-bus.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("Watch fan-out subscription not confirmed by Redis")
	}
	c, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestTenantIsolationOnRedis runs two replicas on one real redis-server
// with two tenants sending the same records: one tenant's records never
// change the other's verdicts, dedupe does not cross tenants, watchers see
// their own tenant's findings only, and every key carries its tenant.
func TestTenantIsolationOnRedis(t *testing.T) {
	redis := redistest.StartServer(t)
	prefix := rstore.Prefix()
	tokens := loadTokens(t, map[string]string{"token-a": "acme", "token-b": "globex"})
	c1, c2 := tokenReplica(t, redis.URL(), prefix, tokens), tokenReplica(t, redis.URL(), prefix, tokens)
	base, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	asA, asB := bearer(base, "token-a"), bearer(base, "token-b")
	a1, b2 := iamsentryv1.NewDetectionServiceClient(c1), iamsentryv1.NewDetectionServiceClient(c2)

	watchA := openWatch(t, asA, a1, &iamsentryv1.WatchRequest{})
	watchB := openWatch(t, asB, b2, &iamsentryv1.WatchRequest{})

	score := func(ctx context.Context, c iamsentryv1.DetectionServiceClient, rec string) *iamsentryv1.Verdict {
		t.Helper()
		resp, err := c.ScoreBatch(ctx, &iamsentryv1.ScoreBatchRequest{Events: []*iamsentryv1.Event{jsonEvent([]byte(rec))}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetVerdicts()[0]
	}
	// Tenant A creates the role, through OTLP (the ingest path takes the
	// tenant from the token too).
	if _, err := collectorlogspb.NewLogsServiceClient(c1).Export(asA, otlpRequest(stringBody([]byte(tenantCreateRole)))); err != nil {
		t.Fatal(err)
	}
	// Tenant B attaches the policy on the other replica: its state knows
	// of no CreateRole, so HIGH, not CRITICAL.
	vb := score(asB, b2, tenantAttachRole)
	if vb.GetOutcome() != iamsentryv1.Outcome_OUTCOME_ALERT || vb.GetFindings()[0].GetSeverity() != iamsentryv1.Severity_SEVERITY_HIGH {
		t.Fatalf("tenant B's attachment: %v %v; want ALERT HIGH (A's CreateRole must not count for B)", vb.GetOutcome(), vb.GetFindings())
	}
	if got := recvFinding(t, watchB); got.GetEventId() != "iso-a1" || got.GetSeverity() != iamsentryv1.Severity_SEVERITY_HIGH {
		t.Errorf("B's watcher got %v, want B's HIGH finding", got)
	}
	// Tenant A sends the same attachment (same event id): not a duplicate
	// of B's, and CRITICAL because A's own CreateRole came first.
	va := score(asA, a1, tenantAttachRole)
	if va.GetOutcome() != iamsentryv1.Outcome_OUTCOME_ALERT || va.GetFindings()[0].GetSeverity() != iamsentryv1.Severity_SEVERITY_CRITICAL {
		t.Fatalf("tenant A's attachment: %v %v; want ALERT CRITICAL (not DUPLICATE of B's)", va.GetOutcome(), va.GetFindings())
	}
	if got := recvFinding(t, watchA); got.GetEventId() != "iso-a1" || got.GetSeverity() != iamsentryv1.Severity_SEVERITY_CRITICAL {
		t.Errorf("A's watcher got %v, want A's CRITICAL finding first (B's must never reach it)", got)
	}
	// B's CreateRole with A's event id is B's first delivery. Arriving
	// after B's own attachment, it raises the order-free CRITICAL (a role
	// created and made admin within the span) on B's incident.
	if v := score(asB, a1, tenantCreateRole); v.GetOutcome() == iamsentryv1.Outcome_OUTCOME_DUPLICATE {
		t.Errorf("tenant B's CreateRole is DUPLICATE: dedupe crossed tenants")
	}
	if got := recvFinding(t, watchB); got.GetEventId() != "iso-c1" || got.GetSeverity() != iamsentryv1.Severity_SEVERITY_CRITICAL {
		t.Errorf("B's watcher got %v, want B's own late CreateRole raising CRITICAL", got)
	}
	// Within one tenant a redelivery still is a duplicate.
	if v := score(asB, a1, tenantAttachRole); v.GetOutcome() != iamsentryv1.Outcome_OUTCOME_DUPLICATE {
		t.Errorf("tenant B's redelivery: %v, want DUPLICATE", v.GetOutcome())
	}
	// A marker alert for B: B's watcher gets it next, so A's CRITICAL
	// never reached B.
	marker := strings.Replace(strings.Replace(tenantAttachRole, "iso-a1", "iso-marker", 1), `"roleName":"r"`, `"roleName":"m"`, 1)
	score(asB, b2, marker)
	if got := recvFinding(t, watchB); got.GetEventId() != "iso-marker" {
		t.Errorf("B's watcher got %v before B's marker: another tenant's finding leaked", got)
	}
	keys, err := redis.Client().Keys(base, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("no keys written under the prefix")
	}
	for _, k := range keys {
		rest := strings.TrimPrefix(k, prefix)
		if !strings.HasPrefix(rest, "{acme:") && !strings.HasPrefix(rest, "{globex:") {
			t.Errorf("key %q carries no authenticated tenant", k)
		}
	}
}

func recvFinding(t *testing.T, w grpc.ServerStreamingClient[iamsentryv1.WatchResponse]) *iamsentryv1.Finding {
	t.Helper()
	resp, err := w.Recv()
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	return resp.GetFinding()
}
