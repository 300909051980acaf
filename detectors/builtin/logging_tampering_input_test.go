package builtin_test

import (
	"testing"

	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// TestLoggingTamperingOddParameters: request parameters of an unexpected
// shape (generated) never break scoring, and a call that reads them to
// decide says so in the finding when it cannot.
func TestLoggingTamperingOddParameters(t *testing.T) {
	calls := [][2]string{
		{"cloudtrail.amazonaws.com", "StopLogging"}, {"cloudtrail.amazonaws.com", "UpdateTrail"},
		{"cloudtrail.amazonaws.com", "PutEventSelectors"}, {"cloudtrail.amazonaws.com", "PutInsightSelectors"},
		{"cloudtrail.amazonaws.com", "CreateTrail"}, {"guardduty.amazonaws.com", "UpdateDetector"},
		{"guardduty.amazonaws.com", "CreateFilter"}, {"monitoring.amazonaws.com", "DeleteAlarms"},
		{"logs.amazonaws.com", "DeleteMetricFilter"}, {"ec2.amazonaws.com", "DeleteFlowLogs"},
	}
	odd := []any{"a string", 42.0, []any{1.0, "x"}, map[string]any{
		"name": 7.0, "eventSelectors": "all", "advancedEventSelectors": map[string]any{}, "insightSelectors": "x",
		"enable": "false", "dataSources": []any{"x"}, "features": "x", "action": []any{}, "alarmNames": "CIS-alarm",
		"filterName": map[string]any{}, "isMultiRegionTrail": "no", "DeleteFlowLogsRequest": "x",
	}}
	// Unreadable parameters fail closed (raise) where the call is tampering
	// unless they say otherwise, and open where it is only tampering when
	// they say so (an archive filter, a security metric filter) or never.
	quiet := map[string]bool{"CreateTrail": true, "CreateFilter": true, "DeleteMetricFilter": true}
	for _, c := range calls {
		for _, p := range odd {
			rec := dt.Base(c[0], c[1], t0).With("requestParameters", p).With("responseElements", p)
			fs := dt.Only(builtin.LoggingTamperingID, dt.New(t, newTamper(t)).Score(rec))
			if want := !quiet[c[1]]; (len(fs) > 0) != want {
				t.Errorf("%s with parameters %v: raised %v, want %v", c[1], p, len(fs) > 0, want)
			}
			for _, f := range fs {
				if f.Explanation == "" || f.Evidence["change"] == "" {
					t.Errorf("%s %v: finding without explanation or change", c[1], p)
				}
			}
		}
	}
}
