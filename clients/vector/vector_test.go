// Package vector_test checks the example Vector configuration that ships
// CloudTrail to iamsentry.
package vector_test

import (
	"bytes"
	"net"
	"os"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"
)

type vectorConfig struct {
	Sources    map[string]map[string]any `yaml:"sources"`
	Transforms map[string]struct {
		Type   string   `yaml:"type"`
		Inputs []string `yaml:"inputs"`
		Source string   `yaml:"source"`
	} `yaml:"transforms"`
	Sinks map[string]struct {
		Type        string   `yaml:"type"`
		Inputs      []string `yaml:"inputs"`
		Address     string   `yaml:"address"`
		Version     string   `yaml:"version"`
		Compression bool     `yaml:"compression"`
		Batch       struct {
			MaxEvents int `yaml:"max_events"`
		} `yaml:"batch"`
	} `yaml:"sinks"`
}

// TestExampleConfig checks what makes the example reach iamsentry: a
// `vector` sink (the only gRPC client Vector has) with a host:port address
// on iamsentry's port, protocol version 2, gzip, fed by a transform that
// splits CloudTrail files into records.
func TestExampleConfig(t *testing.T) {
	data, err := os.ReadFile("vector.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg vectorConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("vector.yaml: %v", err)
	}
	sink, ok := cfg.Sinks["iamsentry"]
	if !ok {
		t.Fatalf("no iamsentry sink in %v", cfg.Sinks)
	}
	if sink.Type != "vector" {
		t.Errorf("sink type %q; iamsentry implements vector.Vector, so the sink must be type vector", sink.Type)
	}
	host, port, err := net.SplitHostPort(sink.Address)
	if err != nil || host == "" || port != "50051" {
		t.Errorf("address %q: want host:50051 (the vector sink takes host:port, no scheme)", sink.Address)
	}
	if sink.Version != "2" {
		t.Errorf("version %q; the gRPC protocol is version 2", sink.Version)
	}
	if !sink.Compression {
		t.Errorf("compression off; shippers should gzip, and iamsentry decompresses")
	}
	if sink.Batch.MaxEvents <= 0 || sink.Batch.MaxEvents > 10_000 {
		t.Errorf("batch.max_events %d", sink.Batch.MaxEvents)
	}
	for _, in := range sink.Inputs {
		tr, ok := cfg.Transforms[in]
		if !ok {
			t.Errorf("sink input %q is no transform: records must be split out of CloudTrail files first", in)
			continue
		}
		if tr.Type != "remap" || !slices.ContainsFunc(tr.Inputs, func(s string) bool { _, ok := cfg.Sources[s]; return ok }) {
			t.Errorf("transform %q: type %q from %v; want a remap fed by a source", in, tr.Type, tr.Inputs)
		}
	}
}
