package detectors_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
)

// TestArenaStringsStayIntact carves many strings, of every size up to
// past a chunk, and checks each still reads as built once all are
// carved: a chunk is never written where a string was handed out.
func TestArenaStringsStayIntact(t *testing.T) {
	var a detectors.Arena
	var want, got []string
	for i := range 3000 {
		s := strings.Repeat(strconv.Itoa(i%10), i%1500)
		want = append(want, s)
		got = append(got, a.String([]byte(s)))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("string %d: carved %q…, want %q…", i, got[i][:min(20, len(got[i]))], want[i][:min(20, len(want[i]))])
		}
	}
}

// TestPrefixedOwner checks the claim name is prefix + Owner, and Owner
// EventIdentity, whether the arena is used or not and whichever is asked
// first.
func TestPrefixedOwner(t *testing.T) {
	rec := func() *cloudtrail.Record {
		return &cloudtrail.Record{EventID: "e-1", EventName: "ListBuckets", RecipientAccountID: "111122223333",
			EventTime: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)}
	}
	want := detectors.EventIdentity(rec())
	if !strings.Contains(want, "e-1") || !strings.Contains(want, "ListBuckets") {
		t.Fatalf("EventIdentity = %q, want the event id and name in it", want)
	}
	var arena detectors.Arena
	for _, tc := range []struct {
		name       string
		arena      *detectors.Arena
		ownerFirst bool
	}{{"allocated", nil, false}, {"carved", &arena, false}, {"owner asked first", &arena, true}} {
		t.Run(tc.name, func(t *testing.T) {
			ev := &detectors.Event{Record: rec()}
			if tc.ownerFirst && ev.Owner() != want {
				t.Fatalf("Owner = %q, want %q", ev.Owner(), want)
			}
			if got := ev.PrefixedOwner("event:", tc.arena); got != "event:"+want {
				t.Errorf("PrefixedOwner = %q, want %q", got, "event:"+want)
			}
			if got := ev.Owner(); got != want {
				t.Errorf("Owner after PrefixedOwner = %q, want %q", got, want)
			}
		})
	}
}
