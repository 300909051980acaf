// Package sqstest serves an SQS-compatible API on loopback for tests.
//
// The queues are goaws's (github.com/Admiral-Piett/goaws v0.4.5, run
// in-process): its visibility timeouts, ChangeMessageVisibility, long
// polling and redrive policy (a message whose visibility timeout lapsed
// more than maxReceiveCount times moves to the dead-letter queue). goaws
// speaks the SQS query protocol only, and the AWS SDK for Go v2 speaks the
// JSON protocol only, so Start puts a translator in front: each JSON call
// becomes goaws's form-encoded call and its XML answer becomes JSON. Calls
// reach goaws one at a time (its handlers are not all safe to run
// together); the translator does the long polling (WaitTimeSeconds).
//
// What goaws does not do faithfully: ApproximateReceiveCount is always 1,
// SentTimestamp is the time of the receive, not of the send, and
// ApproximateNumberOfMessages counts the messages in flight too.
package sqstest

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Admiral-Piett/goaws/app"
	"github.com/Admiral-Piett/goaws/app/gosqs"
	"github.com/Admiral-Piett/goaws/app/router"
	"github.com/sirupsen/logrus"
)

// AccountID is the account of the queues' URLs and ARNs.
const AccountID = "100010001000"

// Region is the region of the queues' ARNs.
const Region = "us-east-1"

var (
	once    sync.Once
	mu      sync.Mutex // one goaws call at a time
	handler http.Handler
)

// Server is the SQS-compatible endpoint.
type Server struct {
	Endpoint string // http://127.0.0.1:port
}

// Start starts a translator on a loopback port in front of the process's
// goaws queues (shared by every test of the process: name queues after
// the test), and sets the environment the AWS SDK reads.
func Start(t testing.TB) *Server {
	t.Helper()
	once.Do(func() {
		logrus.SetOutput(io.Discard)
		app.CurrentEnvironment = app.Environment{Host: "127.0.0.1", Port: "1", AccountID: AccountID, Region: "",
			QueueAttributeDefaults: app.EnvQueueAttributes{VisibilityTimeout: 30, MaximumMessageSize: 262144}}
		handler = router.New()
		// Visibility timeouts lapse (and redrive happens) on this tick.
		go gosqs.PeriodicTasks(100*time.Millisecond, make(chan struct{}))
	})
	srv := httptest.NewServer(http.HandlerFunc(serveJSON))
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
	t.Setenv("AWS_REGION", Region)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return &Server{Endpoint: srv.URL}
}

// ARN is the ARN of a queue, for redrive policies.
func ARN(name string) string { return "arn:aws:sqs:" + Region + ":" + AccountID + ":" + name }

// serveJSON answers one call of the SQS JSON protocol.
func serveJSON(w http.ResponseWriter, r *http.Request) {
	action, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	if !ok {
		jsonError(w, http.StatusBadRequest, "UnsupportedOperation", "no X-Amz-Target")
		return
	}
	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		jsonError(w, http.StatusBadRequest, "InvalidParameterValue", err.Error())
		return
	}
	form := toForm(action, in)
	wait, _ := in["WaitTimeSeconds"].(float64)
	deadline := time.Now().Add(time.Duration(wait) * time.Second)
	for {
		status, body := call(form)
		if status != http.StatusOK {
			var e app.ErrorResponse
			xml.Unmarshal(body, &e)
			jsonError(w, status, strings.TrimPrefix(e.Result.Code, "AWS.SimpleQueueService."), e.Result.Message)
			return
		}
		out, empty, err := toJSON(action, body)
		if err != nil {
			jsonError(w, http.StatusInternalServerError, "InternalError", err.Error())
			return
		}
		if action == "ReceiveMessage" && empty && time.Now().Before(deadline) && r.Context().Err() == nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Write(out)
		return
	}
}

func call(form url.Values) (int, []byte) {
	mu.Lock()
	defer mu.Unlock()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// toForm renders a JSON call as goaws's query-protocol form.
func toForm(action string, in map[string]any) url.Values {
	f := url.Values{"Action": {action}}
	for k, v := range in {
		switch v := v.(type) {
		case string:
			f.Set(k, v)
		case float64:
			if k != "WaitTimeSeconds" {
				f.Set(k, strconv.FormatInt(int64(v), 10))
			}
		case map[string]any: // Attributes
			i := 1
			for name, val := range v {
				f.Set(fmt.Sprintf("Attribute.%d.Name", i), name)
				f.Set(fmt.Sprintf("Attribute.%d.Value", i), fmt.Sprint(val))
				i++
			}
		case []any: // AttributeNames, MessageSystemAttributeNames
			if k == "AttributeNames" {
				for i, name := range v {
					f.Set(fmt.Sprintf("AttributeName.%d", i+1), fmt.Sprint(name))
				}
			}
		}
	}
	return f
}

// toJSON renders goaws's XML answer as the JSON protocol's; empty is true
// for a receive that found no message.
func toJSON(action string, body []byte) (out []byte, empty bool, err error) {
	var v any
	switch action {
	case "CreateQueue":
		var x app.CreateQueueResponse
		err = xml.Unmarshal(body, &x)
		v = map[string]string{"QueueUrl": x.Result.QueueUrl}
	case "GetQueueUrl":
		var x app.GetQueueUrlResponse
		err = xml.Unmarshal(body, &x)
		v = map[string]string{"QueueUrl": x.Result.QueueUrl}
	case "GetQueueAttributes":
		var x app.GetQueueAttributesResponse
		err = xml.Unmarshal(body, &x)
		attrs := map[string]string{}
		for _, a := range x.Result.Attrs {
			attrs[a.Name] = a.Value
		}
		v = map[string]any{"Attributes": attrs}
	case "SendMessage":
		var x app.SendMessageResponse
		err = xml.Unmarshal(body, &x)
		v = map[string]string{"MessageId": x.Result.MessageId, "MD5OfMessageBody": x.Result.MD5OfMessageBody}
	case "ReceiveMessage":
		var x app.ReceiveMessageResponse
		err = xml.Unmarshal(body, &x)
		var msgs []map[string]any
		for _, m := range x.Result.Message {
			attrs := map[string]string{}
			for _, a := range m.Attributes {
				attrs[a.Name] = a.Value
			}
			msgs = append(msgs, map[string]any{"MessageId": m.MessageId, "ReceiptHandle": m.ReceiptHandle,
				"MD5OfBody": m.MD5OfBody, "Body": string(m.Body), "Attributes": attrs})
		}
		empty = len(msgs) == 0
		v = map[string]any{"Messages": msgs}
	default: // DeleteMessage, ChangeMessageVisibility, SetQueueAttributes, PurgeQueue, DeleteQueue
		v = map[string]any{}
	}
	if err != nil {
		return nil, false, fmt.Errorf("goaws %s answer: %w", action, err)
	}
	out, err = json.Marshal(v)
	return out, empty, err
}

func jsonError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("x-amzn-query-error", code+";Sender")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"__type": "com.amazonaws.sqs#" + code, "message": msg})
	w.Write(bytes.TrimSpace(b))
}
