package config_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/config"
	"github.com/iamsentry/iamsentry/detectors"
)

func registry(t *testing.T) *detectors.Registry {
	t.Helper()
	reg, err := detectors.NewRegistry(detectors.Defaults()...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func TestParseValid(t *testing.T) {
	reg := registry(t)
	for name, doc := range map[string]string{
		"empty":    "",
		"comments": "# nothing set\n",
		"disable":  "detectors:\n  admin-policy-attached:\n    enabled: false\n",
		"enable":   "detectors:\n  admin-policy-attached:\n    enabled: true\n",
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(doc), reg)
			if err != nil {
				t.Fatalf("valid config rejected: %v", err)
			}
			applied, err := cfg.Apply(reg)
			if err != nil {
				t.Fatal(err)
			}
			wantEnabled := name != "disable"
			got := slices.ContainsFunc(applied.Enabled(), func(d detectors.Detector) bool {
				return d.Info().ID == detectors.AdminPolicyAttachedID
			})
			if got != wantEnabled {
				t.Errorf("admin-policy-attached enabled = %v, want %v", got, wantEnabled)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	reg := registry(t)
	tests := []struct {
		name string
		doc  string
		want []string // every fragment must appear in the one error
	}{
		{"unknown top-level key", "detector:\n  x: 1\n", []string{"field detector not found"}},
		{"unknown detector", "detectors:\n  no-such-detector:\n    enabled: true\n", []string{"detectors.no-such-detector: unknown detector", "admin-policy-attached"}},
		{"unknown detector key", "detectors:\n  admin-policy-attached:\n    enbled: true\n", []string{"field enbled not found"}},
		{"bad value", "detectors:\n  admin-policy-attached:\n    enabled: maybe\n", []string{"line 3", "maybe", "bool"}},
		{"every problem at once", "detectors:\n  admin-policy-attached:\n    enabled: maybe\n    colour: red\n", []string{"maybe", "field colour not found"}},
		{"not YAML", "detectors: [\n", []string{"yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tt.doc), reg)
			if err == nil {
				t.Fatalf("config accepted; want an error containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestLoadNamesFile(t *testing.T) {
	reg := registry(t)
	path := filepath.Join(t.TempDir(), "iamsentry.yaml")
	if err := os.WriteFile(path, []byte("bogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(path, reg); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v must name the file", err)
	}
	if _, err := config.Load(filepath.Join(t.TempDir(), "missing.yaml"), reg); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}
