package sqssource_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/cli"
	"github.com/iamsentry/iamsentry/internal/sqssource"
	"github.com/iamsentry/iamsentry/internal/sqssource/sqstest"
	"github.com/iamsentry/iamsentry/internal/trail"
	"github.com/iamsentry/iamsentry/internal/trail/trailtest"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/state"
)

const bucket = "org-trail"

// world is an S3 server holding a trail and an SQS server.
type world struct {
	s3      *s3.Client
	sqs     *sqs.Client
	objects map[string][]byte // the trail, as put in S3
	// Endpoints of the S3 and SQS servers.
	s3Endpoint, sqsEndpoint string
	keys                    []string // its record objects, in key order
}

func newWorld(t *testing.T, objects map[string][]byte) *world {
	t.Helper()
	s3srv := trailtest.Start(t)
	s3srv.Put(t, bucket, objects)
	sqssrv := sqstest.Start(t)
	ctx := context.Background()
	s3c, err := trail.NewClient(ctx, trail.ClientOptions{Endpoint: s3srv.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	sqsc, err := sqssource.NewClient(ctx, sqssource.Queue{}, sqssource.ClientOptions{Endpoint: sqssrv.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{s3: s3c, sqs: sqsc, objects: objects, s3Endpoint: s3srv.Endpoint, sqsEndpoint: sqssrv.Endpoint}
	for k := range objects {
		if trail.IsRecordObject(k) {
			w.keys = append(w.keys, k)
		}
	}
	slices.Sort(w.keys)
	return w
}

// queueName is a queue name of the test's own (goaws's queues are shared
// by the process).
func queueName(t *testing.T, suffix string) string {
	return strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()) + "-" + fmt.Sprint(queueSeq.Add(1)) + "-" + suffix
}

var queueSeq atomic.Int64

// newQueue creates a queue with a visibility timeout and, when maxReceives
// is not 0, a dead-letter queue it returns too.
func (w *world) newQueue(t *testing.T, visibility, maxReceives int) (queueURL, dlqURL string) {
	t.Helper()
	ctx := context.Background()
	attrs := map[string]string{"VisibilityTimeout": fmt.Sprint(visibility)}
	if maxReceives > 0 {
		dlq := queueName(t, "dlq")
		out, err := w.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &dlq})
		if err != nil {
			t.Fatal(err)
		}
		dlqURL = aws.ToString(out.QueueUrl)
		attrs["RedrivePolicy"] = fmt.Sprintf(`{"maxReceiveCount":"%d","deadLetterTargetArn":"%s"}`, maxReceives, sqstest.ARN(dlq))
	}
	name := queueName(t, "q")
	out, err := w.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &name, Attributes: attrs})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.QueueUrl), dlqURL
}

func (w *world) send(t *testing.T, queueURL, body string) {
	t.Helper()
	if _, err := w.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &queueURL, MessageBody: &body}); err != nil {
		t.Fatal(err)
	}
}

// depth is the number of messages in a queue, visible or in flight.
func (w *world) depth(t *testing.T, queueURL string) int {
	t.Helper()
	out, err := w.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: &queueURL, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages},
	})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	fmt.Sscan(out.Attributes["ApproximateNumberOfMessages"], &n)
	return n
}

// s3Event is an S3 event notification of one created object, its key
// URL-encoded as S3 writes it.
func s3Event(key string) string {
	enc := strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")
	return fmt.Sprintf(`{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2026-11-29T01:00:00.000Z","eventName":"ObjectCreated:Put","s3":{"s3SchemaVersion":"1.0","bucket":{"name":%q,"arn":"arn:aws:s3:::%s"},"object":{"key":%q,"size":0}}}]}`, bucket, bucket, enc)
}

func snsWrapped(message string) string {
	b, _ := json.Marshal(map[string]string{"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:111122223333:trail", "Subject": "Amazon S3 Notification", "Message": message})
	return string(b)
}

func eventBridge(key string) string {
	return fmt.Sprintf(`{"version":"0","id":"17793124-05d4-b198-2fde-7ededc63b103","detail-type":"Object Created","source":"aws.s3","account":"111122223333","time":"2026-11-29T01:00:00Z","region":"us-east-1","resources":["arn:aws:s3:::%s"],"detail":{"version":"0","bucket":{"name":%q},"object":{"key":%q,"size":0},"reason":"PutObject"}}`, bucket, bucket, key)
}

const testEvent = `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-29T01:00:00.000Z","Bucket":"org-trail","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}`

// replica is one iamsentry server (the scoring path of serve) on a store,
// with the verdicts it gave the source, and a switch that kills it: after
// the kill, nothing of it reaches SQS or the engine again.
type replica struct {
	srv *server.Server
	// killWhen, asked before each ScoreRecords call, says whether the
	// replica dies once that call's records are scored.
	killWhen func() bool

	mu       sync.Mutex
	calls    int
	verdicts []engine.Verdict
	killed   chan struct{}
}

