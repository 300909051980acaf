package engine

import (
	"context"
	"fmt"
	"slices"

	"github.com/iamsentry/iamsentry/cloudtrail"
)

// ScoreParsed is Score for a batch some of whose records were parsed as
// they were read (cloudtrail.Reader.NextInto): parsed[i], when not nil,
// is b.Records[i] parsed, and is taken as it is instead of being parsed
// again; a nil entry is parsed from b.Records[i] as Score parses it.
// parsed must be as long as b.Records. The verdicts are Score's, record
// for record: a parsed record is exactly what ParseInto makes of its raw
// bytes, and a record over the engine's MaxRecordSize is rejected as
// too large whether it was parsed or not. The engine reads the parsed
// records in place while it scores and keeps no pointer to them once
// ScoreParsed returns, so parsed may be reused then; it never writes them.
// Nor does it keep their raw values (RequestParameters and the like),
// which may alias the batch's bytes (cloudtrail.Reader.NextIntoBorrowed):
// what detectors and stores keep of them they decode or copy.
func (e *Engine) ScoreParsed(ctx context.Context, b Batch, parsed []*cloudtrail.Record) ([]Verdict, error) {
	if len(parsed) != len(b.Records) {
		return nil, fmt.Errorf("engine: %d parsed records for a batch of %d", len(parsed), len(b.Records))
	}
	b.parsed = parsed
	return e.Score(ctx, b)
}

// parseRecord returns the batch's record i: the one parsed as it was
// read, taken as it is (a copy of each, some 900 bytes, was a fortieth of
// the scan's CPU with the write barriers of the collector), or its bytes
// parsed now into the scratch's records.
func (s *scoring) parseRecord(b *Batch, i int, opts cloudtrail.Options) (*cloudtrail.Record, error) {
	if b.parsed != nil && b.parsed[i] != nil && len(b.Records[i]) <= opts.MaxRecordSize {
		return b.parsed[i], nil
	}
	sc := s.scratch
	if len(sc.recs) == 0 {
		sc.recs = slices.Grow(sc.recs, len(b.Records))[:len(b.Records)]
	}
	rec := &sc.recs[i]
	return rec, cloudtrail.ParseInto(rec, b.Records[i], opts)
}
