package sqssource_test

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/sqssource"
	"github.com/iamsentry/iamsentry/internal/trail/trailtest"
	"github.com/iamsentry/iamsentry/state/memory"
)

// TestNotificationShapes sends each object of a trail in one of the
// notification shapes (S3 direct, SNS-wrapped, EventBridge, CloudTrail's
// own SNS notification), plus the s3:TestEvent and notifications of files
// that are not records: every record is scored once, every message is
// deleted, and the findings are scan's of the same files.
func TestNotificationShapes(t *testing.T) {
	objects, _ := trailtest.OrgTrail(t)
	// A key S3 URL-encodes in notifications ("+" for a space, %2B for "+").
	const odd = "odd prefix/a+b/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/29/111122223333_CloudTrail_us-east-1_20261129T0000Z_odd.json.gz"
	w := newWorld(t, objects)
	dir := t.TempDir()
	trailtest.WriteTree(t, dir, objects)
	queue, _ := w.newQueue(t, 30, 0)
	r := newReplica(t, memory.New())
	// In key order, so the findings are those of scan over the tree.
	for i, k := range w.keys {
		switch i % 4 {
		case 0:
			w.send(t, queue, s3Event(k))
		case 1:
			w.send(t, queue, snsWrapped(s3Event(k)))
		case 2:
			w.send(t, queue, eventBridge(k))
		case 3:
			w.send(t, queue, `{"s3Bucket":"`+bucket+`","s3ObjectKey":["`+k+`"]}`)
		}
	}
	w.send(t, queue, testEvent)
	w.send(t, queue, snsWrapped(testEvent))
	for k := range objects {
		if !slices.Contains(w.keys, k) && k[len(k)-1] != '/' {
			w.send(t, queue, s3Event(k)) // digest and Insights files
		}
	}
	c := w.run(t, r, queue, sqssource.Options{MaxInFlight: 1, ChunkRecords: 3})
	want := len(w.keys)
	waitFor(t, "every message deleted", func() bool { return c.Stats().Deleted == int64(want+4) })

	st := c.Stats()
	if st.Objects != int64(want) || st.TestEvents != 2 || st.SkippedObjects != 2 || st.FailedMessages != 0 || st.Errors != 0 {
		t.Errorf("stats %+v: want %d objects, 2 test events, 2 skipped, no failure", st, want)
	}
	if n := w.depth(t, queue); n != 0 {
		t.Errorf("%d messages left in the queue, want 0", n)
	}
	if got, wantF := incidents(t, r.findings(t)), incidents(t, scanFindings(t, dir)); !slices.Equal(got, wantF) {
		t.Errorf("findings differ from scan's\nscan:\n%v\nsqs:\n%v", wantF, got)
	}
	if r.counts()[engine.OutcomeDuplicate] != 0 && st.Records[engine.OutcomeDuplicate] != int64(r.counts()[engine.OutcomeDuplicate]) {
		t.Errorf("consumer counted %d DUPLICATE, server gave %d", st.Records[engine.OutcomeDuplicate], r.counts()[engine.OutcomeDuplicate])
	}

	// The URL-encoded key: S3 writes "odd+prefix/a%2Bb/...", the object is
	// "odd prefix/a+b/...".
	w2 := newWorld(t, map[string][]byte{odd: objects[w.keys[0]]})
	q2, _ := w2.newQueue(t, 30, 0)
	w2.send(t, q2, s3Event(odd))
	c2 := w2.run(t, newReplica(t, memory.New()), q2, sqssource.Options{})
	waitFor(t, "the odd key's message deleted", func() bool { return c2.Stats().Deleted == 1 })
	if st := c2.Stats(); st.Objects != 1 || st.Errors != 0 {
		t.Errorf("odd key: stats %+v, want the object scored", st)
	}
}

// TestPoisonGoesToDeadLetterQueue checks that a message naming an object
// that is not CloudTrail, a missing object, or a body that is not a
// notification is never deleted, and the queue's redrive policy moves it
// to the dead-letter queue, while good messages around it are scored.
func TestPoisonGoesToDeadLetterQueue(t *testing.T) {
	objects, keys := trailtest.OrgTrail(t)
	const junk = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/29/111122223333_CloudTrail_us-east-1_20261129T0000Z_junk.json.gz"
	objects[junk] = []byte("this is not gzip, nor JSON")
	w := newWorld(t, objects)
	queue, dlq := w.newQueue(t, 1, 2)
	w.send(t, queue, s3Event(junk))
	w.send(t, queue, s3Event("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/29/gone_CloudTrail_us-east-1_20261129T0000Z_x.json.gz"))
	w.send(t, queue, `{"hello":"world"}`)
	w.send(t, queue, s3Event(keys[0]))
	c := w.run(t, newReplica(t, memory.New()), queue, sqssource.Options{LagInterval: -1})
	waitFor(t, "three messages in the dead-letter queue", func() bool { return w.depth(t, dlq) == 3 })
	waitFor(t, "the good message deleted", func() bool { return c.Stats().Deleted == 1 })
	st := c.Stats()
	if st.Objects != 1 || st.FailedMessages < 3*2 {
		t.Errorf("stats %+v: want 1 object scored and each of 3 poison messages failed at least twice", st)
	}
	out, err := w.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &dlq, MaxNumberOfMessages: 10})
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, m := range out.Messages {
		bodies = append(bodies, aws.ToString(m.Body))
	}
	if !slices.Contains(bodies, `{"hello":"world"}`) || !slices.Contains(bodies, s3Event(junk)) {
		t.Errorf("dead-letter queue holds %q", bodies)
	}
}
