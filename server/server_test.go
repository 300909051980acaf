package server_test

import (
	"context"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

// switchStore is the embedded store with an outage switch.
type switchStore struct {
	state.Store
	down        atomic.Bool
	failedExecs atomic.Int64 // batches refused while down
}

func (s *switchStore) isDown() bool { return s.down.Load() }

func (s *switchStore) Exec(ctx context.Context, b *state.Batch) error {
	if s.isDown() {
		s.failedExecs.Add(1)
		b.FailAll(state.ErrUnavailable)
		return state.ErrUnavailable
	}
	return s.Store.Exec(ctx, b)
}

func (s *switchStore) Ping(ctx context.Context) error {
	if s.isDown() {
		return state.ErrUnavailable
	}
	return nil
}

type fixture struct {
	conn   *grpc.ClientConn
	client iamsentryv1.DetectionServiceClient
	health healthpb.HealthClient
	store  *switchStore
	stop   func()
}

func start(t *testing.T, opts server.Options) *fixture {
	t.Helper()
	return startWith(t, opts, false)
}

// startWith starts a server whose store is down from the start when down.
func startWith(t *testing.T, opts server.Options, down bool) *fixture {
	t.Helper()
	mem := memory.New()
	store := &switchStore{Store: mem}
	store.down.Store(down)
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		t.Fatal(err)
	}
	opts.ReadyInterval = 20 * time.Millisecond
	srv := server.New(engine.New(reg, store, engine.Options{}), opts)
	lis := bufconn.Listen(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{conn: conn, client: iamsentryv1.NewDetectionServiceClient(conn), health: healthpb.NewHealthClient(conn), store: store}
	var stopped bool
	f.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve returned %v after shutdown, want nil", err)
		}
		conn.Close()
		mem.Close()
	}
	t.Cleanup(f.stop)
	return f
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonEvent(b []byte) *iamsentryv1.Event {
	return &iamsentryv1.Event{Record: &iamsentryv1.Event_Json{Json: b}}
}

