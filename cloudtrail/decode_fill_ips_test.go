package cloudtrail

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/iamsentry/iamsentry/internal/realcorpus"
)

// TestSourceIPTableIsInvisible reads more source addresses than the
// table has slots, each many times in a shuffled order, so values evict
// each other, and checks every reading against netip's without a memo.
func TestSourceIPTableIsInvisible(t *testing.T) {
	var values []string
	for i := range 1200 {
		switch i % 4 {
		case 0:
			values = append(values, fmt.Sprintf("198.51.%d.%d", i/256, i%256))
		case 1:
			values = append(values, fmt.Sprintf("2001:db8::%x", i))
		case 2:
			values = append(values, fmt.Sprintf("svc%d.amazonaws.com", i))
		default:
			values = append(values, fmt.Sprintf("0%d.0.0.1", i)) // not an IP: a leading zero
		}
	}
	values = append(values, fillMemoInputs...)
	values = append(values, "0", "1", ":", ".") // shorter than hashBytes reads
	m := fillMemo{ips: new(ipTable)}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		rng.Shuffle(len(values), func(i, j int) { values[i], values[j] = values[j], values[i] })
		for _, v := range values {
			if got, want := m.sourceIP(v), (*fillMemo)(nil).sourceIP(v); got != want {
				t.Fatalf("sourceIPAddress %q must read %v as without a memo, got %v", v, want, got)
			}
		}
	}
}

// BenchmarkSourceIPRealistic reads the sourceIPAddress of every record of
// the realistic month, in order, through the memo a Reader's decoder has
// (table) and through the last-value memo alone (last), and reports how
// many of them netip.ParseAddr had to read (parses/record) and the cost.
func BenchmarkSourceIPRealistic(b *testing.B) {
	c := realcorpus.Generate(realcorpus.Options{Seed: 1})
	var ips []string
	strs := new(stringCache) // the values share their bytes, as the decoder's cache makes them
	for _, r := range c.Records {
		rec, err := Parse(r.JSON, Options{})
		if err != nil {
			b.Fatal(err)
		}
		ips = append(ips, strs.get([]byte(rec.SourceIPAddress)))
	}
	for _, tc := range []struct {
		name  string
		table bool
	}{{"last", false}, {"table", true}} {
		b.Run(tc.name, func(b *testing.B) {
			var m fillMemo
			if tc.table {
				m.ips = new(ipTable)
			}
			parses := 0
			for b.Loop() {
				for _, s := range ips {
					if !memoHolds(&m, s) && mayBeIP(s) {
						parses++
					}
					sink = m.sourceIP(s)
				}
			}
			n := float64(b.N * len(ips))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/record")
			b.ReportMetric(float64(parses)/n, "parses/record")
			b.ReportMetric(0, "ns/op")
		})
	}
}

var sink netip.Addr

// memoHolds reports whether m answers s without netip.
func memoHolds(m *fillMemo, s string) bool {
	if s != "" && s == m.ipText {
		return true
	}
	return m.ips != nil && len(s) >= 2 && m.ips[hashBytes([]byte(s))%uint32(len(m.ips))].text == s
}
