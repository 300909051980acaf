package server

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/server/auth"
	"github.com/iamsentry/iamsentry/server/findings"
)

// ingester scores the batches of shippers that cannot read verdicts (OTLP
// exporters, Vector). Their batches are bounded by IngestMaxRecvMsgSize,
// not by MaxEventsPerRequest: a shipper cannot split a batch on the
// server's demand, and refusing it would lose it (OTLP treats
// INVALID_ARGUMENT as permanent) or retry it forever (Vector). The records
// are scored in chunks of MaxEventsPerRequest, one after another, so each
// engine call stays the size of an ordinary request.
type ingester struct {
	metrics  serverMetrics
	batcher  *batcher
	out      *findings.Dispatcher
	chunk    int
	log      *slog.Logger
	rejected metric.Int64Counter
}

func (s *Server) ingest() *ingester {
	c, _ := s.opts.MeterProvider.Meter("github.com/iamsentry/iamsentry/server").Int64Counter("iamsentry.ingest.rejected",
		metric.WithUnit("{record}"),
		metric.WithDescription("Records from OTLP or Vector that could not be scored (malformed, not CloudTrail), by ingest path."))
	return &ingester{metrics: s.metrics, batcher: s.batcher, out: s.out, chunk: s.opts.MaxEventsPerRequest, log: s.opts.Logger, rejected: c}
}

// candidate is one shipped record: its CloudTrail JSON, or why it has none.
type candidate struct {
	json []byte
	err  error
}

// rejections summarises the records of one call that could not be scored.
// reasons holds the parser's messages, which may quote a record's values:
// they go back to the caller that sent the record (OTLP partial_success)
// and never into the log. codes holds the stable reason codes, for the log.
type rejections struct {
	total   int
	count   int
	bytes   int
	reasons map[string]int
	codes   map[string]int
}

func (r *rejections) add(reason, code string, size int) {
	if r.reasons == nil {
		r.reasons, r.codes = map[string]int{}, map[string]int{}
	}
	r.count++
	r.bytes += size
	r.reasons[reason]++
	r.codes[code]++
}

// logAttrs describe the rejections for the log with counts, reason codes
// and sizes only: a log must not keep what untrusted records hold.
func (r *rejections) logAttrs() []any {
	codes := slices.Sorted(maps.Keys(r.codes))
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = fmt.Sprintf("%s=%d", c, r.codes[c])
	}
	return []any{slog.Int("rejected", r.count), slog.Int("records", r.total),
		slog.Int("rejected_bytes", r.bytes), slog.String("reasons", strings.Join(parts, " "))}
}

// maxReasons bounds the distinct reasons a summary lists.
const maxReasons = 5

// String summarises the rejections, commonest reason first, for an OTLP
// partial_success message and the log.
func (r *rejections) String() string {
	keys := make([]string, 0, len(r.reasons))
	for k := range r.reasons {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if d := r.reasons[b] - r.reasons[a]; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for i, k := range keys {
		if i == maxReasons {
			parts = append(parts, fmt.Sprintf("and %d other reasons", len(keys)-i))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%d)", k, r.reasons[k]))
	}
	return fmt.Sprintf("%d of %d records rejected: %s", r.count, r.total, strings.Join(parts, "; "))
}

// score scores the candidates of one call from the named ingest path. The
// error is the gRPC status of a call that must fail as a whole (the state
// store is down: nothing after the failed chunk was scored, and a retry is
// safe because scoring is effectively once). Invalid records never fail the
// call: they are counted, logged, returned in the summary and sent to the
// sinks.
func (in *ingester) score(ctx context.Context, path string, cands []candidate) (*rejections, error) {
	tenant := auth.Tenant(ctx)
	in.metrics.receive(ctx, path, len(cands))
	rej := &rejections{total: len(cands)}
	var invalid []findings.Invalid
	reject := func(reason, code, eventID string, size int) {
		rej.add(reason, code, size)
		invalid = append(invalid, findings.Invalid{Ingest: path, Reason: reason, EventID: eventID})
	}
	var records [][]byte
	for _, c := range cands {
		if c.err != nil {
			in.metrics.rejectEnvelope(ctx)
			reject(c.err.Error(), reasonNoRecord, "", 0)
			continue
		}
		records = append(records, c.json)
	}
	for chunk := range slices.Chunk(records, in.chunk) {
		verdicts, err := in.batcher.score(ctx, tenant, false, chunk)
		if err != nil {
			return nil, grpcStatus(ctx, in.log, err)
		}
		for i := range verdicts {
			if v := &verdicts[i]; v.Outcome == engine.OutcomeInvalid {
				reject(v.Reason, invalidCode(v), v.EventID, len(chunk[i]))
			}
		}
	}
	if rej.count > 0 {
		in.rejected.Add(ctx, int64(rej.count), metric.WithAttributes(attribute.String("ingest", path)))
		in.log.WarnContext(ctx, "shipped records rejected", append([]any{slog.String("ingest", path)}, rej.logAttrs()...)...)
		in.out.Invalid(tenant, invalid)
	}
	return rej, nil
}

// invalidCode is the stable reason code of an INVALID verdict.
func invalidCode(v *engine.Verdict) string {
	if v.Invalid != nil {
		return string(v.Invalid.Reason)
	}
	return "invalid"
}
