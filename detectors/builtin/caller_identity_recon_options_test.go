package builtin_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/config"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
)

// TestCallerIdentityReconEscalationWindowRemoved: escalation_window, which
// once timed an escalation on access-key-new-location's order-dependent
// mark, is removed. Any value of it, the old default included, is a
// precise error naming the replacement (habit_period), from the detector
// and from a configuration file; without it the detector builds.
func TestCallerIdentityReconEscalationWindowRemoved(t *testing.T) {
	for _, v := range []string{"1h", "0s", "90m"} {
		_, err := builtin.NewCallerIdentityRecon(options("escalation_window: " + v))
		var oe *detectors.OptionError
		if !errors.As(err, &oe) || oe.Key != "escalation_window" || !strings.Contains(oe.Reason, "habit_period") ||
			!strings.Contains(oe.Reason, "removed") {
			t.Errorf("escalation_window: %s: rule: a removed option is an error naming its replacement; got %v", v, err)
		}
	}
	if _, err := builtin.NewCallerIdentityRecon(options("habit_period: 240h")); err != nil {
		t.Errorf("without escalation_window: %v", err)
	}
	_, err := config.ParseAndBuild([]byte("detectors:\n  caller-identity-recon:\n    escalation_window: 1h\n"), builtin.Specs())
	if err == nil || !strings.Contains(err.Error(), "detectors.caller-identity-recon") ||
		!strings.Contains(err.Error(), "escalation_window") || !strings.Contains(err.Error(), "habit_period") {
		t.Errorf("config file: rule: the error names the key and its replacement; got %v", err)
	}
	if _, err := config.ParseAndBuild([]byte("detectors:\n  caller-identity-recon:\n    habit_period: 240h\n"), builtin.Specs()); err != nil {
		t.Errorf("config file without escalation_window: %v", err)
	}
}
