package story_test

import (
	"testing"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/engine/story"
)

// TestHasActorsIsActors: HasActors says whether Actors names anyone, for
// every combination of the caller fields Actors reads.
func TestHasActorsIsActors(t *testing.T) {
	arns := []string{"", "arn:aws:iam::111122223333:user/alice", "arn:aws:sts::111122223333:assumed-role/R/s",
		"arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:oddity/x", "not-an-arn", "arn:aws:iam:"}
	named := 0
	for _, arn := range arns {
		for _, key := range []string{"", "AKIAEXAMPLE"} {
			for _, src := range []string{"", "alice@example.com"} {
				for _, via := range []struct{ typ, invokedBy, ip string }{
					{"IAMUser", "", "203.0.113.9"}, {"AWSService", "", "ec2.amazonaws.com"},
					{"AssumedRole", "cloudformation.amazonaws.com", "203.0.113.9"}, {"AssumedRole", "", "AWS Internal"},
				} {
					r := &cloudtrail.Record{SourceIPAddress: via.ip}
					r.UserIdentity.Type, r.UserIdentity.InvokedBy = via.typ, via.invokedBy
					r.UserIdentity.ARN, r.UserIdentity.AccessKeyID, r.UserIdentity.SourceIdentity = arn, key, src
					want := len(story.Actors(r)) > 0
					if want {
						named++
					}
					if got := story.HasActors(r); got != want {
						t.Errorf("HasActors = %v for arn %q key %q source %q via %+v; Actors says %v", got, arn, key, src, via, want)
					}
				}
			}
		}
	}
	if named == 0 {
		t.Fatal("no combination named an actor: the table tests nothing")
	}
}
