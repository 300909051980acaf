package cloudtrail

import (
	"bytes"
	"compress/gzip"
	"io"
	"sync"
	"testing"

	"github.com/iamsentry/iamsentry/internal/realcorpus"
)

// readerInputs are a week of internal/realcorpus's realistic account in
// the three shapes scan meets: JSON lines, S3 delivery envelopes of 250
// records each, and those envelopes gzip-compressed.
var readerInputs = sync.OnceValues(func() (map[string][]byte, int) {
	c := realcorpus.Generate(realcorpus.Options{Seed: 1, Days: 7})
	var lines, envs bytes.Buffer
	for i, r := range c.Records {
		lines.Write(r.JSON)
		lines.WriteByte('\n')
		switch {
		case i%250 == 0 && i > 0:
			envs.WriteString("]}\n")
			fallthrough
		case i == 0:
			envs.WriteString(`{"Records":[`)
		default:
			envs.WriteByte(',')
		}
		envs.Write(r.JSON)
	}
	envs.WriteString("]}\n")
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(envs.Bytes())
	w.Close()
	return map[string][]byte{"jsonl": lines.Bytes(), "envelopes": envs.Bytes(), "gzip": gz.Bytes()}, len(c.Records)
})

// BenchmarkReader splits realistic CloudTrail into records with the byte
// scanner (as is, and released in batches as scan does) and, for
// comparison, with the old token-walking reader. MB/s is
// of the plain (decompressed) JSON; allocs/op and B/op are per record.
func BenchmarkReader(b *testing.B) {
	inputs, records := readerInputs()
	readers := []struct {
		name string
		new  func(io.Reader) nexter
	}{
		{"scanner", func(r io.Reader) nexter { return NewReader(r, Options{}) }},
		{"scanner-release", func(r io.Reader) nexter { return &releaseEvery{Reader: NewReader(r, Options{}), n: 512} }},
		{"old", func(r io.Reader) nexter { return newOldReader(r, Options{}) }},
	}
	for _, shape := range []string{"jsonl", "envelopes", "gzip"} {
		for _, rd := range readers {
			b.Run(shape+"/"+rd.name, func(b *testing.B) {
				data := inputs[shape]
				plain := len(inputs["envelopes"])
				if shape == "jsonl" {
					plain = len(data)
				}
				// One op is one record, so allocs/op is allocations per record.
				b.SetBytes(int64(plain / records))
				b.ReportAllocs()
				b.ResetTimer()
				n := 0
				for n < b.N {
					r := rd.new(bytes.NewReader(data))
					for ; ; n++ {
						item, err := r.Next()
						if err == io.EOF {
							break
						}
						if err != nil || item.Err != nil {
							b.Fatal(err, item.Err)
						}
					}
				}
			})
		}
	}
}
