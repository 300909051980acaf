package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestReadHeapCounters: the heap counters come from the Go collector's
// lines of a Prometheus exposition, and an exposition without them is an
// error, not a zero that would read as "no allocations".
func TestReadHeapCounters(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       heapCounters
		wantErr    string
	}{
		{
			name: "both counters",
			body: "# HELP go_memstats_mallocs_total Total number of heap objects allocated.\n" +
				"go_memstats_mallocs_total 1.234e+06\ngo_memstats_alloc_bytes_total 5.5e+08\ngo_goroutines 12\n",
			want: heapCounters{mallocs: 1.234e6, bytes: 5.5e8},
		},
		{name: "missing", body: "go_goroutines 12\n", wantErr: "lacks"},
		{name: "garbled", body: "go_memstats_mallocs_total x\ngo_memstats_alloc_bytes_total 1\n", wantErr: "go_memstats_mallocs_total"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			got, err := readHeapCounters(context.Background(), strings.TrimPrefix(srv.URL, "http://"))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}
