package server

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	vectorpb "github.com/iamsentry/iamsentry/gen/vector"
)

// vectorService implements vector.Vector, the protocol of Vector's `vector`
// sink, so a Vector pipeline can ship CloudTrail records to iamsentry.
//
// A log event is one CloudTrail record: its fields (or, with log namespacing,
// its value) mirror the record, or hold the record's JSON in a message or log
// field (Vector's file and socket sources). Vector retries a batch on
// UNAVAILABLE, which is what a state outage returns; a bad record never
// fails the batch (Vector would retry it forever): it is counted, logged and
// sent to the sinks as an invalid record, and the batch succeeds.
type vectorService struct {
	vectorpb.UnimplementedVectorServer
	ingest *ingester
	health *health.Server
}

// PushEvents implements vector.Vector.
func (s *vectorService) PushEvents(ctx context.Context, req *vectorpb.PushEventsRequest) (*vectorpb.PushEventsResponse, error) {
	var cands []candidate
	for _, ev := range req.GetEvents() {
		if err := brokenRecord(ev); err != nil {
			cands = append(cands, candidate{err: err})
			continue
		}
		log := ev.GetLog()
		if log == nil {
			continue // a metric or trace event: not ours to score
		}
		b, err := vectorRecord(log)
		cands = append(cands, candidate{json: b, err: err})
	}
	if len(cands) > 0 {
		if _, err := s.ingest.score(ctx, "vector", cands); err != nil {
			return nil, err
		}
	}
	return &vectorpb.PushEventsResponse{}, nil
}

// HealthCheck implements vector.Vector: SERVING exactly when gRPC health
// says the detection service is (the state store answers and the server is
// not shutting down).
func (s *vectorService) HealthCheck(ctx context.Context, _ *vectorpb.HealthCheckRequest) (*vectorpb.HealthCheckResponse, error) {
	resp, err := s.health.Check(ctx, &healthpb.HealthCheckRequest{Service: ServiceName})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return &vectorpb.HealthCheckResponse{Status: vectorpb.ServingStatus_NOT_SERVING}, nil
	}
	return &vectorpb.HealthCheckResponse{Status: vectorpb.ServingStatus_SERVING}, nil
}

// vectorRecord returns the CloudTrail JSON a log event carries.
func vectorRecord(log *vectorpb.Log) ([]byte, error) {
	if v := log.GetValue(); v != nil {
		switch k := v.GetKind().(type) {
		case *vectorpb.Value_RawBytes:
			return k.RawBytes, nil
		case *vectorpb.Value_Map:
			return vectorObject(k.Map.GetFields())
		default:
			return nil, kindError("log event value", vectorKind(v))
		}
	}
	if len(log.GetFields()) == 0 {
		return nil, fmt.Errorf("log event has neither fields nor value; want the CloudTrail record in it")
	}
	return vectorObject(log.GetFields())
}

// vectorObject renders an event's top-level map: the record itself when it
// has CloudTrail's keys, else the JSON string in its message or log field.
func vectorObject(fields map[string]*vectorpb.Value) ([]byte, error) {
	isRecord := slices.ContainsFunc(recordKeys, func(k string) bool { _, ok := fields[k]; return ok })
	if !isRecord {
		for _, w := range wrapperKeys {
			if raw, ok := fields[w].GetKind().(*vectorpb.Value_RawBytes); ok {
				return raw.RawBytes, nil
			}
		}
	}
	return appendVectorMap(nil, fields)
}

func vectorKind(v *vectorpb.Value) string {
	switch v.GetKind().(type) {
	case *vectorpb.Value_Timestamp:
		return "a timestamp"
	case *vectorpb.Value_Integer:
		return "an integer"
	case *vectorpb.Value_Float:
		return "a float"
	case *vectorpb.Value_Boolean:
		return "a boolean"
	case *vectorpb.Value_Array:
		return "an array"
	case *vectorpb.Value_Null:
		return "null"
	}
	return "empty"
}

// appendVectorValue appends v as JSON: raw bytes are strings (Vector's
// strings), timestamps RFC 3339 in UTC as CloudTrail writes them, maps
// objects with sorted keys (Vector's maps are ordered by key too).
func appendVectorValue(b []byte, v *vectorpb.Value) ([]byte, error) {
	var err error
	switch k := v.GetKind().(type) {
	case *vectorpb.Value_RawBytes:
		return appendJSONString(b, string(k.RawBytes)), nil
	case *vectorpb.Value_Timestamp:
		return appendJSONString(b, k.Timestamp.AsTime().UTC().Format(time.RFC3339Nano)), nil
	case *vectorpb.Value_Integer:
		return strconv.AppendInt(b, k.Integer, 10), nil
	case *vectorpb.Value_Float:
		return appendJSONFloat(b, k.Float)
	case *vectorpb.Value_Boolean:
		return strconv.AppendBool(b, k.Boolean), nil
	case *vectorpb.Value_Map:
		return appendVectorMap(b, k.Map.GetFields())
	case *vectorpb.Value_Array:
		b = append(b, '[')
		for i, item := range k.Array.GetItems() {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendVectorValue(b, item); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	default: // null, or unset
		return append(b, "null"...), nil
	}
}

func appendVectorMap(b []byte, fields map[string]*vectorpb.Value) ([]byte, error) {
	var err error
	b = append(b, '{')
	for i, key := range slices.Sorted(maps.Keys(fields)) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendJSONString(b, key), ':')
		if b, err = appendVectorValue(b, fields[key]); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}
