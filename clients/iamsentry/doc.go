// Package iamsentry is the Go client of the iamsentry detection service: it
// streams CloudTrail records to one or many replicas and hands back one
// verdict per record, surviving restarts, rolling deploys and load-balancer
// rebalancing on the way.
//
// # Use
//
// Dial once per process and share the Client; it is safe for concurrent use.
//
//	c, err := iamsentry.Dial("dns:///iamsentry.soc.svc.cluster.local:50051",
//		iamsentry.WithTLS(iamsentry.TLS{CAFile: "/etc/iamsentry/ca.pem"}),
//		iamsentry.WithTokenFile("/var/run/secrets/iamsentry/token"))
//	...
//	verdicts, err := c.Score(ctx, records) // one call, one verdict per record
//
// For a long-running feed, open a Stream, Send records with a tag of your
// own, and read the Results channel in another goroutine; Close drains.
//
// # Delivery semantics
//
// Every record a Send accepted (Send returned nil) gets exactly one Result
// on the Results channel, in Send order, across all the gRPC streams the
// Stream spreads over. A Result carries either the server's Verdict or an
// Err saying why the record will get none; there is no third outcome and no
// record is delivered twice to the caller.
//
// Records are sent in batches (one ScoreRequest each; WithBatch and
// WithMaxBatchBytes bound them, WithLinger bounds how long a partial batch
// waits). At most WithWindow requests are in flight on each gRPC stream, and
// at most WithWindow×WithStreams batches are held between Send and the
// Results channel, so a consumer that stops reading stops Send (backpressure)
// instead of growing memory.
//
// The server answers a request only after its records were scored and
// recorded. When a stream breaks before a request is answered — UNAVAILABLE
// (a state store outage, a replica shutting down), a GOAWAY, a lost
// connection, or the stream ending with requests outstanding — the client
// opens a new stream (on the next replica, with round_robin), with
// exponential backoff and jitter, and resends every unanswered request in
// order. That is safe: the server deduplicates event ids, so a record that
// was scored before the break comes back as OUTCOME_DUPLICATE carrying its
// original findings, and no window or baseline counts it twice. Scoring is
// exactly once; delivery to the server is at least once.
//
// Errors that retrying cannot fix are never retried:
//
//   - INVALID_ARGUMENT, RESOURCE_EXHAUSTED (a message over the server's
//     limit), FAILED_PRECONDITION and OUT_OF_RANGE concern one request: its
//     records get a Result whose Err is a *RequestError, and the stream goes
//     on with the next request.
//   - UNAUTHENTICATED, PERMISSION_DENIED, UNIMPLEMENTED, INTERNAL and other
//     codes end the Stream: every record not yet answered gets a Result with
//     the error, and Send returns it from then on.
//
// Retrying continues until the Stream's context is done, or, with
// WithGiveUpAfter, until the service made no progress for that long; the
// records still unanswered then get a Result with the error. A malformed
// record is not an error at all: it gets an OUTCOME_INVALID verdict.
//
// # Watching findings and attack stories
//
// Watch tails what every replica raises from now on: findings, attack story
// updates (a story is sent when it is created and each time its severity,
// stages or identities change, once per change), or both, as the
// WatchRequest's Content says (the zero value is findings only). A story
// update follows the findings that changed it.
//
//	w, err := c.Watch(ctx, &iamsentry.WatchRequest{Content: iamsentry.WatchStories})
//	...
//	defer w.Close()
//	for {
//		u, err := w.Recv()
//		if err != nil {
//			return err
//		}
//		stories[u.Story.GetId()] = u.Story // the latest version wins
//	}
//
// Watch is a live tail, not a queue: when the server ends the call (its
// maximum connection age, a shutdown) Recv reopens it with backoff and
// marks the first update after the gap Resumed. Verdicts carry the same
// story updates (Verdict.Stories), for callers that want the stories of the
// records they sent.
//
// # Load balancing
//
// The default service config selects the round_robin policy, so a "dns:///"
// target that resolves to several addresses — a headless Kubernetes Service
// (clusterIP: None) lists one A record per ready pod — gets a connection to
// every replica, and each gRPC stream of a Stream (WithStreams) and each
// reconnect picks the next one. Behind a ClusterIP Service or an L4 load
// balancer there is one address and one connection: use several Streams and
// rely on the server's maximum connection age to rebalance.
//
// # Security
//
// Connections are plaintext unless WithTLS or WithTLSConfig is given. A
// bearer token (WithToken, WithTokenFile) travels as per-RPC credentials and
// Dial refuses to send one over plaintext unless WithTokenOverPlaintext says
// so (for tests). Telemetry uses the otelgrpc client stats handler with the
// global OpenTelemetry providers unless WithoutTelemetry is given.
package iamsentry
