package realcorpus_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/internal/corpus"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
)

// small is the size unit tests use: ten days, so the attacks (woven in
// after the first week) cycle through every kind once.
var small = realcorpus.Options{Seed: 1, Days: 10, People: 20}

// smallCorpus is small, generated once and parsed once for the tests that
// only read it.
var smallCorpus = sync.OnceValues(func() (*realcorpus.Corpus, []*cloudtrail.Record) {
	c := realcorpus.Generate(small)
	parsed := make([]*cloudtrail.Record, len(c.Records))
	for i, rec := range c.Records {
		parsed[i], _ = cloudtrail.Parse(rec.JSON, cloudtrail.Options{})
	}
	return c, parsed
})

func TestDeterministicForASeed(t *testing.T) {
	a, _ := smallCorpus()
	b := realcorpus.Generate(small)
	if len(a.Records) != len(b.Records) {
		t.Fatalf("one seed gave %d then %d records", len(a.Records), len(b.Records))
	}
	for i := range a.Records {
		if !bytes.Equal(a.Records[i].JSON, b.Records[i].JSON) {
			t.Fatalf("record %d differs between two runs with one seed", i)
		}
	}
	o := small
	o.Seed, o.Days = 2, 1
	c := realcorpus.Generate(o)
	if slices.EqualFunc(a.Records[:len(c.Records)], c.Records, func(x, y corpus.Record) bool { return bytes.Equal(x.JSON, y.JSON) }) {
		t.Error("different seeds gave the same corpus")
	}
}

// TestEveryRecordParses checks every record is one the parser accepts,
// in event-time order, with a unique event id, its Time its eventTime, and
// labelled as generated.
func TestEveryRecordParses(t *testing.T) {
	c, _ := smallCorpus()
	ids := map[string]bool{}
	for i, rec := range c.Records {
		r, err := cloudtrail.Parse(rec.JSON, cloudtrail.Options{})
		if err != nil {
			t.Fatalf("record %d does not parse: %v\n%s", i, err, rec.JSON)
		}
		if i > 0 && rec.Time.Before(c.Records[i-1].Time) {
			t.Fatalf("record %d out of event-time order", i)
		}
		if ids[r.EventID] {
			t.Fatalf("record %d repeats event id %s", i, r.EventID)
		}
		ids[r.EventID] = true
		if !r.EventTime.Equal(rec.Time) {
			t.Fatalf("record %d: Time %v, eventTime %v", i, rec.Time, r.EventTime)
		}
		if !strings.HasSuffix(r.UserAgent, "iamsentry-realcorpus") && r.UserIdentity.Type != "AWSService" && r.UserIdentity.InvokedBy == "" {
			t.Fatalf("record %d: userAgent %q does not say it is generated", i, r.UserAgent)
		}
	}
}

// TestPopulation checks the default corpus holds at least 100 identities
// of every kind (one day is enough to see them).
func TestPopulation(t *testing.T) {
	c := realcorpus.Generate(realcorpus.Options{Seed: 1, Days: 1})
	if len(c.Identities) < 100 {
		t.Errorf("%d identities; want at least 100", len(c.Identities))
	}
	kinds := map[string]int{}
	for _, id := range c.Identities {
		kinds[id.Kind]++
	}
	for _, k := range []string{realcorpus.KindSSOPerson, realcorpus.KindSAMLPerson, realcorpus.KindDeveloper, realcorpus.KindCI,
		realcorpus.KindTerraform, realcorpus.KindAutomation, realcorpus.KindService} {
		if kinds[k] == 0 {
			t.Errorf("no identity of kind %s", k)
		}
	}
}

