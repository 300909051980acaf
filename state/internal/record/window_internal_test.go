package record

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/state"
)

// BenchmarkAddWindow adds members again to windows of ARNs of one length
// sharing a prefix, as an identity's recon window gets them: the cost is
// finding the member among the window's, anywhere in it.
func BenchmarkAddWindow(b *testing.B) {
	for _, n := range []int{16, 256, 2048} {
		b.Run(fmt.Sprint("members=", n), func(b *testing.B) {
			members := make([]string, n)
			e := &entry{kind: kindWindow}
			for i := range members {
				members[i] = fmt.Sprintf("arn:aws:iam::123456789012:role/service-role-%06d", i)
				e.addWindow(members[i], int64(i))
			}
			at := int64(n)
			for b.Loop() {
				// A member seen before, anywhere in the window (a
				// multiplicative hash of at picks it).
				e.addWindow(members[uint64(at)*0x9e3779b97f4a7c15>>40%uint64(n)], at)
				at++
			}
		})
	}
}

// TestWindowTagsMatchMembers: every window member a record holds, added
// by an operation or decoded from its encoding, carries memberTag of its
// own bytes (addWindow skips members by tag), and the window holds each
// member once at the latest time it was added, as a model of it says.
func TestWindowTagsMatchMembers(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	key := state.Key{Tenant: "t", Identity: "p", Name: "w"}
	r, model := &Record{}, map[string]int64{}
	for i := range 2000 {
		// Members of one length sharing a prefix, as ARNs are.
		m := fmt.Sprintf("arn:aws:iam::1:role/r-%02d", rng.IntN(24)) // under SideThreshold in all
		at := base.Add(time.Duration(rng.IntN(600)) * time.Minute)
		op := &state.WindowAddOp{Key: key, Member: m, At: at, Count: state.Span{From: at, To: at}, TTL: 48 * time.Hour}
		if res, _ := r.Apply(op, base.UnixNano()); res.Err() != nil {
			t.Fatal(res.Err())
		}
		model[m] = max(model[m], at.UnixNano())
		if i%97 == 0 { // read back from its encoding now and then
			b, _ := r.Encode([VersionSize]byte{byte(i)}, base.UnixNano())
			var err error
			if r, err = Decode(b, base.UnixNano()); err != nil {
				t.Fatal(err)
			}
		}
	}
	e := r.entries[r.find(Digest(key.Name))]
	if len(e.window) != len(model) {
		t.Fatalf("window holds %d members, the model %d", len(e.window), len(model))
	}
	for i, tm := range e.window {
		if tm.tag != memberTag(tm.member) {
			t.Fatalf("member %d %q: tag %x, memberTag %x", i, tm.member, tm.tag, memberTag(tm.member))
		}
		if model[tm.member] != tm.at {
			t.Fatalf("member %q at %d, the model %d", tm.member, tm.at, model[tm.member])
		}
	}
}
