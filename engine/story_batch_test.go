package engine_test

import (
	"testing"
	"time"

	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/state"
)

// TestStoriesOfOneBatchKeepPeopleApart scores two attackers who hop into
// one role in a single batch, as a shipper delivering a busy minute does.
// Their sessions share the role; a role nobody created or changed is no
// link between them in the store, and must be none within a batch either:
// two stories, each holding its attacker's findings.
func TestStoriesOfOneBatchKeepPeopleApart(t *testing.T) {
	alice := attacker{"alice", "AKIAALICE0000000001", "198.18.7.7", storyDay0.Add(8*24*time.Hour + 5*time.Hour)}
	bob := attacker{"bob", "AKIABOB000000000001", "100.100.9.9", storyDay0.Add(8*24*time.Hour + 5*time.Hour + 2*time.Minute)}
	checkAliceAndBob(t, scoreOneBatch(t, memoryStores(t), append(habit("alice", alice.key, 8), habit("bob", bob.key, 8)...),
		append(hopStream(alice), hopStream(bob)...)))
}

// checkAliceAndBob asserts that run told two stories, one holding alice's
// findings and the other bob's.
func checkAliceAndBob(t *testing.T, run storyRun) {
	t.Helper()
	if final := run.final(); len(final) != 2 {
		for _, s := range final {
			t.Logf("story %s: %s", s.ID, s.Summary)
		}
		t.Fatalf("%d stories, want alice's and bob's", len(final))
	}
	if a, b := storyOfUser(run, "alice"), storyOfUser(run, "bob"); a == "" || a == b {
		t.Errorf("alice's story %q and bob's %q must be two", a, b)
	}
}

// scoreOneBatch scores history a record at a time, then attack as one
// batch.
func scoreOneBatch(t *testing.T, store state.Store, history, attack []dt.Rec) storyRun {
	t.Helper()
	h := newStoryHarness(t, store)
	h.Stream(history...)
	raws := make([][]byte, len(attack))
	for i, r := range attack {
		raws[i] = r.JSON()
	}
	return scoreAll(t, h.Engine, raws) // fewer than a batch of scoreAll's
}
