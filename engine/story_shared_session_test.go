package engine_test

import (
	"testing"
	"time"

	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// assumeAs is a's key assuming role with session name name, which the
// caller chooses: a script's fixed name is the same for everyone running
// it.
func (a attacker) assumeAs(role, name, key string, after time.Duration) dt.Rec {
	return a.call("sts.amazonaws.com", "AssumeRole", after).
		With("requestParameters", map[string]any{"roleArn": "arn:aws:iam::111122223333:role/" + role, "roleSessionName": name}).
		With("responseElements", map[string]any{"credentials": map[string]any{"accessKeyId": key},
			"assumedRoleUser": map[string]any{"arn": "arn:aws:sts::111122223333:assumed-role/" + role + "/" + name}})
}

// TestSharedSessionNameIsNoLink: two stolen keys each take over their user
// and open a session of one role under the same session name ("cli").
// The session name is the callers' choice, not an actor both control: two
// stories, whether they are scored a record at a time in any order or in
// one batch.
func TestSharedSessionNameIsNoLink(t *testing.T) {
	alice := attacker{"alice", "AKIAALICE0000000001", "198.18.7.7", storyDay0.Add(8*24*time.Hour + 5*time.Hour)}
	bob := attacker{"bob", "AKIABOB000000000001", "100.100.9.9", storyDay0.Add(8*24*time.Hour + 5*time.Hour + 2*time.Minute)}
	history := append(habit("alice", alice.key, 8), habit("bob", bob.key, 8)...)
	attack := append(append(alice.takeover(), alice.assumeAs("Developer", "cli", "ASIACLIALICE0000001", 4*time.Minute)),
		append(bob.takeover(), bob.assumeAs("Developer", "cli", "ASIACLIBOB000000001", 4*time.Minute))...)
	for name, stream := range orders(attack) {
		t.Run(name, func(t *testing.T) { checkAliceAndBob(t, scoreStory(t, memoryStores(t), history, stream)) })
	}
	t.Run("one batch", func(t *testing.T) { checkAliceAndBob(t, scoreOneBatch(t, memoryStores(t), history, attack)) })
}
