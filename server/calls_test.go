package server

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"reflect"
	"testing"
	"testing/slogtest"
)

// request is a context as authenticate leaves it for a call's records.
var request = withLogAttrs(context.Background(),
	slog.String("method", "/iamsentry.v1.DetectionService/Score"), slog.String("peer", "192.0.2.1:5000"), slog.String("tenant", "acme"))

// requestKeys are the attributes request adds, with their values.
var requestKeys = map[string]any{"method": "/iamsentry.v1.DetectionService/Score", "peer": "192.0.2.1:5000", "tenant": "acme"}

// TestContextHandlerSlogtest runs the standard library's handler test kit
// on contextHandler over the JSON handler, for records logged without a
// request in their context and with one; with one, the request's
// attributes must also sit at the top level of every record.
func TestContextHandlerSlogtest(t *testing.T) {
	for name, ctx := range map[string]context.Context{"no request": context.Background(), "request": request} {
		t.Run(name, func(t *testing.T) {
			var buf *bytes.Buffer
			slogtest.Run(t,
				func(*testing.T) slog.Handler {
					buf = new(bytes.Buffer)
					return inContext{contextHandler{slog.NewJSONHandler(buf, nil)}, ctx}
				},
				func(t *testing.T) map[string]any {
					m := decodeRecord(t, buf)
					if ctx == request {
						checkTopLevel(t, m)
					}
					return m
				})
		})
	}
}

// TestRequestAttrsAtTopLevel logs with a request in the context through
// loggers with groups open: the request's attributes stay at the top level
// of the record, the logger's and the record's own go where they belong.
func TestRequestAttrsAtTopLevel(t *testing.T) {
	for name, tc := range map[string]struct {
		logger func(*slog.Logger) *slog.Logger
		want   map[string]any // less time, level, msg and the request's
	}{
		"no group": {
			func(l *slog.Logger) *slog.Logger { return l.With("a", 1) },
			map[string]any{"a": 1.0, "c": 3.0},
		},
		"group": {
			func(l *slog.Logger) *slog.Logger { return l.WithGroup("g") },
			map[string]any{"g": map[string]any{"c": 3.0}},
		},
		"attrs, group, attrs, group": {
			func(l *slog.Logger) *slog.Logger { return l.With("a", 1).WithGroup("g").With("b", 2).WithGroup("h") },
			map[string]any{"a": 1.0, "g": map[string]any{"b": 2.0, "h": map[string]any{"c": 3.0}}},
		},
		"empty group name": {
			func(l *slog.Logger) *slog.Logger { return l.WithGroup("").With("a", 1) },
			map[string]any{"a": 1.0, "c": 3.0},
		},
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			tc.logger(slog.New(contextHandler{slog.NewJSONHandler(&buf, nil)})).InfoContext(request, "m", "c", 3)
			got := decodeRecord(t, &buf)
			checkTopLevel(t, got)
			for _, k := range []string{slog.TimeKey, slog.LevelKey, slog.MessageKey} {
				delete(got, k)
			}
			maps.DeleteFunc(got, func(k string, _ any) bool { return requestKeys[k] != nil })
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("record = %v, want %v beside the request's attributes", got, tc.want)
			}
		})
	}
}

// checkTopLevel fails unless the request's attributes are at the top level
// of record m, and in none of its groups.
func checkTopLevel(t *testing.T, m map[string]any) {
	t.Helper()
	for k, v := range requestKeys {
		if m[k] != v {
			t.Errorf("top-level %s = %v, want %v (record %v)", k, m[k], v, m)
		}
	}
	var inGroups func(path string, m map[string]any)
	inGroups = func(path string, m map[string]any) {
		for k, v := range m {
			if group, ok := v.(map[string]any); ok {
				for rk := range requestKeys {
					if _, nested := group[rk]; nested {
						t.Errorf("request attribute %s nested in group %s%s", rk, path, k)
					}
				}
				inGroups(path+k+".", group)
			}
		}
	}
	inGroups("", m)
}

func decodeRecord(t *testing.T, buf *bytes.Buffer) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("handler wrote %q: %v", buf, err)
	}
	return m
}

// inContext hands every record to its handler with ctx, as a server call
// logging with its context does; slogtest logs with context.Background.
type inContext struct {
	slog.Handler
	ctx context.Context
}

func (h inContext) Handle(_ context.Context, r slog.Record) error { return h.Handler.Handle(h.ctx, r) }

func (h inContext) WithAttrs(attrs []slog.Attr) slog.Handler {
	return inContext{h.Handler.WithAttrs(attrs), h.ctx}
}

func (h inContext) WithGroup(name string) slog.Handler {
	return inContext{h.Handler.WithGroup(name), h.ctx}
}
