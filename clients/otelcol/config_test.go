// Package otelcol_test checks the example OpenTelemetry Collector
// configuration that ships CloudTrail to iamsentry.
package otelcol_test

import (
	"bytes"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/iamsentry/iamsentry/server"
)

type exporter struct {
	Endpoint     string `yaml:"endpoint"`
	BalancerName string `yaml:"balancer_name"`
	Compression  string `yaml:"compression"`
	TLS          struct {
		Insecure bool   `yaml:"insecure"`
		CAFile   string `yaml:"ca_file"`
	} `yaml:"tls"`
	Auth struct {
		Authenticator string `yaml:"authenticator"`
	} `yaml:"auth"`
	Keepalive struct {
		Time                string `yaml:"time"`
		PermitWithoutStream bool   `yaml:"permit_without_stream"`
	} `yaml:"keepalive"`
	RetryOnFailure struct {
		Enabled bool `yaml:"enabled"`
	} `yaml:"retry_on_failure"`
}

type collectorConfig struct {
	Extensions map[string]any      `yaml:"extensions"`
	Receivers  map[string]any      `yaml:"receivers"`
	Processors map[string]any      `yaml:"processors"`
	Exporters  map[string]exporter `yaml:"exporters"`
	Service    struct {
		Extensions []string `yaml:"extensions"`
		Pipelines  map[string]struct {
			Receivers  []string `yaml:"receivers"`
			Processors []string `yaml:"processors"`
			Exporters  []string `yaml:"exporters"`
		} `yaml:"pipelines"`
	} `yaml:"service"`
}

// TestExampleConfig checks what makes the example reach iamsentry: an otlp
// (gRPC) exporter on iamsentry's port, over TLS with a bearer token, gzip,
// keepalive pings no more often than iamsentry permits, retries on, and a
// logs pipeline that uses it. (make interop runs the file with a real
// Collector.)
func TestExampleConfig(t *testing.T) {
	data, err := os.ReadFile("config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg collectorConfig
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&cfg); err != nil {
		t.Fatalf("config.yaml: %v", err)
	}
	exp, ok := cfg.Exporters["otlp/iamsentry"]
	if !ok {
		t.Fatalf("no otlp/iamsentry exporter in %v", cfg.Exporters)
	}
	host, port, err := net.SplitHostPort(strings.TrimPrefix(exp.Endpoint, "dns:///"))
	if err != nil || host == "" || port != "50051" {
		t.Errorf("endpoint %q: want [dns:///]host:50051", exp.Endpoint)
	}
	if strings.HasPrefix(exp.Endpoint, "dns:///") && exp.BalancerName != "round_robin" {
		t.Errorf("a dns:/// endpoint without round_robin sends everything to one replica")
	}
	if exp.TLS.Insecure || exp.TLS.CAFile == "" {
		t.Errorf("tls %+v: want ca_file and not insecure; the bearer token must not travel in clear", exp.TLS)
	}
	if a := exp.Auth.Authenticator; !strings.HasPrefix(a, "bearertokenauth") {
		t.Errorf("auth.authenticator %q: want a bearertokenauth extension", a)
	} else if _, ok := cfg.Extensions[a]; !ok || !slices.Contains(cfg.Service.Extensions, a) {
		t.Errorf("authenticator %q must be defined under extensions and enabled in service.extensions", a)
	}
	if exp.Compression != "gzip" {
		t.Errorf("compression %q, want gzip", exp.Compression)
	}
	ping, err := time.ParseDuration(exp.Keepalive.Time)
	if err != nil || ping < server.DefaultKeepaliveMinTime {
		t.Errorf("keepalive.time %q: pings more often than iamsentry's %v minimum get the connection closed (too_many_pings)",
			exp.Keepalive.Time, server.DefaultKeepaliveMinTime)
	}
	if !exp.RetryOnFailure.Enabled {
		t.Errorf("retry_on_failure off: a state outage (UNAVAILABLE) would lose records")
	}
	var used bool
	for name, p := range cfg.Service.Pipelines {
		if !slices.Contains(p.Exporters, "otlp/iamsentry") {
			continue
		}
		used = true
		if !strings.HasPrefix(name, "logs") {
			t.Errorf("pipeline %q exports to iamsentry; only logs pipelines carry CloudTrail", name)
		}
		for _, r := range p.Receivers {
			if _, ok := cfg.Receivers[r]; !ok {
				t.Errorf("pipeline %q uses undefined receiver %q", name, r)
			}
		}
		for _, pr := range p.Processors {
			if _, ok := cfg.Processors[pr]; !ok {
				t.Errorf("pipeline %q uses undefined processor %q", name, pr)
			}
		}
	}
	if !used {
		t.Errorf("no pipeline uses the otlp/iamsentry exporter")
	}
}
