package sqssource_test

import (
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/internal/sqssource"
)

func TestParseNotification(t *testing.T) {
	const key = "AWSLogs/o-a1b2c3d4e5/111122223333/CloudTrail/us-east-1/2026/11/29/111122223333_CloudTrail_us-east-1_20261129T0100Z_x.json.gz"
	for name, tt := range map[string]struct {
		body, shape, key string
		ignored          int
		err              string
	}{
		"s3":              {body: s3Event(key), shape: "s3", key: key},
		"s3 encoded key":  {body: s3Event("a b/c+d.json.gz"), shape: "s3", key: "a b/c+d.json.gz"},
		"sns":             {body: snsWrapped(s3Event(key)), shape: "sns", key: key},
		"eventbridge":     {body: eventBridge(key), shape: "eventbridge", key: key},
		"cloudtrail sns":  {body: snsWrapped(`{"s3Bucket":"b","s3ObjectKey":["` + key + `"]}`), shape: "cloudtrail-sns", key: key},
		"test event":      {body: testEvent, shape: "s3-test"},
		"sns test event":  {body: snsWrapped(testEvent), shape: "s3-test"},
		"object removed":  {body: strings.Replace(s3Event(key), "ObjectCreated:Put", "ObjectRemoved:Delete", 1), shape: "s3", ignored: 1},
		"eventbridge del": {body: strings.Replace(eventBridge(key), "Object Created", "Object Deleted", 1), shape: "eventbridge", ignored: 1},
		"not json":        {body: "hello", err: "not a JSON notification"},
		"other json":      {body: `{"a":1}`, err: "not an S3 notification"},
		"other source":    {body: `{"Records":[{"eventSource":"aws:sqs"}]}`, err: `event source "aws:sqs"`},
		"bad escape":      {body: strings.Replace(s3Event("x.json.gz"), "x.json.gz", "%zz", 1), err: "invalid URL escape"},
		"sns in sns":      {body: snsWrapped(snsWrapped(s3Event(key))), err: "SNS notification inside"},
		"eventbridge bad": {body: `{"source":"aws.s3","detail-type":"Object Created","detail":{}}`, err: "without detail.bucket.name"},
	} {
		t.Run(name, func(t *testing.T) {
			n, err := sqssource.ParseNotification(tt.body)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.Shape != tt.shape || n.Ignored != tt.ignored {
				t.Errorf("shape %q ignored %d, want %q %d", n.Shape, n.Ignored, tt.shape, tt.ignored)
			}
			if tt.key != "" && (len(n.Objects) != 1 || n.Objects[0].Key != tt.key) {
				t.Errorf("objects %+v, want key %q", n.Objects, tt.key)
			}
			if tt.key == "" && len(n.Objects) != 0 {
				t.Errorf("objects %+v, want none", n.Objects)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	q, err := sqssource.ParseURL("sqs://sqs.eu-west-1.amazonaws.com/111122223333/trail-events")
	if err != nil || q.URL != "https://sqs.eu-west-1.amazonaws.com/111122223333/trail-events" || q.Region != "eu-west-1" || q.Name != "trail-events" {
		t.Errorf("full URL: %+v, %v", q, err)
	}
	if q, err := sqssource.ParseURL("sqs://trail-events"); err != nil || q.URL != "" || q.Name != "trail-events" {
		t.Errorf("name: %+v, %v", q, err)
	}
	for _, bad := range []string{"https://sqs.eu-west-1.amazonaws.com/111122223333/q", "sqs://", "sqs://host/notanaccount/q", "sqs://a b", "sqs://h/111122223333/q/extra"} {
		if _, err := sqssource.ParseURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
