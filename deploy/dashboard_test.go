package deploy_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// iamsentryMetrics are the Prometheus names the server exports on /metrics
// (issue 6, the fixed interface); histograms are listed by base name.
var iamsentryMetrics = []string{
	"iamsentry_records_received_total",
	"iamsentry_verdicts_total",
	"iamsentry_findings_total",
	"iamsentry_findings_suppressed_total",
	"iamsentry_records_duplicate_total",
	"iamsentry_records_late_total",
	"iamsentry_records_invalid_total",
	"iamsentry_batch_size",
	"iamsentry_score_duration_seconds",
	"iamsentry_state_duration_seconds",
	"iamsentry_state_errors_total",
	"iamsentry_findings_dropped_total",
}

// otelgrpcMetrics are otelgrpc v0.72.0's server metrics as Prometheus names:
// rpc.server.call.duration (s) by default, rpc.server.duration (ms) with
// OTEL_SEMCONV_STABILITY_OPT_IN=rpc/dup.
var otelgrpcMetrics = []string{"rpc_server_call_duration_seconds", "rpc_server_duration_milliseconds"}

type panel struct {
	Title   string  `json:"title"`
	Type    string  `json:"type"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

// promQLNonMetric are the PromQL words that are not metric names.
var promQLNonMetric = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"and": true, "or": true, "unless": true, "bool": true, "offset": true,
}

var (
	promQLStrings  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promQLMatchers = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]|\b(?:by|without|on|ignoring)\s*\([^)]*\)`)
	promQLIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*\s*\(?`)
)

// metricNames returns the metric names an expression selects: identifiers
// that are not functions, keywords, label names or numbers.
func metricNames(expr string) []string {
	expr = promQLStrings.ReplaceAllString(expr, `""`)
	expr = promQLMatchers.ReplaceAllString(expr, " ")
	var names []string
	for _, id := range promQLIdent.FindAllString(expr, -1) {
		if strings.HasSuffix(id, "(") || promQLNonMetric[strings.TrimSpace(id)] {
			continue
		}
		names = append(names, strings.TrimSpace(id))
	}
	return names
}

func known(name string) bool {
	for _, suffix := range []string{"_bucket", "_count", "_sum", ""} {
		base, ok := strings.CutSuffix(name, suffix)
		if ok && (slices.Contains(iamsentryMetrics, base) || slices.Contains(otelgrpcMetrics, base)) {
			return true
		}
	}
	return false
}

// TestDashboard checks the Grafana dashboard parses, that every metric it
// queries (panels and variables) is one the server exports, and that it
// shows every iamsentry metric.
func TestDashboard(t *testing.T) {
	data, err := os.ReadFile("grafana/iamsentry-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title      string  `json:"title"`
		UID        string  `json:"uid"`
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if d.Title == "" || d.UID == "" {
		t.Error("dashboard: want a title and a uid")
	}
	var exprs []string
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q queries nothing", p.Title)
			}
			for _, tg := range p.Targets {
				exprs = append(exprs, tg.Expr)
			}
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if inner, ok := strings.CutPrefix(v.Definition, "label_values("); ok {
			metric, _, _ := strings.Cut(inner, ",")
			exprs = append(exprs, metric)
		}
	}
	seen := map[string]bool{}
	for _, e := range exprs {
		names := metricNames(e)
		if len(names) == 0 {
			t.Errorf("query %q selects no metric", e)
		}
		for _, n := range names {
			if !known(n) {
				t.Errorf("query %q: %s is not a metric iamsentry exports", e, n)
			}
			seen[strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_count")] = true
		}
	}
	for _, m := range iamsentryMetrics {
		if !seen[m] {
			t.Errorf("no panel shows %s", m)
		}
	}
}

func TestMetricNames(t *testing.T) {
	got := metricNames(`histogram_quantile(0.99, sum by (le, rpc_method) (rate(rpc_server_call_duration_seconds_bucket{job=~"$job",a="b{c}"}[$__rate_interval]))) / on(x) foo_total`)
	if !slices.Equal(got, []string{"rpc_server_call_duration_seconds_bucket", "foo_total"}) {
		t.Errorf("metricNames: %q", got)
	}
}
