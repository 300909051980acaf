package cli

import "github.com/iamsentry/iamsentry/cloudtrail"

// scanBatch is the micro-batch scan gathers from a Reader: each record's
// bytes and, for the records the Reader parsed while it read them
// (NextIntoBorrowed), the parsed record, so the engine does not walk their
// bytes a second time. Its slices are reused from batch to batch and input
// to input. A parsed record's raw values alias the Reader's bytes and are
// read only while its batch is scored, before the Reader's Release.
type scanBatch struct {
	raws   [][]byte
	recs   []cloudtrail.Record  // recs[i] is raws[i] parsed, when done[i]
	done   []bool               // whether recs[i] holds raws[i] parsed
	parsed []*cloudtrail.Record // ScoreParsed's view of recs, built by view
}

// slot is where the Reader parses the next record into.
func (b *scanBatch) slot() *cloudtrail.Record {
	if n := len(b.raws); n == len(b.recs) {
		b.recs = append(b.recs, cloudtrail.Record{})
	}
	return &b.recs[len(b.raws)]
}

// add appends a record read into slot, parsed there or not.
func (b *scanBatch) add(raw []byte, parsed bool) {
	b.raws = append(b.raws, raw)
	b.done = append(b.done, parsed)
}

func (b *scanBatch) len() int { return len(b.raws) }

// view returns the parsed records by index, nil where a record is left
// for the engine to parse: taken only now, as slot may have moved recs.
func (b *scanBatch) view() []*cloudtrail.Record {
	b.parsed = b.parsed[:0]
	for i, ok := range b.done {
		var rec *cloudtrail.Record
		if ok {
			rec = &b.recs[i]
		}
		b.parsed = append(b.parsed, rec)
	}
	return b.parsed
}

// reset empties the batch for the next one; drop also lets go of what the
// records held (at the end of an input), where the next batch would
// otherwise overwrite it.
func (b *scanBatch) reset(drop bool) {
	clear(b.raws)
	clear(b.parsed)
	b.raws, b.done, b.parsed = b.raws[:0], b.done[:0], b.parsed[:0]
	if drop {
		clear(b.recs)
	}
}