func newReplica(t *testing.T, store state.Store) *replica {
	t.Helper()
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(engine.New(reg, store, engine.Options{}), server.Options{GracePeriod: 100 * time.Millisecond})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-done })
	return &replica{srv: srv, killed: make(chan struct{})}
}

var errKilled = fmt.Errorf("replica killed")

func (r *replica) ScoreRecords(ctx context.Context, tenant string, records [][]byte) ([]engine.Verdict, error) {
	r.mu.Lock()
	if r.isKilled() {
		r.mu.Unlock()
		<-ctx.Done() // a dead process answers nothing
		return nil, errKilled
	}
	r.calls++
	kill := r.killWhen != nil && r.killWhen()
	r.mu.Unlock()
	vs, err := r.srv.ScoreRecords(ctx, tenant, records)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		r.verdicts = append(r.verdicts, vs...)
	}
	if kill {
		close(r.killed)
		return nil, errKilled
	}
	return vs, err
}

func (r *replica) isKilled() bool {
	select {
	case <-r.killed:
		return true
	default:
		return false
	}
}

// counts are a replica's verdicts by outcome.
func (r *replica) counts() map[engine.Outcome]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[engine.Outcome]int{}
	for _, v := range r.verdicts {
		out[v.Outcome]++
	}
	return out
}

// findings are the findings first raised on the replica, one JSON line
// each, as scan writes them.
func (r *replica) findings(t *testing.T) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, v := range r.verdicts {
		if v.Outcome != engine.OutcomeAlert && v.Outcome != engine.OutcomeSuppressed {
			continue
		}
		for i := range v.Findings {
			b, err := json.Marshal(&v.Findings[i])
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(b))
		}
	}
	return out
}

// killableSQS is the SQS API of a replica that can be killed: after the
// kill every call fails, as a dead process makes none.
type killableSQS struct {
	sqssource.API
	r *replica
}

func (k killableSQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, o ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	if k.r.isKilled() {
		<-ctx.Done()
		return nil, errKilled
	}
	return k.API.ReceiveMessage(ctx, in, o...)
}

func (k killableSQS) DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, o ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	if k.r.isKilled() {
		return nil, errKilled
	}
	return k.API.DeleteMessage(ctx, in, o...)
}

func (k killableSQS) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, o ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	if k.r.isKilled() {
		return nil, errKilled
	}
	return k.API.ChangeMessageVisibility(ctx, in, o...)
}

// run starts a consumer of queueURL for the replica until the test ends.
func (w *world) run(t *testing.T, r *replica, queueURL string, opts sqssource.Options) *sqssource.Consumer {
	t.Helper()
	opts.QueueURL = queueURL
	if opts.WaitTime == 0 {
		opts.WaitTime = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	c := sqssource.New(killableSQS{API: w.sqs, r: r}, w.s3, r, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consumer: %v", err)
		}
	})
	return c
}

// waitFor polls cond until it holds; the bound is generous, never a
// measure of speed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scanFindings runs `iamsentry scan` over a tree on disk and returns its
// findings, one JSON line each, sorted.
func scanFindings(t *testing.T, dir string) []string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := cli.Main(context.Background(), []string{"scan", dir}, cli.Stdio{In: strings.NewReader(""), Out: &out, Err: &errb}); code != cli.ExitOK {
		t.Fatalf("scan: exit %d\n%s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	sort.Strings(lines)
	return lines
}

var eventIDField = regexp.MustCompile(`("eventID"\s*:\s*")([^"]*)"`)

// uniqueTrail is trailtest's organisation trail with every event id made
// unique to its delivery file. The repository's test files reuse ids
// ("1") across files; CloudTrail's are unique, and with reused ids which
// record scores first (and which are DUPLICATE) depends on the order the
// files are read in, which replicas sharing a queue do not keep.
func uniqueTrail(t *testing.T) map[string][]byte {
	t.Helper()
	objects, keys := trailtest.OrgTrail(t)
	for i, k := range keys {
		zr, err := gzip.NewReader(bytes.NewReader(objects[k]))
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		data = eventIDField.ReplaceAll(data, []byte(fmt.Sprintf(`${1}${2}-f%02d"`, i)))
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(data)
		zw.Close()
		objects[k] = b.Bytes()
	}
	return objects
}

// incidents projects finding lines (JSON) onto what stays the same
// whatever order records are scored in: detector, incident and severity.
func incidents(t *testing.T, lines []string) []string {
	t.Helper()
	var out []string
	for _, l := range lines {
		var f struct {
			Detector string `json:"detector_id"`
			Incident string `json:"incident"`
			Severity string `json:"severity"`
		}
		if err := json.Unmarshal([]byte(l), &f); err != nil {
			t.Fatalf("finding line %q: %v", l, err)
		}
		out = append(out, f.Detector+" "+f.Incident+" "+f.Severity)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// testLog writes a consumer's log to the test's.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

var waitBound = 2 * time.Minute
