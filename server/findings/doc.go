// Package findings carries the findings the engine raises out of the scoring
// path, so they leave the service even when the record came from a shipper
// that cannot read verdicts (Fluent Bit's or the Collector's OTLP exporter,
// Vector): to Watch callers on every replica, and to the configured sinks.
//
// The server hands each scored batch's findings to a Dispatcher, which never
// blocks scoring: it queues them (bounded; drops are counted) and one
// goroutine publishes them on a Bus and passes them to every Sink.
//
// A Bus fans findings out to the Hub of every replica: RedisBus through Redis
// PUBLISH/PSUBSCRIBE when replicas share Redis; without a Bus the dispatcher
// delivers to its own Hub in-process (one replica, embedded store). A Hub hands them to the Watch calls of its
// replica. Sinks are per replica: each replica sends the findings it raised,
// so nothing is sent twice.
package findings
