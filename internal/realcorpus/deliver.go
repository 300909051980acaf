package realcorpus

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/iamsentry/iamsentry/internal/corpus"
)

// WriteDeliveries writes recs into dir as CloudTrail's S3 delivery does:
// one gzip-compressed {"Records":[...]} file per period of event time,
// named so lexical order is time order. It returns how many files it
// wrote. recs must be sorted by event time.
func WriteDeliveries(dir string, recs []corpus.Record, period time.Duration) (int, error) {
	files := 0
	for start := 0; start < len(recs); {
		slot := recs[start].Time.Truncate(period)
		end := start
		for end < len(recs) && recs[end].Time.Truncate(period).Equal(slot) {
			end++
		}
		name := filepath.Join(dir, fmt.Sprintf("%s_CloudTrail_eu-west-1_%s.json.gz", Account, slot.UTC().Format("20060102T1504Z")))
		if err := os.WriteFile(name, envelope(recs[start:end]), 0o644); err != nil {
			return files, err
		}
		files++
		start = end
	}
	return files, nil
}

// envelope is recs as one gzip-compressed S3 delivery file.
func envelope(recs []corpus.Record) []byte {
	var plain bytes.Buffer
	plain.WriteString(`{"Records":[`)
	for i, r := range recs {
		if i > 0 {
			plain.WriteByte(',')
		}
		plain.Write(r.JSON)
	}
	plain.WriteString("]}")
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(plain.Bytes()) // writes to a bytes.Buffer cannot fail
	zw.Close()
	return out.Bytes()
}
