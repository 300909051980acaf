package server

import (
	"context"
	"fmt"
	"log/slog"
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
type rejections struct {
	total   int
	count   int
	reasons map[string]int
}

func (r *rejections) add(reason string) {
	if r.reasons == nil {
		r.reasons = map[string]int{}
	}
	r.count++
	r.reasons[reason]++
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
	reject := func(reason, eventID string) {
		rej.add(reason)
		invalid = append(invalid, findings.Invalid{Ingest: path, Reason: reason, EventID: eventID})
	}
	var records [][]byte
	for _, c := range cands {
		if c.err != nil {
			in.metrics.rejectEnvelope(ctx)
			reject(c.err.Error(), "")
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
				reject(v.Reason, v.EventID)
			}
		}
	}
	if rej.count > 0 {
		in.rejected.Add(ctx, int64(rej.count), metric.WithAttributes(attribute.String("ingest", path)))
		in.log.WarnContext(ctx, "shipped records rejected", slog.String("ingest", path), slog.String("summary", rej.String()))
		in.out.Invalid(tenant, invalid)
	}
	return rej, nil
}
