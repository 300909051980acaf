package findings

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	"go.opentelemetry.io/otel/metric"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/iamsentry/iamsentry/engine/story"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// Item is what sinks receive: a finding, or notice of a record an ingest
// path without verdicts (OTLP, Vector) could not score.
type Item struct {
	Tenant  string
	Finding *iamsentryv1.Finding // set for a finding
	Invalid *Invalid             // set for an invalid record
	Story   *story.Story         // set for an attack story created or changed
}

// pass reports whether filter lets it through. A story passes on its own
// severity; a sink narrowed to some detectors asked for their findings,
// not for stories.
func (fl *Filter) pass(it Item) bool {
	switch {
	case it.Finding != nil:
		return fl.Match(it.Finding)
	case it.Story != nil:
		return len(fl.Detectors) == 0 && iamsentryv1.Severity(it.Story.Severity) >= fl.MinSeverity
	}
	return true
}

// Invalid describes a record that could not be scored.
type Invalid struct {
	Ingest  string // "otlp" or "vector"
	Reason  string // why, as a verdict would say it
	EventID string // the record's eventID, when it could be read
}

// Sink is where findings leave the service.
//
// Send is called from the dispatcher's one goroutine and must not block for
// long: a sink that talks to the network queues (bounded) and drops what
// does not fit, counting it. Close flushes what it can before ctx ends.
type Sink interface {
	Send(it Item)
	Close(ctx context.Context) error
}

// StorySink is a Sink that also takes attack stories (Item.Story). The
// dispatcher sends stories only to sinks that say so, so a sink written for
// findings never meets an item it does not know.
type StorySink interface {
	Sink
	TakesStories()
}

// TakesStories implements StorySink.
func (s *WriterSink) TakesStories() {}

// Format renders an item as one JSON document; ok is false when the format
// has no rendering for the item (OCSF has none for invalid records).
type Format func(it Item) (doc []byte, ok bool)

// FormatFor returns the format named name: "json" (the default) or "ocsf".
func FormatFor(name string) (Format, error) {
	switch name {
	case "", "json":
		return JSON, nil
	case "ocsf":
		return OCSF, nil
	}
	return nil, fmt.Errorf("unknown format %q (want json or ocsf)", name)
}

// jsonLine is the envelope of the json format.
type jsonLine struct {
	Kind    string          `json:"kind"` // "finding", "story" or "invalid_record"
	Tenant  string          `json:"tenant,omitempty"`
	Finding json.RawMessage `json:"finding,omitempty"`
	Story   *story.Story    `json:"story,omitempty"`
	Ingest  string          `json:"ingest,omitempty"`
	Reason  string          `json:"reason,omitempty"`
	EventID string          `json:"event_id,omitempty"`
}

// JSON renders an item in the json format: an object whose kind says what it
// is; a finding is the Finding of the API in its protobuf JSON mapping (as
// Watch shows it through grpcurl); a story is as scan --stories prints it.
func JSON(it Item) ([]byte, bool) {
	line := jsonLine{Tenant: it.Tenant}
	switch {
	case it.Finding != nil:
		f, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(it.Finding)
		if err != nil {
			return nil, false
		}
		line.Kind, line.Finding = "finding", f
	case it.Story != nil:
		line.Kind, line.Story = "story", it.Story
	case it.Invalid != nil:
		line.Kind, line.Ingest, line.Reason, line.EventID = "invalid_record", it.Invalid.Ingest, it.Invalid.Reason, it.Invalid.EventID
	default:
		return nil, false
	}
	b, err := json.Marshal(line)
	return b, err == nil
}

// WriterSink writes one JSON document per line to w (stdout or a file).
type WriterSink struct {
	mu     sync.Mutex
	w      io.Writer
	format Format
	filter Filter
	close  func() error
	drops  drops
}

// WriterConfig configures a WriterSink.
type WriterConfig struct {
	Name          string // for the metric's sink attribute
	Format        Format // default JSON
	Filter        Filter
	Close         func() error // called by Close when not nil (a file's Close)
	MeterProvider metric.MeterProvider
}

// NewWriterSink returns a sink writing items to w as JSON lines. Failed
// writes are counted as drops.
func NewWriterSink(w io.Writer, cfg WriterConfig) *WriterSink {
	if cfg.Format == nil {
		cfg.Format = JSON
	}
	return &WriterSink{w: w, format: cfg.Format, filter: cfg.Filter, close: cfg.Close, drops: newDrops(cfg.MeterProvider, cfg.Name)}
}

// OpenFileSink returns a sink appending items as JSON lines to the file at
// path, created (mode 0640) if absent; Close closes the file.
func OpenFileSink(path string, cfg WriterConfig) (*WriterSink, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	cfg.Close = f.Close
	return NewWriterSink(f, cfg), nil
}

// Send implements Sink.
func (s *WriterSink) Send(it Item) {
	if !s.filter.pass(it) {
		return
	}
	doc, ok := s.format(it)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.Write(append(doc, '\n')); err != nil {
		s.drops.add(DropWrite, 1)
	}
}

// Close implements Sink.
func (s *WriterSink) Close(context.Context) error {
	if s.close == nil {
		return nil
	}
	return s.close()
}
