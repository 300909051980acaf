package server_test

import (
	"bytes"
	stdgzip "compress/gzip"
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	collectorlogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/emptypb"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	vectorpb "github.com/iamsentry/iamsentry/gen/vector"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/server/auth"
	"github.com/iamsentry/iamsentry/state/memory"
)

// emptyMessages is n empty messages in field 1 or 2 (the repeated field of
// records), two bytes each on the wire, nested in the given outer fields:
// the cheapest request to send and, decoded, the dearest to hold.
func emptyMessages(n int, field protowire.Number, outer ...protowire.Number) []byte {
	one := protowire.AppendBytes(protowire.AppendTag(nil, field, protowire.BytesType), nil)
	b := bytes.Repeat(one, n)
	for i := len(outer) - 1; i >= 0; i-- {
		b = protowire.AppendBytes(protowire.AppendTag(nil, outer[i], protowire.BytesType), b)
	}
	return b
}

// ingestPaths are the unary calls that carry records, each with a
// request of n empty records.
func ingestPaths(n int) []struct {
	method string
	req    []byte
} {
	return []struct {
		method string
		req    []byte
	}{
		// ExportLogsServiceRequest.resource_logs(1).scope_logs(2).log_records(2)
		{collectorlogspb.LogsService_Export_FullMethodName, emptyMessages(n, 2, 1, 2)},
		// PushEventsRequest.events(1)
		{vectorpb.Vector_PushEvents_FullMethodName, emptyMessages(n, 1)},
		// ScoreBatchRequest.events(1)
		{iamsentryv1.DetectionService_ScoreBatch_FullMethodName, emptyMessages(n, 1)},
	}
}

// rawCall sends req, gzip-compressed, as the request of method.
func rawCall(c *grpc.ClientConn, method string, req []byte) error {
	return c.Invoke(context.Background(), method, req, &emptypb.Empty{}, raw, grpc.UseCompressor(gzip.Name))
}

// allocated returns the bytes the process allocated while f ran.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestUnauthenticatedAmplification: a caller without credentials sends a
// few kilobytes of gzip that decompress to 2 MiB of empty records (a
// million objects, hundreds of megabytes once decoded). The server must
// refuse it before reading it: the whole call, client included, allocates
// less than the decompressed size.
func TestUnauthenticatedAmplification(t *testing.T) {
	tokens := loadTokens(t, map[string]string{"s3cret": "acme"})
	addr := serveTCP(t, memory.New(), server.Options{Auth: &auth.Authenticator{Tokens: tokens}})
	c := conn(t, addr, nil)
	const records = 1 << 20
	for _, p := range ingestPaths(records) {
		t.Run(p.method, func(t *testing.T) {
			call := func() error { return rawCall(c, p.method, p.req) }
			call() // warm the connection and the compressor's pools
			var err error
			n := allocated(func() { err = call() })
			if status.Code(err) != codes.Unauthenticated {
				t.Fatalf("call without a token: %v, want Unauthenticated", err)
			}
			if n >= uint64(len(p.req)) {
				t.Errorf("refusing %d bytes (gzip) of %d records without a token allocated %d bytes; want less than the %d decompressed bytes",
					compressedSize(t, p.req), records, n, len(p.req))
			}
			t.Logf("%d bytes decompressed, %d gzip: refused with %d bytes allocated", len(p.req), compressedSize(t, p.req), n)
		})
	}
}

func compressedSize(t *testing.T, b []byte) int {
	var buf bytes.Buffer
	w := stdgzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Len()
}

// TestRecordCapsBeforeDecoding: an authenticated caller's request of a
// million empty records (2 MiB, a few KB of gzip) is refused on every
// unary ingest path for its record count, before it is decoded: the call
// allocates a few times its decompressed size, not the hundreds of
// megabytes a million decoded records take.
func TestRecordCapsBeforeDecoding(t *testing.T) {
	// Over deflate's best ratio: the caps alone are under test.
	addr := serveTCP(t, memory.New(), server.Options{MaxDecompressionRatio: 2000})
	c := conn(t, addr, nil)
	const records = 1 << 20
	for _, p := range ingestPaths(records) {
		t.Run(p.method, func(t *testing.T) {
			call := func() error { return rawCall(c, p.method, p.req) }
			call()
			var err error
			n := allocated(func() { err = call() })
			if code := status.Code(err); code != codes.ResourceExhausted && code != codes.InvalidArgument {
				t.Fatalf("%d records: %v, want ResourceExhausted or InvalidArgument naming the limit", records, err)
			}
			if limit := 8 * uint64(len(p.req)); n >= limit {
				t.Errorf("refusing %d records (%d bytes) allocated %d bytes; want less than %d", records, len(p.req), n, limit)
			}
			t.Logf("%v; %d bytes allocated", err, n)
		})
	}
}

// TestDecompressionRatio: a request within every count and size limit that
// decompresses at ~800 to 1 (100,000 empty records, 200 KB from a few
// hundred bytes of gzip) is refused while it is decompressed, before the
// server decodes it; one that compresses as CloudTrail does is scored.
func TestDecompressionRatio(t *testing.T) {
	addr := serveTCP(t, memory.New(), server.Options{})
	c := conn(t, addr, nil)
	for _, p := range ingestPaths(server.DefaultMaxIngestRecords) {
		t.Run(p.method, func(t *testing.T) {
			rawCall(c, p.method, p.req)
			var err error
			n := allocated(func() { err = rawCall(c, p.method, p.req) })
			if !strings.Contains(status.Convert(err).Message(), "decompresses to more than") {
				t.Errorf("%d bytes from %d of gzip: %v; want refused for its compression ratio", len(p.req), compressedSize(t, p.req), err)
			}
			if limit := 8 * uint64(len(p.req)); n >= limit {
				t.Errorf("refusing it allocated %d bytes; want less than %d, 8 times its decompressed size", n, limit)
			}
			t.Logf("%v; %d bytes allocated", err, n)
		})
	}
	// A thousand records of one user, as a shipper batches them: ~40 to 1.
	events := make([]*iamsentryv1.Event, 1000)
	for i := range events {
		events[i] = jsonEvent(fmt.Appendf(nil, `{"eventVersion":"1.08","eventID":"ratio-%d","eventTime":"2024-08-01T10:%02d:%02dZ","eventName":"ListUsers","eventSource":"iam.amazonaws.com","sourceIPAddress":"203.0.113.%d","recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"}}`, i, i/60%60, i%60, i%250))
	}
	_, err := iamsentryv1.NewDetectionServiceClient(c).ScoreBatch(context.Background(), &iamsentryv1.ScoreBatchRequest{Events: events}, grpc.UseCompressor(gzip.Name))
	if err != nil {
		t.Errorf("a batch of CloudTrail records, gzip: %v, want OK", err)
	}
}
