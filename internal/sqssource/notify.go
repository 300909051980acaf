package sqssource

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ObjectRef is an S3 object a notification says was created.
type ObjectRef struct {
	Bucket, Key string
	Size        int64 // 0 when the notification does not say
}

// Notification is what one SQS message says.
type Notification struct {
	// Shape names the envelope: "s3" (an S3 event notification sent to
	// the queue directly or by SNS raw delivery), "sns" (wrapped in an
	// SNS Notification), "eventbridge", "cloudtrail-sns" (CloudTrail's own
	// delivery notification), or "s3-test" (the s3:TestEvent S3 sends when
	// a notification is configured).
	Shape string
	// Objects are the created objects, in message order.
	Objects []ObjectRef
	// Ignored counts the events of other kinds (object removed, restored):
	// nothing to read.
	Ignored int
}

// ParseNotification reads an SQS message body. A body that is none of the
// shapes is an error: such a message is never deleted, so the queue's
// redrive policy moves it to the dead-letter queue.
func ParseNotification(body string) (Notification, error) {
	return parse(body, 0)
}

type envelope struct {
	// SNS
	Type    string `json:"Type"`
	Message string `json:"Message"`
	// S3 event notification and s3:TestEvent
	Records *[]s3Record `json:"Records"`
	Event   string      `json:"Event"`
	Service string      `json:"Service"`
	// EventBridge
	DetailType string           `json:"detail-type"`
	Source     string           `json:"source"`
	Detail     *eventBridgeBody `json:"detail"`
	// CloudTrail's SNS notification of a delivered file
	S3Bucket    string   `json:"s3Bucket"`
	S3ObjectKey []string `json:"s3ObjectKey"`
}

type s3Record struct {
	EventSource string       `json:"eventSource"`
	EventName   string       `json:"eventName"`
	S3          bucketObject `json:"s3"`
}

// eventBridgeBody is the detail of an EventBridge S3 event: the same
// bucket and object as an S3 event record's s3 member.
type eventBridgeBody = bucketObject

type bucketObject struct {
	Bucket struct {
		Name string `json:"name"`
	} `json:"bucket"`
	Object struct {
		Key  string `json:"key"`
		Size int64  `json:"size"`
	} `json:"object"`
}

func parse(body string, depth int) (Notification, error) {
	var e envelope
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		return Notification{}, fmt.Errorf("message is not a JSON notification: %w", err)
	}
	switch {
	case e.Type == "Notification" && e.Message != "":
		if depth > 0 {
			return Notification{}, errors.New("SNS notification inside an SNS notification")
		}
		n, err := parse(e.Message, depth+1)
		if err != nil {
			return Notification{}, fmt.Errorf("SNS message: %w", err)
		}
		if n.Shape == "s3" {
			n.Shape = "sns"
		}
		return n, nil
	case e.Event == "s3:TestEvent":
		return Notification{Shape: "s3-test"}, nil
	case e.Records != nil:
		return s3Event(*e.Records)
	case e.Detail != nil && e.Source == "aws.s3":
		return eventBridge(e)
	case e.S3Bucket != "" && len(e.S3ObjectKey) > 0:
		n := Notification{Shape: "cloudtrail-sns"}
		for _, k := range e.S3ObjectKey {
			n.Objects = append(n.Objects, ObjectRef{Bucket: e.S3Bucket, Key: k})
		}
		return n, nil
	}
	return Notification{}, errors.New("message is not an S3 notification (raw, SNS-wrapped, EventBridge or CloudTrail's)")
}

// s3Event reads an S3 event notification. Its object keys are
// URL-encoded (form encoding: a space is "+").
func s3Event(records []s3Record) (Notification, error) {
	n := Notification{Shape: "s3"}
	for i, r := range records {
		if r.EventSource != "aws:s3" {
			return Notification{}, fmt.Errorf("Records[%d]: event source %q, not aws:s3", i, r.EventSource)
		}
		if !strings.HasPrefix(r.EventName, "ObjectCreated:") {
			n.Ignored++
			continue
		}
		key, err := url.QueryUnescape(r.S3.Object.Key)
		if err != nil {
			return Notification{}, fmt.Errorf("Records[%d]: object key %q: %w", i, r.S3.Object.Key, err)
		}
		if r.S3.Bucket.Name == "" || key == "" {
			return Notification{}, fmt.Errorf("Records[%d]: no bucket name or object key", i)
		}
		n.Objects = append(n.Objects, ObjectRef{Bucket: r.S3.Bucket.Name, Key: key, Size: r.S3.Object.Size})
	}
	return n, nil
}

// eventBridge reads an S3 event delivered by EventBridge. Its keys are
// not URL-encoded.
func eventBridge(e envelope) (Notification, error) {
	n := Notification{Shape: "eventbridge"}
	if e.DetailType != "Object Created" {
		n.Ignored = 1
		return n, nil
	}
	if e.Detail.Bucket.Name == "" || e.Detail.Object.Key == "" {
		return Notification{}, errors.New("EventBridge Object Created event without detail.bucket.name or detail.object.key")
	}
	n.Objects = []ObjectRef{{Bucket: e.Detail.Bucket.Name, Key: e.Detail.Object.Key, Size: e.Detail.Object.Size}}
	return n, nil
}
