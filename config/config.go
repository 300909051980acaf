// Package config reads the iamsentry configuration file (YAML) shared by
// serve and scan. Reading is strict: an unknown key or a bad value is an
// error naming the key and the reason, and every problem in a file is
// reported together, not only the first.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/iamsentry/iamsentry/detectors"
)

// Config is the whole configuration file. The zero value is the default
// configuration: every built-in detector enabled with its defaults.
type Config struct {
	// Detectors holds per-detector settings by detector id.
	Detectors map[string]Detector `yaml:"detectors"`
}

// Detector is the settings of one detector.
type Detector struct {
	// Enabled switches the detector; absent means enabled.
	Enabled *bool `yaml:"enabled"`
}

// Load reads and validates the file at path against the registry's
// detector ids.
func Load(path string, reg *detectors.Registry) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := Parse(data, reg)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes and validates YAML. An empty document is the default
// configuration.
func Parse(data []byte, reg *detectors.Registry) (*Config, error) {
	cfg := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlErrors(err)
	}
	if err := cfg.Validate(reg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// yamlErrors splits a yaml.TypeError (which gathers every field problem)
// into one joined error per problem.
func yamlErrors(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	errs := make([]error, len(te.Errors))
	for i, e := range te.Errors {
		errs[i] = errors.New(strings.TrimPrefix(e, "yaml: "))
	}
	return errors.Join(errs...)
}

// Validate checks values the YAML types cannot, reporting every problem.
func (c *Config) Validate(reg *detectors.Registry) error {
	var errs []error
	known := reg.IDs()
	for id := range c.Detectors {
		if !slices.Contains(known, id) {
			errs = append(errs, fmt.Errorf("detectors.%s: unknown detector (known: %s)", id, strings.Join(known, ", ")))
		}
	}
	return errors.Join(errs...)
}

// Apply returns reg with the detectors switched as the file says.
func (c *Config) Apply(reg *detectors.Registry) (*detectors.Registry, error) {
	enabled := map[string]bool{}
	for id, d := range c.Detectors {
		if d.Enabled != nil {
			enabled[id] = *d.Enabled
		}
	}
	return reg.WithEnabled(enabled)
}