func TestScoreBatchRealRecords(t *testing.T) {
	f := start(t, server.Options{})
	resp, err := f.client.ScoreBatch(context.Background(), &iamsentryv1.ScoreBatchRequest{Events: []*iamsentryv1.Event{
		jsonEvent(readFile(t, "attach_admin_user_policy.json")),
		jsonEvent(readFile(t, "get_caller_identity.json")),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Verdicts) != 2 {
		t.Fatalf("%d verdicts for 2 events", len(resp.Verdicts))
	}
	attach, gci := resp.Verdicts[0], resp.Verdicts[1]
	if attach.Outcome != iamsentryv1.Outcome_OUTCOME_ALERT || len(attach.Findings) != 1 {
		t.Fatalf("AttachUserPolicy(AdministratorAccess): %v with %d findings, want ALERT with 1", attach.Outcome, len(attach.Findings))
	}
	fd := attach.Findings[0]
	if fd.DetectorId != "admin-policy-attached" || fd.Severity != iamsentryv1.Severity_SEVERITY_HIGH {
		t.Errorf("finding %s/%v, want admin-policy-attached/HIGH", fd.DetectorId, fd.Severity)
	}
	if fd.PrincipalArn != "arn:aws:sts::123456789012:assumed-role/tester" || fd.AccountId != "123456789012" ||
		fd.EventName != "AttachUserPolicy" || fd.EventId != "1" || fd.SourceIp != "111.111.111.111" ||
		!fd.EventTime.AsTime().Equal(time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("finding does not carry the event's fields: %v", fd)
	}
	if fd.Evidence["target_name"] != "new-user" || fd.Evidence["target_type"] != "user" {
		t.Errorf("evidence %v lacks the target", fd.Evidence)
	}
	if attach.Severity != iamsentryv1.Severity_SEVERITY_HIGH || attach.Score != fd.Score {
		t.Errorf("verdict severity/score %v/%d must reflect its strongest finding", attach.Severity, attach.Score)
	}
	if !quietButTooling(gci) || gci.EventId != "e544d47e-6d75-45cf-a8a9-7e90d5f7d38d" {
		t.Errorf("GetCallerIdentity: %v %q, want CLEAN but for offensive-tooling", gci.Outcome, gci.EventId)
	}
}

// quietButTooling reports whether v is a scored verdict with no finding
// but offensive-tooling's: get_caller_identity.json is a Stratus Red Team
// detonation record, whose user agent names the tool.
func quietButTooling(v *iamsentryv1.Verdict) bool {
	for _, f := range v.Findings {
		if f.DetectorId != builtin.OffensiveToolingID {
			return false
		}
	}
	return v.Outcome == iamsentryv1.Outcome_OUTCOME_CLEAN || v.Outcome == iamsentryv1.Outcome_OUTCOME_ALERT
}

func TestScoreBatchObjectEvent(t *testing.T) {
	f := start(t, server.Options{})
	var obj structpb.Struct
	if err := protojson.Unmarshal(readFile(t, "attach_admin_user_policy.json"), &obj); err != nil {
		t.Fatal(err)
	}
	resp, err := f.client.ScoreBatch(context.Background(), &iamsentryv1.ScoreBatchRequest{Events: []*iamsentryv1.Event{
		{Record: &iamsentryv1.Event_Object{Object: &obj}},
		{},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if v := resp.Verdicts[0]; v.Outcome != iamsentryv1.Outcome_OUTCOME_ALERT {
		t.Errorf("record as a JSON object: %v (%s), want ALERT", v.Outcome, v.Reason)
	}
	if v := resp.Verdicts[1]; v.Outcome != iamsentryv1.Outcome_OUTCOME_INVALID || !strings.Contains(v.Reason, "carries no record") {
		t.Errorf("empty event: %v %q, want INVALID saying it carries no record", v.Outcome, v.Reason)
	}
}

func TestScoreStreamSurvivesBadRecord(t *testing.T) {
	f := start(t, server.Options{})
	stream, err := f.client.Score(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	send := func(seq uint64, events ...*iamsentryv1.Event) {
		t.Helper()
		if err := stream.Send(&iamsentryv1.ScoreRequest{Sequence: seq, Events: events}); err != nil {
			t.Fatalf("send %d: %v", seq, err)
		}
	}
	send(1, jsonEvent([]byte(`{"not json"`)), jsonEvent(readFile(t, "attach_admin_user_policy.json")))
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("stream ended after a bad record: %v", err)
	}
	if resp.Sequence != 1 || len(resp.Verdicts) != 2 {
		t.Fatalf("response %d with %d verdicts, want sequence 1 with 2", resp.Sequence, len(resp.Verdicts))
	}
	if v := resp.Verdicts[0]; v.Outcome != iamsentryv1.Outcome_OUTCOME_INVALID || !strings.Contains(v.Reason, "not JSON") {
		t.Errorf("bad record: %v %q, want INVALID with a reason", v.Outcome, v.Reason)
	}
	if v := resp.Verdicts[1]; v.Outcome != iamsentryv1.Outcome_OUTCOME_ALERT {
		t.Errorf("valid record after the bad one: %v, want ALERT", v.Outcome)
	}
	send(2, jsonEvent(readFile(t, "get_caller_identity.json")))
	if resp, err = stream.Recv(); err != nil || !quietButTooling(resp.Verdicts[0]) {
		t.Fatalf("next request: %v, %v; want CLEAN (but for offensive-tooling) on an open stream", resp, err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err == nil {
		t.Errorf("stream must end after the client half-closes")
	}
}

func TestScoreStreamManyInFlightInOrder(t *testing.T) {
	f := start(t, server.Options{BatchSize: 7})
	stream, err := f.client.Score(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	go func() {
		for i := range n {
			ev := jsonEvent([]byte(`{"eventID":"e` + string(rune('a'+i%26)) + `","eventName":"ListBuckets","eventSource":"s3.amazonaws.com","eventTime":"2024-08-01T13:00:00Z"}`))
			if i%5 == 0 {
				ev = jsonEvent([]byte("nope"))
			}
			if err := stream.Send(&iamsentryv1.ScoreRequest{Sequence: uint64(i), Events: []*iamsentryv1.Event{ev, ev}}); err != nil {
				t.Errorf("send: %v", err)
				return
			}
		}
		stream.CloseSend()
	}()
	for i := range n {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("recv %d: %v", i, err)
		}
		if resp.Sequence != uint64(i) || len(resp.Verdicts) != 2 {
			t.Fatalf("response %d: sequence %d with %d verdicts; responses must come in request order, one verdict per event", i, resp.Sequence, len(resp.Verdicts))
		}
		wantInvalid := i%5 == 0
		if got := resp.Verdicts[0].Outcome == iamsentryv1.Outcome_OUTCOME_INVALID; got != wantInvalid {
			t.Fatalf("response %d: verdict %v does not belong to its request", i, resp.Verdicts[0].Outcome)
		}
	}
}

func TestLimits(t *testing.T) {
	f := start(t, server.Options{MaxEventsPerRequest: 3, MaxRecvMsgSize: 4096})
	four := make([]*iamsentryv1.Event, 4)
	for i := range four {
		four[i] = jsonEvent([]byte(`{}`))
	}
	_, err := f.client.ScoreBatch(context.Background(), &iamsentryv1.ScoreBatchRequest{Events: four})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "limit is 3 events per request") {
		t.Errorf("4 events over a limit of 3: %v; want InvalidArgument naming the limit", err)
	}
	big := jsonEvent([]byte(`{"x":"` + strings.Repeat("a", 5000) + `"}`))
	_, err = f.client.ScoreBatch(context.Background(), &iamsentryv1.ScoreBatchRequest{Events: []*iamsentryv1.Event{big}})
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "larger than max") {
		t.Errorf("message over 4096 bytes: %v; want ResourceExhausted naming the size limit", err)
	}
	stream, err := f.client.Score(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	stream.Send(&iamsentryv1.ScoreRequest{Events: four})
	if _, err := stream.Recv(); status.Code(err) != codes.InvalidArgument {
		t.Errorf("stream request over the event limit: %v, want InvalidArgument", err)
	}
}

func TestRecordSizeLimit(t *testing.T) {
	f := start(t, server.Options{})
	huge := []byte(`{"eventID":"1","eventName":"x","eventSource":"y","eventTime":"2024-01-01T00:00:00Z","pad":"` + strings.Repeat("a", 300<<10) + `"}`)
	resp, err := f.client.ScoreBatch(context.Background(), &iamsentryv1.ScoreBatchRequest{Events: []*iamsentryv1.Event{jsonEvent(huge)}})
	if err != nil {
		t.Fatal(err)
	}
	if v := resp.Verdicts[0]; v.Outcome != iamsentryv1.Outcome_OUTCOME_INVALID || !strings.Contains(v.Reason, "limit") {
		t.Errorf("record over 256 KiB: %v %q, want INVALID naming the limit", v.Outcome, v.Reason)
	}
}

func TestListDetectors(t *testing.T) {
	f := start(t, server.Options{})
	resp, err := f.client.ListDetectors(context.Background(), &iamsentryv1.ListDetectorsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, d := range resp.Detectors {
		if d.Id == "admin-policy-attached" {
			found = true
			if !d.Enabled || d.Severity != iamsentryv1.Severity_SEVERITY_HIGH || len(d.Techniques) == 0 || d.Title == "" {
				t.Errorf("admin-policy-attached listed as %v", d)
			}
		}
	}
	if !found {
		t.Errorf("admin-policy-attached not listed: %v", resp.Detectors)
	}
}

func waitHealth(t *testing.T, f *fixture, service string, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := f.health.Check(context.Background(), &healthpb.HealthCheckRequest{Service: service})
		if err == nil && resp.Status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("health of %q: %v, %v; want %v", service, resp, err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestHealthFollowsStore(t *testing.T) {
	f := start(t, server.Options{})
	waitHealth(t, f, "", healthpb.HealthCheckResponse_SERVING)
	waitHealth(t, f, server.ServiceName, healthpb.HealthCheckResponse_SERVING)
	f.store.down.Store(true)
	waitHealth(t, f, server.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
	_, err := f.client.ScoreBatch(context.Background(), &iamsentryv1.ScoreBatchRequest{Events: []*iamsentryv1.Event{
		jsonEvent(readFile(t, "get_caller_identity.json"))}})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("scoring during a store outage: %v, want Unavailable", err)
	}
	if strings.Contains(err.Error(), "state: backend") {
		t.Errorf("internal error text leaked to the caller: %v", err)
	}
}

func TestHealthNotServingUntilReady(t *testing.T) {
	f := startWith(t, server.Options{}, true) // the store does not answer yet
	for range 5 {
		resp, err := f.health.Check(context.Background(), &healthpb.HealthCheckRequest{Service: server.ServiceName})
		if err != nil || resp.Status != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Fatalf("health before the store answered: %v, %v; want NOT_SERVING", resp, err)
		}
		time.Sleep(20 * time.Millisecond) // several readiness checks
	}
	f.store.down.Store(false)
	waitHealth(t, f, server.ServiceName, healthpb.HealthCheckResponse_SERVING)
}

func TestGracefulShutdown(t *testing.T) {
	f := start(t, server.Options{GracePeriod: time.Second})
	waitHealth(t, f, "", healthpb.HealthCheckResponse_SERVING)
	watch, err := f.health.Watch(context.Background(), &healthpb.HealthCheckRequest{Service: server.ServiceName})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := watch.Recv(); err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("watch: %v, %v; want SERVING", resp, err)
	}
	stopped := make(chan struct{})
	go func() { f.stop(); close(stopped) }()
	// Health turns NOT_SERVING before the server stops accepting work, so a
	// balancer drains the replica first.
	if resp, err := watch.Recv(); err != nil || resp.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("watch during shutdown: %v, %v; want NOT_SERVING", resp, err)
	}
	// The open watch stream holds GracefulStop until the grace period cuts it.
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown did not finish after the grace period")
	}
	if _, err := watch.Recv(); err == nil {
		t.Errorf("stream still open after shutdown")
	}
}

// TestLearnRequests checks that learning requests raise nothing but teach
// state, on both RPCs, and that a stream mixing learning and scoring
// requests keeps them apart.
func TestLearnRequests(t *testing.T) {
	f := start(t, server.Options{})
	ctx := context.Background()
	// Generated records: a role created, then made admin ten minutes later.
	create := []byte(`{"eventVersion":"1.09","eventID":"learn-create","eventTime":"2024-08-01T13:00:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateRole","recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"},"requestParameters":{"roleName":"learned"}}`)
	attach := func(id string) []byte {
		return []byte(`{"eventVersion":"1.09","eventID":"` + id + `","eventTime":"2024-08-01T13:10:00Z","eventSource":"iam.amazonaws.com","eventName":"AttachRolePolicy","recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"},"requestParameters":{"roleName":"learned","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}}`)
	}
	resp, err := f.client.ScoreBatch(ctx, &iamsentryv1.ScoreBatchRequest{Learn: true, Events: []*iamsentryv1.Event{jsonEvent(create), jsonEvent(attach("learn-a1"))}})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range resp.GetVerdicts() {
		if v.GetOutcome() != iamsentryv1.Outcome_OUTCOME_CLEAN || len(v.GetFindings()) != 0 {
			t.Errorf("learning verdict %d: %v with %d findings", i, v.GetOutcome(), len(v.GetFindings()))
		}
	}
	stream, err := f.client.Score(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A learning request and a scoring request back to back on one stream.
	if err := stream.Send(&iamsentryv1.ScoreRequest{Sequence: 1, Learn: true, Events: []*iamsentryv1.Event{jsonEvent(attach("learn-a2"))}}); err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&iamsentryv1.ScoreRequest{Sequence: 2, Events: []*iamsentryv1.Event{jsonEvent(attach("learn-a3"))}}); err != nil {
		t.Fatal(err)
	}
	want := []iamsentryv1.Outcome{iamsentryv1.Outcome_OUTCOME_CLEAN, iamsentryv1.Outcome_OUTCOME_ALERT}
	for i, w := range want {
		r, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		v := r.GetVerdicts()[0]
		if r.GetSequence() != uint64(i+1) || v.GetOutcome() != w {
			t.Fatalf("response %d: sequence %d outcome %v, want %d %v", i, r.GetSequence(), v.GetOutcome(), i+1, w)
		}
		if w == iamsentryv1.Outcome_OUTCOME_ALERT && v.GetSeverity() != iamsentryv1.Severity_SEVERITY_CRITICAL {
			t.Errorf("the scored attachment is %v; the learned creation should make it CRITICAL", v.GetSeverity())
		}
	}
	stream.CloseSend()
}

// TestInvalidVerdictCarriesReasonCode: a rejected record's verdict carries
// the parser's stable code and field beside the message, so callers group
// rejections without parsing messages; an event that is no record at all
// carries a message only.
func TestInvalidVerdictCarriesReasonCode(t *testing.T) {
	f := start(t, server.Options{})
	resp, err := f.client.ScoreBatch(context.Background(), &iamsentryv1.ScoreBatchRequest{Events: []*iamsentryv1.Event{
		jsonEvent([]byte(`{"not json"`)),
		jsonEvent([]byte(`{"eventVersion":"1.08","eventID":"e1","eventName":"ListUsers","eventSource":"iam.amazonaws.com","eventTime":"yesterday","recipientAccountId":"111122223333"}`)),
		{},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct{ code, field string }{{"not_json", ""}, {"bad_event_time", "eventTime"}, {"", ""}} {
		v := resp.Verdicts[i]
		if v.Outcome != iamsentryv1.Outcome_OUTCOME_INVALID || v.Reason == "" {
			t.Errorf("event %d: %v %q, want INVALID with a reason", i, v.Outcome, v.Reason)
		}
		if v.ReasonCode != want.code || v.ReasonField != want.field {
			t.Errorf("event %d: reason_code %q, reason_field %q; want %q, %q (reason %q)", i, v.ReasonCode, v.ReasonField, want.code, want.field, v.Reason)
		}
	}
}
