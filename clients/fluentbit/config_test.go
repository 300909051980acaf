package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/iamsentry/iamsentry/clients/fluentbit/internal/plugin"
)

type fluentBitConfig struct {
	Plugins  []string `yaml:"plugins"`
	Pipeline struct {
		Inputs  []map[string]string `yaml:"inputs"`
		Outputs []map[string]string `yaml:"outputs"`
	} `yaml:"pipeline"`
}

func load(t *testing.T, path string) fluentBitConfig {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c fluentBitConfig
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("%s is not valid YAML for Fluent Bit: %v", path, err)
	}
	return c
}

func outputSection(t *testing.T, c fluentBitConfig, name string) map[string]string {
	t.Helper()
	for _, o := range c.Pipeline.Outputs {
		if o["name"] == name {
			return o
		}
	}
	t.Fatalf("no %s output", name)
	return nil
}

// Keys Fluent Bit's core handles for every output.
var coreKeys = []string{"name", "match", "match_regex", "alias", "workers", "retry_limit", "log_level"}

func TestExampleConfigMatchesPlugin(t *testing.T) {
	c := load(t, "fluent-bit.yaml")
	if len(c.Plugins) != 1 || !strings.HasSuffix(c.Plugins[0], "iamsentry-fluentbit.so") {
		t.Errorf("plugins %v: want the iamsentry-fluentbit.so that make fluentbit-plugin builds", c.Plugins)
	}
	out := outputSection(t, c, "iamsentry")
	for k := range out {
		if !slices.Contains(plugin.Keys, k) && !slices.Contains(coreKeys, k) {
			t.Errorf("key %q is neither a plugin key %v nor a Fluent Bit core key", k, plugin.Keys)
		}
	}
	cfg, err := plugin.ParseConfig(func(k string) string { return out[k] })
	if err != nil {
		t.Fatalf("the example's values do not parse: %v", err)
	}
	if !strings.HasPrefix(cfg.Address, "dns:///") || cfg.CAFile == "" || cfg.TokenFile == "" || cfg.FindingsFile == "" || cfg.BatchSize != 500 {
		t.Errorf("parsed %+v: want a dns:/// address, TLS, a token file, a findings file and batch_size 500", cfg)
	}
	if out["workers"] == "" || out["workers"] == "1" {
		t.Errorf("the example should show Workers > 1, which the plugin supports")
	}
}

func TestParseConfigRejectsBadValues(t *testing.T) {
	bad := map[string]string{"batch_size": "0", "window": "x", "timeout": "soon", "tls_enable": "maybe", "token": "a", "token_file": "b"}
	_, err := plugin.ParseConfig(func(k string) string { return bad[k] })
	if err == nil {
		t.Fatal("bad values accepted")
	}
	for _, k := range []string{"batch_size", "window", "timeout", "tls_enable", "token_file"} {
		if !strings.Contains(err.Error(), k) {
			t.Errorf("error %q does not name %s", err, k)
		}
	}
	cfg, err := plugin.ParseConfig(func(string) string { return "" })
	if err != nil || cfg.Address != "localhost:50051" || cfg.BatchSize != 500 {
		t.Errorf("defaults: %+v, %v", cfg, err)
	}
}

func TestOTLPExampleTargetsTheGRPCPort(t *testing.T) {
	out := outputSection(t, load(t, "fluent-bit-otlp.yaml"), "opentelemetry")
	for k, want := range map[string]string{
		"port":          "50051",
		"grpc":          "on",
		"grpc_logs_uri": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
		"tls":           "on",
	} {
		if out[k] != want {
			t.Errorf("%s: %q, want %q", k, out[k], want)
		}
	}
	if out["host"] == "" || !strings.Contains(out["header"], "Bearer") {
		t.Errorf("want a host and an Authorization bearer header: %v", out)
	}
	// Fluent Bit's first reuse of a pooled HTTP/2 connection sends a fresh
	// connection preface, which grpc-go reads as a frame and refuses
	// ("http2: frame too large"): every flush after the first would fail.
	if out["net.keepalive"] != "off" {
		t.Errorf("net.keepalive: %q, want off: Fluent Bit's reuse of a pooled connection sends a new HTTP/2 preface that grpc-go rejects (frame too large)", out["net.keepalive"])
	}
}
