package server

import (
	"context"

	"github.com/iamsentry/iamsentry/engine"
)

// pathSQS is the path attribute of records read from S3 objects an SQS
// notification named (serve --source sqs://).
const pathSQS = "sqs"

// ScoreRecords scores CloudTrail records read in-process (a source such as
// an SQS queue of S3 notifications) for tenant, exactly as a Score call of
// that tenant would: the same micro-batches, dedupe and verdict cache (a
// record scored before is DUPLICATE with its first verdict's findings), and
// findings handed to the sinks and Watch callers once, when first raised.
// It returns one verdict per record, in order. The error is a state outage
// or the server stopping: nothing after it is known to be scored, and
// scoring the same records again is safe.
func (s *Server) ScoreRecords(ctx context.Context, tenant string, records [][]byte) ([]engine.Verdict, error) {
	s.metrics.receiveTenant(ctx, pathSQS, tenant, len(records))
	if len(records) == 0 {
		return nil, nil
	}
	return s.batcher.score(ctx, tenant, false, records)
}