// TestMixLikeARealAccount bounds the proportions that make a corpus
// realistic: who calls (userIdentity types), how many distinct services
// and event names, how much is read-only, and record sizes close to real
// records' (median about 1 KB, STS responses over 2 KB).
func TestMixLikeARealAccount(t *testing.T) {
	c, parsed := smallCorpus()
	types, names, sources := map[string]int{}, map[string]int{}, map[string]bool{}
	reads, denied := 0, 0
	var sizes []int
	for i, rec := range c.Records {
		r := parsed[i]
		if r == nil {
			t.Fatalf("record %d does not parse", i)
		}
		types[r.UserIdentity.Type]++
		names[r.EventName]++
		sources[r.EventSource] = true
		if r.ReadOnly == cloudtrail.ReadOnlyTrue {
			reads++
		}
		if r.ErrorCode != "" {
			denied++
		}
		sizes = append(sizes, len(rec.JSON))
	}
	n := float64(len(c.Records))
	share := func(x int) float64 { return float64(x) / n }
	var errs []error
	check := func(what string, got, lo, hi float64) {
		if got < lo || got > hi {
			errs = append(errs, fmt.Errorf("%s = %.3f, want within [%.3f, %.3f]", what, got, lo, hi))
		}
	}
	check("share of AssumedRole callers", share(types["AssumedRole"]), 0.40, 0.75)
	check("share of IAMUser callers", share(types["IAMUser"]), 0.15, 0.45)
	check("share of AWSService callers", share(types["AWSService"]), 0.02, 0.15)
	check("share of SAMLUser callers", share(types["SAMLUser"]), 0.001, 0.05)
	check("share of WebIdentityUser callers", share(types["WebIdentityUser"]), 0.001, 0.05)
	check("share read-only", share(reads), 0.60, 0.95)
	check("share denied", share(denied), 0.001, 0.05)
	check("distinct event names", float64(len(names)), 60, 1e9)
	check("distinct event sources", float64(len(sources)), 15, 1e9)
	for name, k := range names {
		check("share of "+name, share(k), 0, 0.12)
	}
	slices.Sort(sizes)
	check("median record size", float64(sizes[len(sizes)/2]), 800, 1600)
	check("largest record size", float64(sizes[len(sizes)-1]), 2000, 8000)
	if err := errors.Join(errs...); err != nil {
		t.Error(err)
	}
}

// TestAttacksWovenIn checks every kind of attack is in a ten-day corpus,
// after the first week, with records that are in the corpus.
func TestAttacksWovenIn(t *testing.T) {
	c, parsed := smallCorpus()
	ids := map[string]bool{}
	for i, r := range parsed {
		if r == nil {
			t.Fatalf("record %d does not parse", i)
		}
		ids[r.EventID] = true
	}
	kinds := map[string]bool{}
	for _, a := range c.Attacks {
		kinds[a.Kind] = true
		if a.At.Before(time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)) { // the default start, a week on
			t.Errorf("%s attack at %v, in the first week", a.Kind, a.At)
		}
		if len(a.EventIDs) == 0 {
			t.Errorf("%s attack at %v has no records", a.Kind, a.At)
		}
		for _, id := range a.EventIDs {
			if !ids[id] {
				t.Errorf("%s attack: event %s not in the corpus", a.Kind, id)
			}
		}
	}
	for _, k := range realcorpus.AttackKinds {
		if !kinds[k] {
			t.Errorf("no %s attack in a ten-day corpus", k)
		}
	}
}

// TestAddressesInNetworks checks every literal source IP falls in one of
// Networks, so a GeoIP database built from them resolves every record.
func TestAddressesInNetworks(t *testing.T) {
	var prefixes []netip.Prefix
	for _, n := range realcorpus.Networks {
		prefixes = append(prefixes, netip.MustParsePrefix(n.Prefix))
	}
	_, parsed := smallCorpus()
	for i, r := range parsed {
		if r == nil || !r.SourceIP.IsValid() {
			continue
		}
		if !slices.ContainsFunc(prefixes, func(p netip.Prefix) bool { return p.Contains(r.SourceIP) }) {
			t.Fatalf("record %d: %s is in none of Networks", i, r.SourceIP)
		}
	}
}

// TestWriteDeliveriesRoundTrip reads the delivery files back with the
// scanner's reader and gets every record, in order.
func TestWriteDeliveriesRoundTrip(t *testing.T) {
	c := realcorpus.Generate(realcorpus.Options{Seed: 3, Days: 2, People: 10})
	dir := t.TempDir()
	files, err := realcorpus.WriteDeliveries(dir, c.Records, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*.json.gz"))
	if files < 24 || len(names) != files {
		t.Fatalf("wrote %d files, found %d; want one an hour of two days", files, len(names))
	}
	i := 0
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		rd := cloudtrail.NewReader(f, cloudtrail.Options{})
		for {
			item, err := rd.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil || item.Err != nil {
				t.Fatalf("%s: %v %v", name, err, item.Err)
			}
			if !bytes.Equal(item.Raw, c.Records[i].JSON) {
				t.Fatalf("%s: record %d differs from the one written", name, i)
			}
			i++
		}
		f.Close()
	}
	if i != len(c.Records) {
		t.Fatalf("read back %d records of %d", i, len(c.Records))
	}
}
