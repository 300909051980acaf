package iamsentry_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/iamsentry/iamsentry/clients/iamsentry"
	"github.com/iamsentry/iamsentry/server"
)

// adminAttach returns a record that raises admin-policy-attached, and with
// it a story of its own: alice gives user target AdministratorAccess.
func adminAttach(id, target string, minute int) []byte {
	return fmt.Appendf(nil, `{"eventVersion":"1.08","eventID":%q,"eventTime":"2024-08-01T10:%02d:00Z","eventName":"AttachUserPolicy","eventSource":"iam.amazonaws.com","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIAEXAMPLE0000001","userName":"alice"},"requestParameters":{"userName":%q,"policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}}`,
		id, minute%60, target)
}

func scoreAll(t *testing.T, c *iamsentry.Client, records ...[]byte) []*iamsentry.Verdict {
	t.Helper()
	vs, err := c.Score(context.Background(), records)
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestWatchFindingsAndStories(t *testing.T) {
	srv := startServer(t, server.Options{})
	c := dial(t, srv.addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a bound, not a timing
	defer cancel()
	both, err := c.Watch(ctx, &iamsentry.WatchRequest{Content: iamsentry.WatchFindingsAndStories})
	if err != nil {
		t.Fatal(err)
	}
	defer both.Close()
	stories, err := c.Watch(ctx, &iamsentry.WatchRequest{Content: iamsentry.WatchStories})
	if err != nil {
		t.Fatal(err)
	}
	defer stories.Close()

	v := scoreAll(t, c, adminAttach("attach-1", "bob", 1))[0]
	if len(v.GetFindings()) == 0 || len(v.GetStories()) != 1 {
		t.Fatalf("verdict %v: want a finding and the story it created", v)
	}
	f, err := both.Recv()
	if err != nil || f.Finding.GetEventId() != "attach-1" || f.Story != nil || f.Resumed {
		t.Fatalf("first update of the findings-and-stories watch: %+v, %v; want the finding", f, err)
	}
	s, err := both.Recv()
	if err != nil || s.Story.GetId() != f.Finding.GetStory() || s.Story.GetId() != v.GetStories()[0].GetId() || s.Finding != nil {
		t.Fatalf("second update: %+v, %v; want story %s", s, err, f.Finding.GetStory())
	}
	if u, err := stories.Recv(); err != nil || u.Story.GetId() != s.Story.GetId() || u.Finding != nil {
		t.Fatalf("stories-only watch: %+v, %v", u, err)
	}

	stories.Close()
	if _, err := stories.Recv(); !errors.Is(err, iamsentry.ErrClosed) {
		t.Errorf("Recv after Close: %v, want ErrClosed", err)
	}
}

func TestWatchRefusedIsNotRetried(t *testing.T) {
	srv := startServer(t, server.Options{})
	c := dial(t, srv.addr)
	_, err := c.Watch(context.Background(), &iamsentry.WatchRequest{Content: 9})
	if status.Code(errors.Unwrap(err)) != codes.InvalidArgument || iamsentry.IsRetryable(err) {
		t.Errorf("Watch with an unknown content: %v, want INVALID_ARGUMENT, not retryable", err)
	}
}

// TestWatchResumesAfterRestart: a server restart ends the call with
// UNAVAILABLE; the Watch reopens it on the restarted server and marks the
// first update after it Resumed.
func TestWatchResumesAfterRestart(t *testing.T) {
	store := newTestStore()
	srv := startServerOn(t, "127.0.0.1:0", store, server.Options{})
	c := dial(t, srv.addr, iamsentry.WithBackoff(10*time.Millisecond, 100*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := c.Watch(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	scoreAll(t, c, adminAttach("before", "bob", 1))
	if u, err := w.Recv(); err != nil || u.Finding.GetEventId() != "before" || u.Resumed {
		t.Fatalf("before the restart: %+v, %v", u, err)
	}
	srv.stop()
	startServerOn(t, srv.addr, store, server.Options{})

	updates := make(chan iamsentry.Update, 1)
	go func() {
		u, err := w.Recv()
		if err != nil {
			t.Errorf("after the restart: %v", err)
		}
		updates <- u
	}()
	// Findings raised before the Watch is subscribed again are missed (a
	// live tail), so raise one after another until one arrives.
	var u iamsentry.Update
	for i := 0; ; i++ {
		scoreAll(t, c, adminAttach(fmt.Sprintf("after-%d", i), fmt.Sprintf("user-%d", i), i+2))
		select {
		case u = <-updates:
		case <-ctx.Done():
			t.Fatal("no update after the restart")
		case <-time.After(20 * time.Millisecond):
			continue
		}
		break
	}
	if !u.Resumed || u.Finding == nil {
		t.Errorf("first update after the restart: %+v, want a finding marked Resumed", u)
	}
}
