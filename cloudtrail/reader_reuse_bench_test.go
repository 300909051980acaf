package cloudtrail

import (
	"bytes"
	"io"
	"testing"
)

// BenchmarkReaderRelease is BenchmarkReader's scanner as scan drives it:
// items in batches of 512, each batch released once scored, so the
// Reader reads into buffers it, or the Reader of the previous file, used
// before. B/op is per record.
func BenchmarkReaderRelease(b *testing.B) {
	inputs, records := readerInputs()
	for _, shape := range []string{"jsonl", "envelopes", "gzip"} {
		b.Run(shape, func(b *testing.B) {
			data := inputs[shape]
			b.SetBytes(int64(len(inputs["envelopes"]) / records))
			b.ReportAllocs()
			b.ResetTimer()
			n := 0
			for n < b.N {
				r := NewReader(bytes.NewReader(data), Options{})
				for ; ; n++ {
					item, err := r.Next()
					if err == io.EOF {
						break
					}
					if err != nil || item.Err != nil {
						b.Fatal(err, item.Err)
					}
					if n%512 == 511 {
						r.Release()
					}
				}
				r.Release()
			}
		})
	}
}
